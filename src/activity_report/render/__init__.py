"""One module per output format; each writes a Report to a text stream.

``table`` is for people at a terminal (rich); ``markdown`` for wikis and
e-mail; ``html`` for a browser or a mail (a chart, no script); ``json``
``ndjson`` and ``csv`` for programs. Only the table ever carries
ANSI codes, and only where ``--color`` allows.
"""

from __future__ import annotations

import importlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

from ..model import Report

DEFAULT_TOP = 10


class Format(StrEnum):
    table = "table"
    json = "json"
    ndjson = "ndjson"
    csv = "csv"
    markdown = "markdown"
    html = "html"


class ColorMode(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


Writer = Callable[[Report, TextIO], None]


@dataclass(frozen=True)
class FormatInfo:
    """What a front end needs to know of a format: its writer's module, extensions, type."""

    fmt: Format
    module: str  # the module under render/ whose write(report, out) writes it
    extensions: tuple[str, ...]  # the first is the one to give a new file
    content_type: str
    takes_top: bool = False  # its writer lists the --top most active users


# In the order -o's extensions are listed in messages.
FORMATS: tuple[FormatInfo, ...] = (
    FormatInfo(Format.json, "json", (".json",), "application/json"),
    FormatInfo(Format.ndjson, "ndjson", (".ndjson", ".jsonl"), "application/x-ndjson"),
    FormatInfo(Format.csv, "csv", (".csv",), "text/csv; charset=utf-8"),
    FormatInfo(
        Format.markdown, "markdown", (".md", ".markdown"), "text/markdown; charset=utf-8", True
    ),
    FormatInfo(Format.table, "table", (".txt",), "text/plain; charset=utf-8", True),
    FormatInfo(Format.html, "html", (".html", ".htm"), "text/html; charset=utf-8", True),
)
BY_FORMAT = {info.fmt: info for info in FORMATS}
BY_EXTENSION = {ext: info.fmt for info in FORMATS for ext in info.extensions}


def writer(fmt: Format, *, top: int = DEFAULT_TOP, csv_raw: bool = False) -> Writer:
    """The writer of a text format: ``write(report, stream)``.

    ``csv_raw``: CSV cells as they are, without the quote that keeps a
    spreadsheet from running a name as a formula (see :mod:`.csv`).

    The table is written through a rich console instead: see
    :func:`.table.render` and :func:`.table.make_console`.
    """
    if fmt is Format.table:
        raise ValueError(f"no text writer for {fmt.value}; the table renders to a console")
    info = BY_FORMAT[fmt]
    module = importlib.import_module(f"{__name__}.{info.module}")
    write: Callable[..., None] = module.write
    if info.takes_top:
        return lambda report, out: write(report, out, top=top)
    if fmt is Format.csv:
        return lambda report, out: write(report, out, raw=csv_raw)
    return write


def renderer(
    fmt: Format, *, top: int = DEFAULT_TOP, csv_raw: bool = False
) -> Callable[[Report], str]:
    """The same as :func:`writer`, returning the text."""
    write = writer(fmt, top=top, csv_raw=csv_raw)

    def render(report: Report) -> str:
        buffer = io.StringIO(newline="")
        write(report, buffer)
        return buffer.getvalue()

    return render
