"""Text from the data made safe in HTML, and the exact values shown in tooltips."""

from __future__ import annotations

import html
import re

from ..durations import NS_PER_SECOND

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␀ ␛ …
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def text(value: object) -> str:
    """``value`` safe in HTML text and in quoted attributes.

    Markup characters are escaped, and characters HTML cannot carry (NUL,
    ESC, DEL, lone surrogates, ...) become visible symbols, so a user id
    holding ``<script>`` or ``\\x1b[31m`` shows as written and does nothing.
    Anything beyond ASCII is a character reference (``&#xe1;``): the page is
    ASCII, so a mailer that re-encodes its text cannot garble the names.
    """
    escaped = html.escape(_CONTROL.sub(_visible, str(value)), quote=True)
    return escaped.encode("ascii", "xmlcharrefreplace").decode("ascii")


def exact_duration(nanoseconds: int) -> str:
    """Every unit, then the nanoseconds: ``3d 4h 44m 0s (276,240,000,000,000 ns)``."""
    seconds, fraction = divmod(nanoseconds, NS_PER_SECOND)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    while parts and parts[0][0] == 0:
        parts.pop(0)
    second = f"{secs}.{fraction:09d}".rstrip("0") if fraction else str(secs)
    words = " ".join(f"{value}{unit}" for value, unit in parts)
    return f"{words} {second}s".lstrip() + f" ({nanoseconds:,} ns)"


def tooltip(tip: str) -> str:
    """A ``title`` tooltip attribute, or nothing when there is no tip."""
    return f' title="{text(tip)}"' if tip else ""


def coord(value: float) -> str:
    """A coordinate with at most one decimal: compact, and the same on every platform."""
    return f"{value:.1f}".removesuffix(".0")
