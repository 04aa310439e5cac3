"""One module per output format; each writes a Report to a text stream.

``table`` is for people at a terminal (rich); ``markdown`` for wikis and
e-mail; ``json``, ``ndjson`` and ``csv`` for programs. Only the
table ever carries ANSI codes, and only where ``--color`` allows.
"""

from __future__ import annotations

import io
from collections.abc import Callable
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


class ColorMode(StrEnum):
    auto = "auto"
    always = "always"
    never = "never"


Writer = Callable[[Report, TextIO], None]


def writer(fmt: Format, *, top: int = DEFAULT_TOP) -> Writer:
    """The writer of a text format: ``write(report, stream)``.

    The table is written through a rich console instead: see
    :func:`.table.render` and :func:`.table.make_console`.
    """
    if fmt is Format.json:
        from . import json

        return json.write
    if fmt is Format.ndjson:
        from . import ndjson

        return ndjson.write
    if fmt is Format.csv:
        from . import csv

        return csv.write
    if fmt is Format.markdown:
        from . import markdown

        return lambda report, out: markdown.write(report, out, top=top)
    raise ValueError(f"no text writer for {fmt.value}; the table renders to a console")


def renderer(fmt: Format, *, top: int = DEFAULT_TOP) -> Callable[[Report], str]:
    """The same as :func:`writer`, returning the text."""
    write = writer(fmt, top=top)

    def render(report: Report) -> str:
        buffer = io.StringIO(newline="")
        write(report, buffer)
        return buffer.getvalue()

    return render
