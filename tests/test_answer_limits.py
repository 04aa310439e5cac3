"""One answer's cost is bounded: a report of too many cells is refused before it is built,
and the answers the server keeps are bounded by their bytes.

A real server on a loopback port, over a store where every one of 300 users
is active all through July and August: at 7 minutes in Kathmandu time that
report would hold 3.8 million cells (hundreds of megabytes of JSON, gigabytes
of memory while built).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from activity_report.backends.duckdb import StoreSource
from activity_report.backends.protocol import Filters
from activity_report.server.answers import (
    DEFAULT_MAX_CELLS,
    Answers,
    BoundedSource,
    TooManyCells,
)
from activity_report.sources import CATEGORIES
from activity_report.store import Store
from activity_report.store.rollups import HEARTBEAT_US

from .conftest import run_cli, write_csv
from .test_server import ACTIVITY, start_server, stop

USERS = 300
HUGE = "?interval=7%20minutes&start=2022-07-01&end=2022-09-01&tz=Asia/Kathmandu"
WEEKLY = "?interval=1%20week&start=2022-07-01&end=2022-09-01"


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("dense")
    events = write_csv(
        folder / "events.csv",
        ("time", "user_id", "category", "end_time"),
        [
            ("2022-07-01T00:00:00Z", f"user{i:03d}", "ide", "2022-09-01T00:00:00Z")
            for i in range(USERS)
        ],
    )
    db = folder / "store.duckdb"
    assert run_cli("ingest", str(events), "--db", str(db)).exit_code == 0
    made = run_cli("tokens", "create", "--name", "dense", "--db", str(db))
    assert made.exit_code == 0, made.stderr
    return db, made.stdout.strip()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow  # its own server over a dense store
def test_a_huge_report_is_refused_quickly_and_the_server_stays_small(
    dense: tuple[Path, str],
) -> None:
    db, token = dense
    url, process = start_server(db)
    try:
        with httpx.Client(base_url=url, timeout=60, headers={"Session-Token": token}) as http:
            started = time.monotonic()
            answer = http.get(ACTIVITY + HUGE)
            took = time.monotonic() - started
            assert answer.status_code == 400, answer.text[:300]
            assert took < 10
            buckets = (62 * 24 * 60) // 7 + 1  # Kathmandu is 5:45 ahead: one more bucket
            assert answer.json() == {
                "message": f"the answer could hold {buckets * USERS:,} cells ({buckets:,} "
                f"buckets x {USERS} active users), more than this server answers "
                f"({DEFAULT_MAX_CELLS:,}).",
                "detail": f"the answer could hold {buckets * USERS:,} cells ({buckets:,} "
                f"buckets x {USERS} active users), more than this server answers "
                f"({DEFAULT_MAX_CELLS:,}); ask for a longer interval, a shorter range, or "
                "fewer users (org, user or category); its operator can raise the limit "
                "with serve --max-cells",
            }
            # the same through the view's CSV download
            signed = http.post(
                "/signin",
                data={"token": token, "next": ""},
                headers={"Origin": url},
                follow_redirects=False,
            )
            assert signed.status_code == 303
            download = http.get(
                "/metrics/activity.csv" + HUGE,
                headers={"Sec-Fetch-Site": "same-origin"},
            )
            assert download.status_code == 400, download.text[:300]
            assert "--max-cells" in download.text
            assert _rss_mb(process.pid) < 400
            # narrowed, it is answered
            narrowed = http.get(ACTIVITY + WEEKLY)
            assert narrowed.status_code == 200
            assert len(narrowed.json()["users"]) == USERS
    finally:
        code, log = stop(process)
    assert code == 0, log


@pytest.mark.slow  # a dense store
def test_max_cells_sets_the_limit(dense: tuple[Path, str]) -> None:
    db, token = dense
    url, process = start_server(db, "--max-cells", "2000")
    try:
        with httpx.Client(base_url=url, timeout=60, headers={"Session-Token": token}) as http:
            weekly = http.get(ACTIVITY + WEEKLY)  # 9 buckets x 300 users
            assert weekly.status_code == 400
            assert "2,700 cells (9 buckets x 300 active users)" in weekly.json()["detail"]
            assert "(2,000)" in weekly.json()["detail"]
            one_user = http.get(ACTIVITY + WEEKLY + "&user=user007")
            assert one_user.status_code == 200
            monthly = http.get(ACTIVITY + "?interval=1%20month&start=2022-07-01&end=2022-09-01")
            assert monthly.status_code == 200  # 2 x 300
    finally:
        code, log = stop(process)
    assert code == 0, log


def test_serve_refuses_a_max_cells_of_zero(tmp_path: Path) -> None:
    result = run_cli("serve", "--db", str(tmp_path / "store.duckdb"), "--max-cells", "0")
    assert result.exit_code == 2
    assert "--max-cells" in result.stderr


def test_the_answer_cache_evicts_by_bytes() -> None:
    answers = Answers(max_bytes=1000)
    answers.put("a", b"a" * 200)
    answers.put("b", b"b" * 200)
    answers.put("c", b"c" * 200)
    assert answers.get("a") is not None  # now the most recent
    answers.put("d", b"d" * 200)
    answers.put("e", b"e" * 200)
    assert answers.size == 1000
    answers.put("f", b"f" * 150)  # 1150 bytes: the least recent (b) goes
    assert answers.get("b") is None
    assert [answers.get(k) is not None for k in "acdef"] == [True] * 5
    assert answers.size == 950
    answers.put("big", b"x" * 251)  # more than a quarter of the budget: not kept
    assert answers.get("big") is None
    assert answers.size == 950
    answers.put("a", b"a" * 10)  # replaced, counted once
    assert answers.size == 760
    none = Answers(max_bytes=0)
    none.put("a", b"")
    none.put("b", b"b")
    assert none.get("b") is None


@pytest.mark.slow  # a dense store
def test_active_users_are_counted_only_when_every_user_might_not_fit(
    dense: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = dense
    counted: list[int] = []
    real = StoreSource.active_users

    def counting(self: StoreSource, *args: Any) -> int:
        users = real(self, *args)
        counted.append(users)
        return users

    monkeypatch.setattr(StoreSource, "active_users", counting)
    day = 86_400_000_000
    edges = [1_656_633_600_000_000 + i * day for i in range(3)]  # 2022-07-01, 2 days
    every = Filters(categories=CATEGORIES)
    with Store.open(db, read_only=True) as store:
        assert store.users_at_most() == USERS
        # 2 buckets x 300 users fit in 600 cells: nothing counted.
        BoundedSource(store, max_cells=2 * USERS).cells(edges, every, HEARTBEAT_US)
        assert counted == []
        # In 599 they might not: the active users are counted, and they do not fit.
        with pytest.raises(TooManyCells):
            BoundedSource(store, max_cells=2 * USERS - 1).cells(edges, every, HEARTBEAT_US)
        assert counted == [USERS]
