"""``--format markdown``: the summary and the two tables, GitHub-flavoured.

For a wiki page or an e-mail: the same content as the table, without bars,
roles never shortened. Text from the data is escaped, so a ``|`` in a name
cannot break a row and a ``*`` cannot start emphasis.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TextIO

from ..model import Report
from . import summary
from .durations import human

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


def escape(text: str) -> str:
    """Backslash-escape Markdown's inline punctuation; line breaks become spaces."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.splitlines()))


def write(report: Report, out: TextIO, *, top: int = 10) -> None:
    out.write("## Activity report\n\n")
    if not report.activity:
        out.write(f"{escape(summary.scope(report))}.\n")
        return
    out.write(f"{escape(summary.scope(report))}: {summary.totals(report)}.\n")
    moment = summary.moment_format(summary.edges(report))
    out.write("\n### Activity by interval\n\n")
    _table(
        out,
        ("start", "length", "active users", "events", "active time"),
        "lrrrr",
        [
            (
                moment(bucket.time),
                human(bucket.duration),
                *(
                    tuple(escape(cell) for cell in summary.withheld(report))
                    if bucket.withheld
                    else (
                        str(len(bucket.user_activity)),
                        summary.number(sum(u.count for u in bucket.user_activity)),
                        human(sum(u.duration for u in bucket.user_activity)),
                    )
                ),
            )
            for bucket in report.activity
        ],
    )
    if not report.users:
        out.write("\nNo active users.\n")
        return
    shown = report.users if top == 0 else report.users[:top]
    total = report.total_duration
    out.write("\n### Top users\n\n" if len(shown) < len(report.users) else "\n### Users\n\n")
    _table(
        out,
        ("name", "username", "roles", "events", "active time", "share"),
        "lllrrr",
        [
            (
                escape(summary.user_label(u.user)),
                escape(summary.username(u.user)),
                escape(summary.roles(u.user)),
                summary.number(u.total_count),
                human(u.total_duration),
                summary.share(u.total_duration, total),
            )
            for u in shown
        ],
    )
    hidden = len(report.users) - len(shown)
    if hidden:
        noun = "user" if hidden == 1 else "users"
        out.write(f"\n{hidden} more {noun} not shown; `--top 0` lists all.\n")


def _table(out: TextIO, header: Sequence[str], align: str, rows: Sequence[Sequence[str]]) -> None:
    rule = ["---:" if a == "r" else "---" for a in align]
    for cells in (header, rule, *rows):
        out.write("| " + " | ".join(cells) + " |\n")
