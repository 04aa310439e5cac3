"""``--format csv``: a header, then one row per bucket and user.

Columns as in :data:`.records.FIELDS`; an unknown name or username is an
empty field. Lines end in ``\\n``; fields are quoted only when they must be.
No activity: the header alone.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return as a formula, and user names come from outside. So a
text cell that starts with one of them is written with a single quote before
it (OWASP's advice against CSV injection): the spreadsheet shows the text.
Numbers are never changed. ``raw=True`` writes every cell as it is, for
programs that read the file.
"""

from __future__ import annotations

import csv
from typing import Any, TextIO

from ..model import Report
from .records import FIELDS, records

#: What a spreadsheet reads as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def write(report: Report, out: TextIO, *, raw: bool = False) -> None:
    # Python's writer quotes a field holding a character of its line
    # terminator only: with "\r\n" a carriage return in a name is quoted too,
    # and each line is then written ending in "\n".
    rows = csv.writer(_LineFeeds(out), lineterminator="\r\n")
    rows.writerow(FIELDS)
    cell = _raw if raw else neutralised
    for record in records(report):
        rows.writerow(cell(record[key]) for key in FIELDS)


def neutralised(value: Any) -> Any:
    """``value`` as a spreadsheet shows it as text: a leading ``'`` before a formula start."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _raw(value: Any) -> Any:
    return "" if value is None else value


class _LineFeeds:
    """A stream for :func:`csv.writer` that ends each of its lines in ``\\n``, not ``\\r\\n``."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, line: str) -> int:
        return self.out.write(line[:-2] + "\n")
