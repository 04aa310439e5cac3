"""Readers keep answering while an ingest runs: it holds the store only for its final merge.

A real server on a loopback port answers a stream of uncached requests while
`activity-report ingest` adds 400,000 events in another process. The ingest
reads, checks and compares its rows and prepares its rollups with the store
attached read-only, as the server does; requests wait only for the short
merge at the end.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from .conftest import SAMPLE
from .test_server import ACTIVITY, cli, start_server, stop

pytestmark = pytest.mark.slow  # ingests in children while others read

ROWS = 400_000
CATEGORIES = ("ide", "login", "app", "tunnel", "web_terminal")


def _big_log(path: Path) -> Path:
    """ROWS events in 2023 of 200 users, a third with an end time: rollups to compute."""
    start = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp())
    with path.open("w", newline="") as handle:
        rows = csv.writer(handle)
        rows.writerow(["id", "time", "user_id", "category", "organization_id", "end_time"])
        for i in range(ROWS):
            t = start + i * 7
            end = "" if i % 3 else _iso(t + 60 + i % 2400)
            rows.writerow(
                [f"b{i}", _iso(t), f"user{i % 200}", CATEGORIES[i % 5], f"org{i % 4}", end]
            )
    return path


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_requests_during_an_ingest_are_answered_from_the_last_commit(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    assert cli("ingest", str(SAMPLE / "events.parquet"), db=db).returncode == 0
    made = cli("tokens", "create", "--name", "readers", db=db)
    token = made.stdout.strip()
    log = _big_log(tmp_path / "big.csv")
    url, server = start_server(db, "--busy-timeout", "2")
    statuses: list[int] = []
    try:
        with httpx.Client(base_url=url, timeout=60, headers={"Session-Token": token}) as http:
            assert http.get(ACTIVITY).status_code == 200
            ingest = subprocess.Popen(
                [sys.executable, "-m", "activity_report", "ingest", str(log), "--db", str(db)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + 600
            i = 0
            while ingest.poll() is None and time.monotonic() < deadline:
                i += 1  # a new query each time: no answer comes from the cache
                query = f"?interval=1%20day&start=2022-07-{1 + i % 28:02d}T00:{i % 60:02d}:00Z"
                statuses.append(http.get(ACTIVITY + query).status_code)
                time.sleep(0.05)
            _, stderr = ingest.communicate(timeout=60)
            assert ingest.returncode == 0, stderr
            after = http.get(ACTIVITY + "?interval=1%20month").json()
            assert after["activity"][-1]["time"].startswith("2023-")
    finally:
        code, server_log = stop(server)
    assert code == 0, server_log
    assert len(statuses) >= 20, statuses
    failed = [s for s in statuses if s != 200]
    assert len(failed) <= len(statuses) // 10, statuses


def test_an_ingest_compares_again_when_another_commits_before_its_merge(tmp_path: Path) -> None:
    """The comparison with the store and the rollups are made before the store is held;
    an ingest that committed in between is seen: the rows it added are duplicates now."""
    from activity_report.store import Store

    from .test_rollups import rollups
    from .test_store import events_csv, snapshot

    a = events_csv(
        tmp_path / "a.csv",
        [("e1", "2024-01-01T00:00:00Z", "u1", "ide"), ("e2", "2024-01-01T00:05:00Z", "u1", "ide")],
    )
    b = events_csv(
        tmp_path / "b.csv",
        [("e2", "2024-01-01T00:05:00Z", "u1", "ide"), ("e3", "2024-01-01T00:20:00Z", "u2", "app")],
    )
    raced, calm = tmp_path / "raced.duckdb", tmp_path / "calm.duckdb"

    def another_commits(label: str, done: int, total: int) -> None:
        if label == "waiting for the store":
            with Store.open(raced) as other:
                assert other.ingest([str(b)]).new == 2

    with Store.open(raced) as store:
        result = store.ingest([str(a)], progress=another_commits)
    assert (result.new, result.duplicates) == (1, 1)
    with Store.open(calm) as store:
        store.ingest([str(b)])
        store.ingest([str(a)])
    assert rollups(raced) == rollups(calm)
    assert rollups(raced, "rollups_daily") == rollups(calm, "rollups_daily")
    assert snapshot(raced)["events"] == snapshot(calm)["events"]
