"""The store's rollups answer exactly what the events would, however the log was ingested."""

from __future__ import annotations

import csv
import random
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from activity_report.backends.protocol import Filters
from activity_report.engine import data_span
from activity_report.sources import CATEGORIES, diagnose
from activity_report.store import Store, rollup_slots
from activity_report.store import rollups as rollup_module
from activity_report.store.rollup_answers import answerable
from activity_report.store.rollups import DAY_US, HEARTBEAT_US, SLOT_US

from .conftest import run_cli

BASE = datetime(2024, 3, 29, 20, 0, tzinfo=UTC)  # the weekend Europe moves its clocks
HEADER = ("time", "user_id", "category", "organization_id", "end_time")
ZONES = ("UTC", "Europe/Berlin", "Asia/Kathmandu", "America/St_Johns", "Australia/Lord_Howe")
INTERVALS = ("15 minutes", "1 hour", "3 hours", "daily", "weekly", "monthly")

rows_strategy = st.lists(
    st.tuples(
        st.integers(0, 4 * 24 * 60 * 60),  # seconds after BASE
        st.sampled_from(["u1", "u2", "u3"]),
        st.sampled_from(["ide", "IDE", "login", "app", "tunnel", "web terminal", "deploy"]),
        st.sampled_from(["", "o1", "o2"]),
        st.sampled_from([None, None, 0, 7 * 60, 50 * 60, 200 * 60]),  # seconds of coverage
        st.integers(1, 2),  # copies
    ),
    min_size=1,
    max_size=40,
)


def csv_rows(rows: Sequence[tuple[Any, ...]]) -> list[tuple[int, tuple[str, ...]]]:
    out: list[tuple[int, tuple[str, ...]]] = []
    for second, user, category, org, length, copies in rows:
        start = BASE + timedelta(seconds=second)
        end = "" if length is None else (start + timedelta(seconds=length)).isoformat()
        out += [(second, (start.isoformat(), user, category, org, end))] * copies
    return out


def write(path: Path, rows: Sequence[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def rollups(db: Path, table: str = "rollups") -> list[tuple[Any, ...]]:
    """The rows of ``table`` (``rollups`` or ``rollups_daily``) with user ids for numbers,
    one per filter: a single row as the four it stands for (see :func:`stored`)."""
    time = "slot" if table == "rollups" else "day"
    rows = f"SELECT {time} AS t, category, org, uid, count, duration, single FROM {table}"
    return query(
        db,
        f"""SELECT r.t, r.category, r.org, u.user_id, r.count, r.duration FROM (
                SELECT t, category, org, uid, count, duration FROM ({rows})
                UNION ALL SELECT t, NULL, org, uid, count, duration FROM ({rows}) WHERE single
                UNION ALL SELECT t, category, NULL, uid, count, duration FROM ({rows}) WHERE single
                UNION ALL SELECT t, NULL, NULL, uid, count, duration FROM ({rows}) WHERE single
            ) r JOIN rollup_users u USING (uid) ORDER BY ALL""",
    )


def stored(db: Path, table: str = "rollups") -> list[tuple[Any, ...]]:
    """The rows of ``table`` as stored, ``single`` included, with user ids for numbers."""
    time = "slot" if table == "rollups" else "day"
    return query(
        db,
        f"SELECT r.{time}, r.category, r.org, u.user_id, r.count, r.duration, r.single "
        f"FROM {table} r JOIN rollup_users u USING (uid) ORDER BY ALL",
    )


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def daily_sums(slots: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The slot rows summed per UTC day, as ``rollups_daily`` should hold them."""
    sums: dict[tuple[Any, ...], list[int]] = {}
    for slot, category, org, user, count, duration in slots:
        total = sums.setdefault((slot - slot % DAY_US, category, org, user), [0, 0])
        total[0] += count
        total[1] += duration
    return sorted(((*key, *total) for key, total in sums.items()), key=repr)


def ingest(db: Path, *files: Path) -> None:
    run = run_cli("ingest", "--db", str(db), *map(str, files))
    assert run.exit_code == 0, run.stderr


@pytest.mark.slow  # stores ingested and compared per example
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=rows_strategy, seed=st.integers(0, 2**32))
def test_rollups_answer_as_the_events_do(
    rows: list[tuple[Any, ...]], seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    rng = random.Random(seed)
    log = csv_rows(rows)
    rng.shuffle(log)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        whole = write(tmp / "whole.csv", [r for _, r in log])
        one = tmp / "one.duckdb"
        ingest(one, whole)
        # The same log in pieces by time, in random order, some twice.
        cuts = sorted(rng.sample(range(1, 4 * 86_400), rng.randrange(1, 5)))
        edges = [0, *cuts, 4 * 86_400 + 1]
        pieces = [
            write(tmp / f"p{i}.csv", [r for s, r in log if lo <= s < hi])
            for i, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False))
        ]
        order = pieces + rng.sample(pieces, rng.randrange(0, len(pieces) + 1))
        rng.shuffle(order)
        many = tmp / "many.duckdb"
        for piece in order:
            ingest(many, piece)
        assert rollups(many) == rollups(one)
        assert rollups(many, "rollups_daily") == rollups(one, "rollups_daily")
        # Which rows are single depends on the numbers only, not on the ingests.
        assert stored(many) == stored(one)
        assert stored(many, "rollups_daily") == stored(one, "rollups_daily")
        assert sorted(rollups(one, "rollups_daily"), key=repr) == daily_sums(rollups(one))
        for _ in range(3):
            zone = rng.choice(ZONES)
            args = [
                "--interval",
                rng.choice(INTERVALS),
                "--tz",
                zone,
                "--category",
                rng.choice(["any", "ide", "web_terminal", "login"]),
                "--json",
            ]
            if rng.random() < 0.5:
                args += ["--start", "2024-03-29", "--end", "2024-04-03"]
            if rng.random() < 0.4:
                args += ["--org", rng.choice(["o1", "o2"])]
            if rng.random() < 0.2:
                args += ["--user", "u2"]
            if rng.random() < 0.2:
                args += ["--heartbeat", "2 minutes"]  # not the rollups'
            from_events = run_cli("--events", str(whole), *args)
            from_store = run_cli("--db", str(many), *args, "--verbose")
            assert from_store.exit_code == from_events.exit_code == 0, from_store.stderr
            assert from_store.stdout == from_events.stdout, args
            # With dates for edges in UTC and the default heartbeat, the rollups answer
            # (a default end is raised only to the interval's unit: maybe not a slot edge).
            if "--heartbeat" not in args and zone == "UTC" and "--start" in args:
                assert "answered from the 15-minute rollups" in from_store.stderr, args


@pytest.mark.slow  # two stores per example
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=rows_strategy)
def test_users_computed_in_parts_give_the_same_rollups(
    rows: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A big refresh computes its users in parts: by uid modulo the number of
    # parts, or (past _SCANNED_PARTS of them) by ranges of uids once the table is
    # sorted by user; a part of at most 3 events makes a part of nearly every user.
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        log = write(tmp / "log.csv", [r for _, r in csv_rows(rows)])
        whole = tmp / "whole.duckdb"
        ingest(whole, log)
        for scanned, name in ((10**9, "modulo"), (0, "ranges")):
            parts = tmp / f"{name}.duckdb"
            with monkeypatch.context() as patch:
                patch.setattr(rollup_slots, "_PART_ROWS", 3)
                patch.setattr(rollup_slots, "_SCANNED_PARTS", scanned)
                ingest(parts, log)
            assert rollups(parts) == rollups(whole), name
            assert rollups(parts, "rollups_daily") == rollups(whole, "rollups_daily"), name


def test_parts_by_ranges_of_users_cover_every_user_once() -> None:
    con = duckdb.connect()
    con.execute(
        "CREATE TEMP TABLE rollup_hits AS SELECT CAST(i % 7 AS INTEGER) AS uid, i AS ts "
        "FROM range(50) t(i) WHERE i % 7 <> 3"  # user 3 has no event
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rollup_slots, "_PART_ROWS", 15)
        patch.setattr(rollup_slots, "_SCANNED_PARTS", 1)
        parts = rollup_slots._parts(con, 43)
    # User 0 has 8 events, the others 7: a part ends at its 15th event or more,
    # the last part takes what is left, up.
    assert parts == ["uid BETWEEN 0 AND 1", "uid BETWEEN 2 AND 5", "uid >= 6"]
    seen = [
        uid
        for part in parts
        for (uid,) in con.execute(f"SELECT uid FROM rollup_hits WHERE {part}").fetchall()
    ]
    assert sorted(seen) == sorted(
        uid for (uid,) in con.execute("SELECT uid FROM rollup_hits").fetchall()
    )
    assert con.execute("SELECT uid FROM rollup_hits").fetchall() == sorted(
        con.execute("SELECT uid FROM rollup_hits").fetchall()
    )  # sorted by user, so a range's scan skips the others' row groups


@pytest.mark.parametrize(("given", "during"), [(None, None), ("1GiB", "1.0 GiB")])
def test_a_refresh_works_within_its_memory_limit_then_puts_the_default_back(
    given: str | None, during: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = duckdb.connect()
    setting = "SELECT current_setting('memory_limit')"
    default = con.execute(setting).fetchall()[0][0]
    seen: list[str] = []
    monkeypatch.setattr(
        rollup_module,
        "_prepare",
        lambda con, scope, events: seen.append(con.execute(setting).fetchall()[0][0]),
    )
    rollup_module.refresh(con, "SELECT 1", given)
    assert seen == [default if given is None else during]
    assert con.execute(setting).fetchall()[0][0] == default


@pytest.mark.parametrize(
    ("flag", "during"), [([], "1.0 GiB"), (["--memory-limit", "3GB"], "2.7 GiB")]
)
def test_an_ingest_refreshes_within_1_gib_unless_given_a_memory_limit(
    flag: list[str], during: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_MEMORY_LIMIT", raising=False)
    seen: list[str] = []
    real = rollup_module._prepare

    def spy(con: duckdb.DuckDBPyConnection, scope: str, events: str) -> None:
        seen.append(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
        real(con, scope, events)

    monkeypatch.setattr(rollup_module, "_prepare", spy)
    log = write(tmp_path / "a.csv", [("2024-01-01T00:10:00Z", "u1", "ide", "", "")])
    run = run_cli("ingest", "--db", str(tmp_path / "s.duckdb"), *flag, str(log))
    assert run.exit_code == 0, run.stderr
    # The last refresh is the ingest's (a new store's schema has one of its own).
    assert seen[-1] == during


def test_a_failed_refresh_raises_its_own_error(monkeypatch: pytest.MonkeyPatch) -> None:
    con = duckdb.connect()
    con.execute("BEGIN TRANSACTION")
    monkeypatch.setattr(
        rollup_module,
        "_prepare",
        lambda con, scope, events: con.execute("SELECT error('boom')"),
    )
    with pytest.raises(duckdb.InvalidInputException, match="boom"):
        rollup_module.refresh(con, "SELECT 1", "1GiB")


def test_what_the_rollups_can_answer() -> None:
    day = 86_400_000_000
    edges = [0, day, 2 * day]
    anything = Filters(categories=CATEGORIES)
    assert answerable(edges, anything, 60_000_000)
    assert answerable(edges, Filters(categories=["ide"], orgs=["o1"], users=["u"]), 60_000_000)
    assert not answerable(edges, anything, 30_000_000)  # another heartbeat
    assert not answerable([0, SLOT_US + 1_000_000], anything, 60_000_000)  # unaligned edge
    assert not answerable(edges, Filters(categories=["ide", "app"]), 60_000_000)
    assert not answerable(edges, Filters(categories=CATEGORIES, orgs=["a", "b"]), 60_000_000)


def test_a_reingest_of_known_rows_leaves_the_rollups_alone(tmp_path: Path) -> None:
    log = write(
        tmp_path / "a.csv",
        [
            ("2024-01-01T00:10:00Z", "u1", "ide", "", ""),
            ("2024-01-01T00:14:30Z", "u1", "ide", "", ""),
        ],
    )
    db = tmp_path / "s.duckdb"
    ingest(db, log)
    before = rollups(db)
    # A crossing minute: 00:14:30 covers until 00:15:30, in two slots.
    assert [(r[0] % (4 * SLOT_US), r[1], r[4], r[5]) for r in before if r[1] is None] == [
        (0, None, 2, 90_000_000),
        (SLOT_US, None, 0, 30_000_000),
    ]
    con = duckdb.connect(str(db))
    con.execute("UPDATE rollups SET count = count + 100")  # a mark a rewrite would erase
    con.close()
    ingest(db, log)
    assert [r[4] for r in rollups(db)] == [r[4] + 100 for r in before]


def test_heartbeat_users_and_session_users_in_one_ingest(tmp_path: Path) -> None:
    # u1 sends heartbeats only (the lead() plan); u2 a session and a heartbeat
    # inside it (the general plan). Both cross the 00:15 slot edge.
    log = write(
        tmp_path / "a.csv",
        [
            ("2024-01-01T00:14:00Z", "u1", "ide", "", ""),
            ("2024-01-01T00:14:30Z", "u1", "ide", "", ""),
            ("2024-01-01T00:15:10Z", "u1", "ide", "", ""),
            ("2024-01-01T00:10:00Z", "u2", "ide", "o1", "2024-01-01T00:20:00Z"),
            ("2024-01-01T00:19:30Z", "u2", "app", "o1", ""),
        ],
    )
    db = tmp_path / "s.duckdb"
    ingest(db, log)
    second = 1_000_000
    got = [(r[0] % (4 * SLOT_US) // SLOT_US, r[1], r[2], r[3], r[4], r[5]) for r in rollups(db)]
    assert sorted(got, key=repr) == sorted(
        [
            # u1: [00:14:00, 00:16:10), for any category and for ide alike.
            (0, None, None, "u1", 2, 60 * second),
            (1, None, None, "u1", 1, 70 * second),
            (0, "ide", None, "u1", 2, 60 * second),
            (1, "ide", None, "u1", 1, 70 * second),
            # u2: [00:10:00, 00:20:30) in any category; ide and app apart; o1 as all.
            *[
                row
                for org in (None, "o1")
                for row in (
                    (0, None, org, "u2", 1, 300 * second),
                    (1, None, org, "u2", 1, 330 * second),
                    (0, "ide", org, "u2", 1, 300 * second),
                    (1, "ide", org, "u2", 0, 300 * second),
                    (1, "app", org, "u2", 1, 60 * second),
                )
            ],
        ],
        key=repr,
    )


def test_a_day_summed_again_keeps_the_stored_slots_of_organizations_the_ingest_never_met(
    tmp_path: Path,
) -> None:
    # The day's slots of o1 are stored; the second ingest touches the same day
    # with o2 only, so the day rows of o1, and of all organizations, add both.
    first = write(tmp_path / "a.csv", [("2024-01-01T10:00:00Z", "u1", "ide", "o1", "")])
    second = write(tmp_path / "b.csv", [("2024-01-01T12:00:00Z", "u1", "app", "o2", "")])
    db, whole = tmp_path / "s.duckdb", tmp_path / "whole.duckdb"
    ingest(db, first)
    ingest(db, second)
    ingest(whole, first, second)
    days = rollups(db, "rollups_daily")
    assert days == rollups(whole, "rollups_daily")
    assert sorted(days, key=repr) == daily_sums(rollups(db))
    minute = 60 * 1_000_000
    assert [r[1:] for r in days if r[1] is None and r[2] is None] == [
        (None, None, "u1", 2, 2 * minute)
    ]
    assert {(r[1], r[2]) for r in days} == {
        (None, None),
        ("ide", None),
        ("app", None),
        (None, "o1"),
        (None, "o2"),
        ("ide", "o1"),
        ("app", "o2"),
    }


@pytest.mark.slow  # a store per example
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=rows_strategy)
def test_the_span_from_the_rollups_is_the_span_of_the_events(
    rows: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db = tmp / "s.duckdb"
        ingest(db, write(tmp / "a.csv", [r for _, r in csv_rows(rows)]))
        with Store.open(db, read_only=True) as store:
            view = store.events_view()
            for categories in (CATEGORIES, ["ide"], ["app"], ["login"]):
                for orgs in (None, ["o1"]):
                    for users in (None, ["u2"]):
                        filters = Filters(categories=categories, orgs=orgs, users=users)
                        answered, span = store.rollup_span(filters, HEARTBEAT_US)
                        assert answered
                        assert span == data_span(store.con, view, filters, HEARTBEAT_US), filters
            # Other heartbeats, and several organizations, are left to the events.
            assert store.rollup_span(Filters(categories=CATEGORIES), 2 * HEARTBEAT_US) == (
                False,
                None,
            )
            assert store.rollup_span(
                Filters(categories=CATEGORIES, orgs=["o1", "o2"]), HEARTBEAT_US
            ) == (False, None)


def test_the_store_counts_its_unknown_categories_without_a_check_pass(tmp_path: Path) -> None:
    log = [
        ("2024-01-01T00:10:00Z", "u1", "ide", "", ""),
        ("2024-01-01T00:11:00Z", "u1", "vim", "", ""),
        ("2024-01-01T00:12:00Z", "u2", "vim", "o1", ""),
        ("2024-01-01T00:13:00Z", "u2", "emacs", "", ""),
    ]
    db = tmp_path / "s.duckdb"
    ingest(db, write(tmp_path / "a.csv", log[:1]))
    with Store.open(db, read_only=True) as store:
        assert store.diagnostics() == diagnose(store.con, store.events_view())
        assert store.diagnostics().unknown_rows == 0
    ingest(db, write(tmp_path / "b.csv", log[1:]))
    with Store.open(db, read_only=True) as store:
        told = store.diagnostics()
        assert told == diagnose(store.con, store.events_view())
        assert (told.total_rows, told.unknown_rows, told.unknown_values) == (
            4,
            3,
            [("vim", 2), ("emacs", 1)],
        )
