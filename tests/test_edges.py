"""Ranges off the slot edges: whole slots from the rollups, the cut slots from the events,
and the report the same as the one on the files."""

from __future__ import annotations

import random
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activity_report.backends.protocol import Filters
from activity_report.engine import values_like
from activity_report.sources import CATEGORIES
from activity_report.store import Store
from activity_report.store import edges as edges_mod
from activity_report.store.rollups import DAY_US, HEARTBEAT_US, SLOT_US

from .conftest import run_cli
from .test_rollups import BASE, ZONES, csv_rows, ingest, rows_strategy, write

SECOND = 1_000_000


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def same_report(events: Path, db: Path, args: list[str]) -> str:
    """The store's report of ``args``, after checking it equals the files' one; its stderr."""
    from_events = run_cli("--events", str(events), *args, "--json")
    from_store = run_cli("--db", str(db), *args, "--json", "--verbose")
    assert from_events.exit_code == from_store.exit_code == 0, from_store.stderr
    assert from_store.stdout == from_events.stdout, args
    return from_store.stderr


# ----------------------------------------------------------------------- the plan


@pytest.mark.parametrize(
    "edges",
    [
        [7 * SECOND, DAY_US + 7 * SECOND, 2 * DAY_US + 7 * SECOND],  # every edge cut
        [0, DAY_US, DAY_US + 7 * SECOND],  # a partial last bucket
        [-3 * DAY_US - 61 * SECOND, -DAY_US, 5 * DAY_US + SLOT_US + 1],  # before 1970
        [10 * SECOND, 20 * SECOND, 30 * SECOND],  # buckets inside one slot
        [SLOT_US, 3 * SLOT_US, DAY_US + 2 * SLOT_US],  # on slot edges, one whole day
    ],
)
def test_the_pieces_cut_the_range_into_its_buckets(edges: list[int]) -> None:
    pieces = edges_mod.plan(edges)
    assert pieces is not None
    every = sorted(pieces.days + pieces.slots + pieces.cut)
    # The pieces tile the range, each inside its bucket.
    assert every[0][0] == edges[0] and every[-1][1] == edges[-1]
    assert all(a[1] == b[0] for a, b in zip(every, every[1:], strict=False))
    for lo, hi, bucket in every:
        assert edges[bucket] <= lo < hi <= edges[bucket + 1]
    assert all(lo % DAY_US == 0 and hi % DAY_US == 0 for lo, hi, _ in pieces.days)
    assert all(lo % SLOT_US == 0 and hi % SLOT_US == 0 for lo, hi, _ in pieces.slots)
    for lo, hi, _ in pieces.cut:  # inside one slot, which an edge cuts
        slot = lo - lo % SLOT_US
        assert hi <= slot + SLOT_US
        assert any(slot < e < slot + SLOT_US for e in edges) or lo % SLOT_US or hi % SLOT_US


def test_buckets_shorter_than_a_slot_off_its_edges_are_left_to_the_events() -> None:
    start = 7 * SECOND
    edges = [start + i * 60 * SECOND for i in range(15 * (edges_mod.MAX_CUT_SLOTS + 1))]
    assert edges_mod.plan(edges) is None
    assert edges_mod.plan(edges[: 15 * edges_mod.MAX_CUT_SLOTS]) is not None


# ------------------------------------------------------------- reports as on files

#: Heartbeats and sessions that cross the slots of every edge used below:
#: u1 a heartbeat a minute, u2 overlapping sessions (one inside another, one
#: across a slot edge), u3 a session of two days and a zero-length event.
EDGE_ROWS = [
    *[(60 * m + 13, "u1", "ide", "o1", None, 1) for m in range(0, 60 * 30, 1)],
    (3 * 3600 + 5, "u2", "ide", "o1", 50 * 60, 1),
    (3 * 3600 + 600, "u2", "ide", "o1", 7 * 60, 1),
    (3 * 3600 + 1400, "u2", "app", "o2", 200 * 60, 2),
    (3 * 3600 + 1400, "u2", "ide", "o2", None, 1),
    (20 * 3600 + 17, "u3", "tunnel", "", 2 * 86_400, 1),
    (28 * 3600 + 7 * 60 + 13, "u3", "tunnel", "", 0, 1),
    (26 * 3600 + 59, "u1", "deploy", "o1", None, 1),  # an unknown category
]


def logged_store(tmp: Path, rows: list[tuple[Any, ...]]) -> tuple[Path, Path]:
    """``rows`` written as a CSV log, and a store that ingested it."""
    log = write(tmp / "log.csv", [r for _, r in csv_rows(rows)])
    db = tmp / "s.duckdb"
    ingest(db, log)
    return log, db


def answered_from_rollups(
    log: Path, db: Path, args: list[str], scans: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store answers ``args`` from its rollups as the files do, its cut slots read
    as ``scans`` says."""
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    if scans.startswith("one"):
        monkeypatch.setattr(edges_mod, "SCANS", 0)
    stderr = same_report(log, db, args)
    assert "answered from the 15-minute rollups" in stderr, args


@pytest.fixture(scope="module")
def edge_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return logged_store(tmp_path_factory.mktemp("edges"), EDGE_ROWS)


@pytest.mark.parametrize(
    "args",
    [
        # The last 7 days from an instant with seconds, daily and hourly.
        ["--start", "2024-03-29T20:07:13Z", "--end", "2024-04-05T20:07:13Z"],
        ["--start", "2024-03-29T20:07:13Z", "--end", "2024-03-31T21:07:13Z", "--interval", "1h"],
        # Europe's clocks move on 2024-03-31: a 23-hour day of buckets off the slot edges.
        ["--start", "2024-03-30T03:10:00", "--end", "2024-04-01T03:10:00", "--tz", "Europe/Berlin"],
        # +05:45: days start off UTC's quarter hours by nothing, but the range is cut.
        ["--start", "2024-03-30T01:01:01", "--end", "2024-04-01T00:00", "--tz", "Asia/Kathmandu"],
        # A partial last bucket; weeks; a category and an organization.
        ["--start", "2024-03-29T23:59:59Z", "--end", "2024-03-31T01:00:01Z", "--interval", "1d"],
        ["--start", "2024-03-29T20:00:01Z", "--end", "2024-04-12", "--interval", "1 week"],
        ["--start", "2024-03-29T22:31:00Z", "--end", "2024-03-30T02:31:00Z", "--org", "o1"],
        ["--start", "2024-03-29T22:31:00Z", "--end", "2024-03-31T02:31:00Z", "--category", "ide"],
        ["--start", "2024-03-29T23:31:00Z", "--end", "2024-03-30T23:31:00Z", "--user", "u2"],
        # A range inside one slot.
        ["--start", "2024-03-29T23:31:00Z", "--end", "2024-03-29T23:34:00Z", "--interval", "1m"],
    ],
)
@pytest.mark.parametrize("scans", ["a scan per cut slot", "one scan of every cut slot"])
def test_ranges_off_the_slot_edges_report_as_the_files_do(
    args: list[str], scans: str, edge_store: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    answered_from_rollups(*edge_store, args, scans, monkeypatch)


@pytest.fixture(scope="module")
def heartbeat_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The rows of :data:`EDGE_ROWS` without an end: no event is a session."""
    rows = [row for row in EDGE_ROWS if row[4] is None]
    rows += [(3 * 3600 + 5 + 60 * m, "u2", "ide", "o1", None, 1) for m in range(50)]
    return logged_store(tmp_path_factory.mktemp("heartbeats"), rows)


@pytest.mark.parametrize(
    "args",
    [
        ["--start", "2024-03-29T20:07:13Z", "--end", "2024-04-05T20:07:13Z"],
        ["--start", "2024-03-29T22:31:00Z", "--end", "2024-03-31T02:31:00Z", "--interval", "1h"],
        ["--start", "2024-03-29T23:14:30Z", "--end", "2024-03-30T00:29:30Z", "--interval", "5m"],
    ],
)
@pytest.mark.parametrize("scans", ["a scan per cut slot", "one scan of every cut slot"])
def test_a_store_without_sessions_reports_off_the_slot_edges_as_the_files_do(
    args: list[str],
    scans: str,
    heartbeat_store: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Store.open(heartbeat_store[1], read_only=True) as store:
        assert store._stored_kinds() == (False, False)  # no runs, no session: no scan of them
    answered_from_rollups(*heartbeat_store, args, scans, monkeypatch)


def test_the_kinds_of_events_stored_are_told(edge_store: tuple[Path, Path]) -> None:
    _, db = edge_store
    with Store.open(db, read_only=True) as store:
        assert store._stored_kinds() == (False, True)  # sessions, no runs of minutes


@settings(max_examples=200, deadline=None)
@given(
    cuts=st.lists(st.integers(0, 60), min_size=2, max_size=8, unique=True),
    events=st.lists(st.tuples(st.integers(-5, 65), st.integers(0, 30)), max_size=30),
)
def test_each_event_meets_the_pieces_it_overlaps_or_starts_in(
    cuts: list[int], events: list[tuple[int, int]]
) -> None:
    ordered = sorted(cuts)
    pieces = list(zip(ordered, ordered[1:], strict=False))
    lo = np.asarray([a for a, _ in pieces], dtype=np.int64)
    hi = np.asarray([b for _, b in pieces], dtype=np.int64)
    ts = np.asarray([t for t, _ in events], dtype=np.int64)
    te = np.asarray([t + length for t, length in events], dtype=np.int64)
    row, piece = edges_mod._met(ts, te, lo, hi)
    # An event meets a piece it overlaps, or the piece its zero-length instant lies in.
    expected = sorted(
        (i, k)
        for i, (t, e) in enumerate(zip(ts.tolist(), te.tolist(), strict=True))
        for k, (a, b) in enumerate(pieces)
        if t < b and (e > a or t >= a)
    )
    assert sorted(zip(row.tolist(), piece.tolist(), strict=True)) == expected


def test_more_cut_slots_than_the_rollups_take_are_read_from_the_events(
    edge_store: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    monkeypatch.setattr(edges_mod, "MAX_CUT_SLOTS", 3)
    log, db = edge_store
    args = ["--start", "2024-03-29T20:07:13Z", "--end", "2024-03-30T20:07:13Z", "--interval", "1h"]
    assert "answered from the events" in same_report(log, db, args)


@pytest.mark.slow
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rows=rows_strategy,
    seed=st.integers(0, 2**32),
    start=st.integers(-3600, 4 * 86_400),
    length=st.integers(1, 4 * 86_400),
)
def test_any_range_reports_from_the_store_as_from_the_files(
    rows: list[tuple[Any, ...]],
    seed: int,
    start: int,
    length: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    rng = random.Random(seed)
    begin = BASE + timedelta(seconds=start, microseconds=rng.choice([0, 0, 250_000]))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        log = write(tmp / "log.csv", [r for _, r in csv_rows(rows)])
        db = tmp / "s.duckdb"
        ingest(db, log)
        for _ in range(3):
            args = [
                "--start", stamp(begin),
                "--end", stamp(begin + timedelta(seconds=length)),
                "--interval", rng.choice(["1 hour", "3 hours", "daily", "weekly"]),
                "--tz", rng.choice(ZONES),
                "--category", rng.choice(["any", "ide", "login"]),
            ]  # fmt: skip
            if rng.random() < 0.4:
                args += ["--org", rng.choice(["o1", "o2"])]
            if rng.random() < 0.2:
                args += ["--user", "u2"]
            same_report(log, db, args)


# ------------------------------------------------------------- what a server asks


def test_active_users_from_the_rollups_bound_those_of_the_events(
    edge_store: tuple[Path, Path],
) -> None:
    _, db = edge_store
    base = int(BASE.timestamp()) * SECOND
    with Store.open(db, read_only=True) as store:
        view = store.events_view()

        def counted(lo: int, hi: int, filters: Filters) -> int:
            where = "list_contains($categories, category)"
            params: dict[str, object] = {"categories": list(filters.categories)}
            if filters.orgs is not None:
                where += " AND list_contains($orgs, org)"
                params["orgs"] = list(filters.orgs)
            return int(
                store.con.execute(
                    f"""SELECT count(DISTINCT user_id) FROM {view} WHERE {where} AND ts < $hi
                        AND (coalesce(end_us, ts + $hb) > $lo OR ts >= $lo)""",
                    params | {"lo": lo, "hi": hi, "hb": HEARTBEAT_US},
                ).fetchall()[0][0]
            )

        for filters in (
            Filters(categories=CATEGORIES),
            Filters(categories=["ide"], orgs=["o2"]),
            Filters(categories=["tunnel"]),
        ):
            for lo, hi in [
                (base, base + 4 * DAY_US),  # slot edges: exactly
                (base + 3 * 3600 * SECOND, base + 4 * 3600 * SECOND),
                (base + 50 * 3600 * SECOND, base + 51 * 3600 * SECOND),
            ]:
                told = store.rollup_active_users(lo, hi, filters, HEARTBEAT_US)
                assert told == counted(lo, hi, filters), (lo, hi, filters)
            # Off the slot edges: the users of the cut slots, at least those of the range.
            lo, hi = base + 3 * 3600 * SECOND + 14 * 60 * SECOND, base + 28 * 3600 * SECOND + 1
            told = store.rollup_active_users(lo, hi, filters, HEARTBEAT_US)
            floor_lo, ceil_hi = lo - lo % SLOT_US, hi - hi % SLOT_US + SLOT_US
            assert told is not None
            assert counted(lo, hi, filters) <= told == counted(floor_lo, ceil_hi, filters)
        # Another heartbeat is left to the events.
        assert store.rollup_active_users(base, base + DAY_US, filters, 2 * HEARTBEAT_US) is None


def test_organizations_named_in_any_case_are_found_in_the_rollups(tmp_path: Path) -> None:
    rows = [
        ("2024-01-01T00:10:00Z", "u1", "ide", "Org-A", ""),
        ("2024-01-01T00:11:00Z", "u1", "ide", "b", ""),
    ]
    db = tmp_path / "s.duckdb"
    ingest(db, write(tmp_path / "a.csv", rows))
    asked = ["org-a", "B", "c"]
    with Store.open(db, read_only=True) as store:
        view = store.events_view()
        assert store.rollup_orgs_like(asked) == values_like(store.con, view, "org", asked)
        assert store.rollup_orgs_like(asked) == {"Org-A", "b"}
    # An event of an unknown category is not in the rollups: the events are asked.
    ingest(db, write(tmp_path / "b.csv", [("2024-01-01T00:12:00Z", "u2", "vim", "c", "")]))
    with Store.open(db, read_only=True) as store:
        assert store.rollup_orgs_like(asked) is None
