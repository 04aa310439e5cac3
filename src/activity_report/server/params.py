"""The HTTP query string, checked by one rule for every route that takes report parameters.

Names come from the parameter table (:data:`.openapi.HTTP_PARAMS`); a name
given twice is refused ("give it once") unless the table says it repeats.
The API, the view's page and its CSV download all read parameters here.

An organization or user id is taken as the command line takes it: any
text up to :data:`MAX_VALUE` characters but NUL (which no command line can
carry). It is only ever compared, as a bound SQL parameter or in Python,
never written into a query: a value that looks like SQL is a user id that
matches nobody.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote_to_bytes

from ..errors import InvalidValue, UnknownParameter
from .openapi import HTTP_PARAMS

MAX_FIELDS = 64  # parameters in one query string
MAX_VALUE = 256  # characters in one value

Values = dict[str, str | list[str]]


def from_query_string(raw: bytes) -> Values:
    """The query string, checked: known names, repeated only where allowed, UTF-8, short."""
    try:
        pairs = parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        name, value = _undecodable(raw)
        raise InvalidValue(name, value, "not valid UTF-8 once percent-decoded") from None
    except ValueError:
        raise InvalidValue("query", _shown(raw), f"more than {MAX_FIELDS} parameters") from None
    return checked(pairs)


def checked(pairs: Iterable[tuple[str, str]]) -> Values:
    """``(name, value)`` pairs as the parameters' values, by the rule of the query string."""
    params = {p.name: p for p in HTTP_PARAMS}
    values: Values = {}
    for name, value in pairs:
        param = params.get(name)
        if param is None:
            raise UnknownParameter(name[:MAX_VALUE], value[:40], list(params))
        if len(value) > MAX_VALUE:
            raise InvalidValue(name, value[:40] + "...", f"longer than {MAX_VALUE} characters")
        if _PLUS_AS_SPACE.get(name, _NEVER).search(value):
            raise InvalidValue(name, value, "a '+' in a URL's query is a space: write it %2B")
        if param.repeatable:
            if "\x00" in value:
                raise InvalidValue(name, value.replace("\x00", "\\0"), "no NUL character")
            listed = values.setdefault(name, [])
            assert isinstance(listed, list)
            listed.append(value)
        elif name in values:
            raise InvalidValue(name, value, "give it once")
        else:
            values[name] = value
    return values


#: A value whose offset lost its '+' to form decoding (``tz=+05:30``, ``start=...T09:00+02:00``).
_OFFSET = r"\d\d(:?\d\d)?$"
_PLUS_AS_SPACE = {
    "tz": re.compile(r"^ " + _OFFSET),
    "start": re.compile(r"T\d\d:\d\d(:\d\d(\.\d+)?)? " + _OFFSET),
    "end": re.compile(r"T\d\d:\d\d(:\d\d(\.\d+)?)? " + _OFFSET),
}
_NEVER = re.compile(r"(?!)")


def pairs_of(values: Values) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of ``values``, a repeated one once per value."""
    return [
        (name, item)
        for name, value in values.items()
        for item in (value if isinstance(value, list) else [value])
    ]


def _undecodable(raw: bytes) -> tuple[str, str]:
    """The parameter whose value is not UTF-8 once percent-decoded, and that value as sent
    (``query`` and the whole query string when it is a name that is not)."""
    for field in raw.split(b"&"):
        name, _, value = field.partition(b"=")
        try:
            shown = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            break
        try:
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return shown[:MAX_VALUE], _shown(value)
    return "query", _shown(raw)


def _shown(raw: bytes) -> str:
    text = raw.decode("ascii", errors="backslashreplace")
    return text if len(text) <= 60 else text[:60] + "..."
