"""Flat records, one per bucket and user: the rows of ``csv`` and ``ndjson``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import Report, rfc3339

FIELDS = ("time", "bucket_duration", "user_id", "name", "username", "count", "duration")
"""The record's keys, in order. Durations are nanoseconds, as in the JSON."""


def records(report: Report) -> Iterator[dict[str, Any]]:
    """Buckets in time order; users in a bucket in the JSON's order.

    Empty buckets have no records, so a report with no activity has none. A
    bucket withheld by ``--min-users`` has one record, its user and counts null.
    """
    people = {total.user.id: total.user for total in report.users}
    for bucket in report.activity:
        time = rfc3339(bucket.time)
        if bucket.withheld:
            yield dict.fromkeys(FIELDS) | {"time": time, "bucket_duration": bucket.duration}
        for activity in bucket.user_activity:
            user = people.get(activity.user_id)
            yield {
                "time": time,
                "bucket_duration": bucket.duration,
                "user_id": activity.user_id,
                "name": user.name if user else None,
                "username": user.username if user else None,
                "count": activity.count,
                "duration": activity.duration,
            }
