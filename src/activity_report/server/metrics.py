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

from .. import engine
from ..backends.protocol import Filters
from ..reporting import to_micros
from ..sources import CATEGORIES
from ..store import Store
from .reader import Signature

WINDOWS = (("90d", 90), ("30d", 30), ("7d", 7), ("1d", 1))  # longest first: bucket order
HEARTBEAT_US = 60_000_000
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
    con, view = store.con, store.events_view()
    edges = [to_micros(now - timedelta(days=days)) for _, days in WINDOWS] + [to_micros(now)]
    lines = [
        "# HELP activity_report_active_users Distinct active users in the trailing window.",
        "# TYPE activity_report_active_users gauge",
    ]
    day_events: list[str] = []
    day_seconds: list[str] = []
    for category in ("any", *CATEGORIES):
        categories = list(CATEGORIES) if category == "any" else [category]
        cells = engine.compute(con, view, edges, Filters(categories), HEARTBEAT_US)
        for index, (window, _) in enumerate(WINDOWS):
            users = {c.user_id for c in cells if c.bucket >= index}
            lines.append(
                f'activity_report_active_users{{category="{category}",window="{window}"}} '
                f"{len(users)}"
            )
        last_day = [c for c in cells if c.bucket == len(WINDOWS) - 1]
        day_events.append(
            f'activity_report_events{{category="{category}"}} {sum(c.count for c in last_day)}'
        )
        seconds = sum(c.duration_us for c in last_day) / 1_000_000
        day_seconds.append(f'activity_report_active_seconds{{category="{category}"}} {seconds:g}')
    events, last = con.execute("SELECT count(*), max(ts) FROM events").fetchall()[0]
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
        f"activity_report_store_events {int(events)}",
        "# HELP activity_report_last_event_timestamp_seconds Time of the store's last event.",
        "# TYPE activity_report_last_event_timestamp_seconds gauge",
        f"activity_report_last_event_timestamp_seconds {(int(last) if last else 0) / 1e6:g}",
    ]
    return "\n".join(lines) + "\n"
