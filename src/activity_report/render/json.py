"""``--format json``: exactly the Activity API's shape."""

from __future__ import annotations

from typing import TextIO

from ..model import Report, to_json


def render(report: Report) -> str:
    return to_json(report)


def write(report: Report, out: TextIO) -> None:
    out.write(to_json(report))
