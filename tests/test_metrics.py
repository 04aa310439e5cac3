"""The Prometheus gauges: computed by the report, written with every digit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from activity_report.server import metrics
from activity_report.store import Store
from tests.conftest import write_csv

HEADER = ("time", "user_id", "category", "end_time")


def gauges(tmp_path: Path, rows: list[tuple[str, str, str, str]], now: datetime) -> list[str]:
    events = write_csv(tmp_path / "e.csv", HEADER, rows)
    with Store.open(tmp_path / "s.duckdb") as store:
        store.ingest([str(events)])
        return metrics.render(store, now).splitlines()


def test_times_and_seconds_are_written_exactly(tmp_path: Path) -> None:
    rows = [
        # a session over the whole trailing day but half a second at each end
        ("2024-02-29T00:00:00.5Z", "ann", "ide", "2024-02-29T23:59:59.5Z"),
        # a heartbeat: one minute of coverage, and the store's last event
        ("2024-02-29T23:58:59.93Z", "bob", "ide", ""),
    ]
    lines = gauges(tmp_path, rows, datetime(2024, 3, 1, tzinfo=UTC))
    # 1709251139.93 is 1.70925e+09 in %g: 1,140 seconds off
    assert "activity_report_last_event_timestamp_seconds 1709251139.93" in lines
    # 86,399 s of the session and 60 of the heartbeat: %g would give 86459
    assert 'activity_report_active_seconds{category="ide"} 86459' in lines
    assert 'activity_report_active_seconds{category="any"} 86459' in lines
    assert 'activity_report_active_seconds{category="login"} 0' in lines
    assert 'activity_report_active_users{category="ide",window="1d"} 2' in lines
    assert "activity_report_store_events 2" in lines


def test_fractions_keep_every_digit(tmp_path: Path) -> None:
    rows = [("2024-02-29T10:00:00Z", "ann", "app", "2024-02-29T13:05:07.123456Z")]
    lines = gauges(tmp_path, rows, datetime(2024, 3, 1, tzinfo=UTC))
    assert 'activity_report_active_seconds{category="app"} 11107.123456' in lines
    assert "activity_report_last_event_timestamp_seconds 1709200800" in lines


def test_exact_seconds() -> None:
    assert metrics.exact(1_709_251_199_930_000, 1_000_000) == "1709251199.93"
    assert metrics.exact(4_443_634 * 10**9, 10**9) == "4443634"
    assert metrics.exact(-1_500_000, 1_000_000) == "-1.5"
    assert metrics.exact(0, 1_000_000) == "0"
