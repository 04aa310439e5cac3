"""``--format table``: rich tables for a terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ..model import Report, rfc3339
from .durations import human


def render(report: Report, console: Console) -> None:
    """Print a summary line, the bucket table and the users table."""
    meta = report.meta
    if meta is not None:
        orgs = ", ".join(meta.orgs) if meta.orgs else "all organizations"
        console.print(
            f"{rfc3339(meta.start)} to {rfc3339(meta.end)}, every {meta.interval}, "
            f"category {meta.category}, {orgs}, time zone {meta.tz}: "
            f"{len(report.users)} active users, {human(report.total_duration)} active time",
            highlight=False,
        )
    buckets = Table(title="Activity by interval", title_justify="left")
    buckets.add_column("start")
    buckets.add_column("length", justify="right")
    buckets.add_column("active users", justify="right")
    buckets.add_column("events", justify="right")
    buckets.add_column("active time", justify="right")
    for bucket in report.activity:
        buckets.add_row(
            rfc3339(bucket.time),
            human(bucket.duration),
            str(len(bucket.user_activity)),
            str(sum(u.count for u in bucket.user_activity)),
            human(sum(u.duration for u in bucket.user_activity)),
        )
    console.print(buckets)
    users = Table(title="Users", title_justify="left")
    users.add_column("name")
    users.add_column("username")
    users.add_column("roles")
    users.add_column("events", justify="right")
    users.add_column("active time", justify="right")
    for total in report.users:
        users.add_row(
            total.user.name or total.user.id,
            total.user.username or "",
            ", ".join(total.user.roles),
            str(total.total_count),
            human(total.total_duration),
        )
    console.print(users)
