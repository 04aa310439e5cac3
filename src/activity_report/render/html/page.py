"""The whole page: its head, the summary of what was asked, then the report's sections."""

from __future__ import annotations

from ...model import Report, rfc3339
from .. import DEFAULT_TOP, summary
from ..durations import human
from .chart import chart
from .markup import exact_duration, text, tooltip
from .style import STYLE
from .tables import buckets_table, users_table


def document(report: Report, *, top: int = DEFAULT_TOP) -> str:
    """The whole page: ``top`` users in the users table, 0 for all of them."""
    points = summary.edges(report)
    title = "Activity report"
    if points:
        title += f", {summary.span(points[0], points[-1])}"
    parts = [
        "<!DOCTYPE html>\n",
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{text(title)}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        '<main class="report">\n<header>\n<h1>Activity report</h1>\n',
        f'<p class="scope">{text(summary.scope(report))}</p>\n</header>\n',
        summary_section(report),
    ]
    if report.activity:
        parts += [
            '<section aria-labelledby="by-interval">\n',
            '<h2 id="by-interval">Activity by interval</h2>\n',
            chart(report),
            buckets_table(report),
            "</section>\n",
        ]
        shown = report.users if top == 0 else report.users[:top]
        heading = "Top users" if len(shown) < len(report.users) else "Users"
        parts += ['<section aria-labelledby="users">\n', f'<h2 id="users">{heading}</h2>\n']
        if report.users:
            parts.append(users_table(shown, report.total_duration))
            hidden = len(report.users) - len(shown)
            if hidden:
                parts.append(f'<p class="note">{text(summary.more_users(hidden))}</p>\n')
        else:
            parts.append('<p class="note">No active users.</p>\n')
        parts.append("</section>\n")
    parts.append("<footer>Made by activity-report.</footer>\n</main>\n</body>\n</html>\n")
    return "".join(parts)


def summary_section(report: Report) -> str:
    """What was asked (range, interval, category, organizations, zone), then the totals.

    The range names its last day included, as a date picker gives it (or
    its exact end when that is not a midnight); the tooltip gives it exactly.
    """
    meta = report.meta
    points = summary.edges(report)
    facts: list[tuple[str, str, str]] = []
    if points:
        exact = f"from {rfc3339(points[0])} up to (not including) {rfc3339(points[-1])}"
        facts.append(("Range", summary.span(points[0], points[-1]), exact))
    if meta is not None:
        category = "any" if meta.category == "any" else meta.category
        orgs = ", ".join(meta.orgs) if meta.orgs else "all"
        facts += [
            ("Interval", meta.interval, ""),
            ("Category", category, ""),
            ("Organizations", orgs, ""),
            ("Time zone", meta.tz, ""),
        ]
    rows = "".join(
        f"<div><dt>{text(label)}</dt><dd{tooltip(tip)}>{text(value)}</dd></div>"
        for label, value, tip in facts
    )
    totals = (
        f"<div><dt>Active users</dt><dd>{summary.number(len(report.users))}</dd></div>"
        f"<div><dt>Events</dt><dd>{summary.number(report.total_count)}</dd></div>"
        f"<div><dt>Active time</dt><dd{tooltip(exact_duration(report.total_duration))}>"
        f"{text(human(report.total_duration))}</dd></div>"
    )
    return (
        '<section class="summary" aria-label="Summary">\n'
        f'<dl class="facts">{rows}</dl>\n<dl class="totals">{totals}</dl>\n</section>\n'
    )
