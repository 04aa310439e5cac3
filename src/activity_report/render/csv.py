"""``--format csv``: a header, then one row per bucket and user.

Columns as in :data:`.records.FIELDS`; an unknown name or username is an
empty field. Lines end in ``\\n``; fields are quoted only when they must be.
No activity: the header alone.
"""

from __future__ import annotations

import csv
from typing import TextIO

from ..model import Report
from .records import FIELDS, records


def write(report: Report, out: TextIO) -> None:
    rows = csv.writer(out, lineterminator="\n")
    rows.writerow(FIELDS)
    for record in records(report):
        rows.writerow("" if record[key] is None else record[key] for key in FIELDS)
