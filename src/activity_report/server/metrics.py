"""Prometheus gauges over the store, for a Grafana dashboard.

``activity_report_active_users{category,window}``: distinct users with
activity in the trailing 1, 7, 30 and 90 days (licence seats: the 90-day
figure, category "any"); ``activity_report_events{category}`` and
``activity_report_active_seconds{category}``: events and active time (summed
over users, as the report counts it) in the trailing day. They are computed
by the report's engine, so they agree with the Activity API. Also
``activity_report_store_events`` and ``activity_report_last_event_timestamp_seconds``.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from ..backends.duckdb import StoreSource
from ..intervals import parse_interval
from ..query import Query
from ..reporting import run
from ..sources import CATEGORIES
from ..store import Store
from .reader import Signature

WINDOWS = (("90d", 90), ("30d", 30), ("7d", 7), ("1d", 1))  # longest first
DAYS = WINDOWS[0][1]  # the report's range: the longest window, in daily buckets
FRESH_SECONDS = 10.0  # a scrape within this of the last one, same store, gets the same text


class Gauges:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[Signature, float, str] | None = None

    def text(self, store: Store, signature: Signature) -> str:
        with self._lock:
            last = self._last
        if last is not None and last[0] == signature and time.monotonic() - last[1] < FRESH_SECONDS:
            return last[2]
        text = render(store, datetime.now(UTC))
        with self._lock:
            self._last = (signature, time.monotonic(), text)
        return text


def render(store: Store, now: datetime) -> str:
    """The gauges at ``now``: per category, one report of the trailing days, day by day."""
    source = StoreSource(store)
    lines = [
        "# HELP activity_report_active_users Distinct active users in the trailing window.",
        "# TYPE activity_report_active_users gauge",
    ]
    day_events: list[str] = []
    day_seconds: list[str] = []
    for category in ("any", *CATEGORIES):
        query = Query(
            interval=parse_interval("1 day"),
            start=now - timedelta(days=DAYS),
            end=now,
            category=category,
        )
        days = run(query, source).report.activity  # DAYS buckets, the last ending at now
        for window, length in WINDOWS:
            users = {u.user_id for day in days[DAYS - length :] for u in day.user_activity}
            lines.append(
                f'activity_report_active_users{{category="{category}",window="{window}"}} '
                f"{len(users)}"
            )
        last_day = days[-1].user_activity if days else ()
        day_events.append(
            f'activity_report_events{{category="{category}"}} {sum(u.count for u in last_day)}'
        )
        seconds = exact(sum(u.duration for u in last_day), 1_000_000_000)  # nanoseconds
        day_seconds.append(f'activity_report_active_seconds{{category="{category}"}} {seconds}')
    events, last = store.extent()
    lines += [
        "# HELP activity_report_events Events in the trailing day.",
        "# TYPE activity_report_events gauge",
        *day_events,
        "# HELP activity_report_active_seconds Active seconds, summed over users, "
        "in the trailing day.",
        "# TYPE activity_report_active_seconds gauge",
        *day_seconds,
        "# HELP activity_report_store_events Events in the store.",
        "# TYPE activity_report_store_events gauge",
        f"activity_report_store_events {events}",
        "# HELP activity_report_last_event_timestamp_seconds Time of the store's last event.",
        "# TYPE activity_report_last_event_timestamp_seconds gauge",
        f"activity_report_last_event_timestamp_seconds {exact(last or 0, 1_000_000)}",
    ]
    return "\n".join(lines) + "\n"


def exact(amount: int, per_second: int) -> str:
    """``amount`` units of which ``per_second`` make a second, as exact decimal seconds.

    ``exact(1709251199930000, 10**6)`` is ``'1709251199.93'``: every digit, no exponent.
    """
    sign = "-" if amount < 0 else ""
    whole, part = divmod(abs(amount), per_second)
    if not part:
        return f"{sign}{whole}"
    digits = len(str(per_second)) - 1
    return f"{sign}{whole}.{part:0{digits}d}".rstrip("0")
