"""One module per output format; each turns a Report into text."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from ..model import Report


class Format(StrEnum):
    table = "table"
    json = "json"
    ndjson = "ndjson"
    csv = "csv"
    markdown = "markdown"


def renderer(fmt: Format) -> Callable[[Report], str]:
    """The text renderer of a machine-readable format (table renders to a console)."""
    if fmt is Format.json:
        from .json import render

        return render
    raise ValueError(f"no text renderer for {fmt.value}")
