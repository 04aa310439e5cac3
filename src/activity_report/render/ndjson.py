"""``--format ndjson``: one JSON object per line, per bucket and user.

Keys as in :data:`.records.FIELDS`; a user missing from the directory has
``name`` and ``username`` null. No activity: no lines at all.
"""

from __future__ import annotations

import json
from typing import TextIO

from ..model import Report
from .records import records


def write(report: Report, out: TextIO) -> None:
    for record in records(report):
        out.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
