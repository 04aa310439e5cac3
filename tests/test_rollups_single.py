"""A user's slot (day) of one category and one organization is one rollup row, ``single``,
that answers every filter; any other keeps a row per filter. Reports stay those of the files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from activity_report.store import MIGRATIONS, Store

from .coder_db import CoderDB, _uuid, generate
from .conftest import run_cli
from .test_rollups import ingest, query, rollups, stored, write

SLOT = 15 * 60 * 1_000_000
#: 2024-01-01 10:00 UTC, a slot's start, and its day.
A = 1_704_103_200_000_000
DAY = 1_704_067_200_000_000

#: (time, user, category, org, end): users of every kind of slot.
ROWS = [
    # u1: one category, one org: single slots, a single day.
    ("2024-01-01T10:00:00Z", "u1", "ide", "o1", ""),
    ("2024-01-01T10:07:00Z", "u1", "ide", "o1", ""),
    # u2: two categories in a slot.
    ("2024-01-01T10:00:00Z", "u2", "ide", "o1", ""),
    ("2024-01-01T10:05:00Z", "u2", "app", "o1", "2024-01-01T10:09:00Z"),
    # u3: two organizations in a slot.
    ("2024-01-01T10:00:00Z", "u3", "ide", "o1", ""),
    ("2024-01-01T10:01:00Z", "u3", "ide", "o2", ""),
    # u4: no organization and one, in a slot.
    ("2024-01-01T10:00:00Z", "u4", "ide", "", "2024-01-01T10:02:00Z"),
    ("2024-01-01T10:00:30Z", "u4", "ide", "o1", "2024-01-01T10:03:00Z"),
    # u5: no organization at all: never single.
    ("2024-01-01T10:00:00Z", "u5", "ide", "", ""),
    # u6: a heartbeat reaching into the next slot, where an app starts: that slot
    # mixed, the first single; the day mixed by that one slot.
    ("2024-01-01T10:14:30Z", "u6", "ide", "o1", ""),
    ("2024-01-01T10:20:00Z", "u6", "app", "o1", ""),
    # u7: each slot single, of another category and org: the day mixed.
    ("2024-01-01T10:00:00Z", "u7", "ide", "o1", ""),
    ("2024-01-01T11:00:00Z", "u7", "app", "o2", ""),
    # u8, u9: single slots of one category in two orgs, of one org in two categories.
    ("2024-01-01T10:00:00Z", "u8", "ide", "o1", ""),
    ("2024-01-01T12:00:00Z", "u8", "ide", "o2", ""),
    ("2024-01-01T10:00:00Z", "u9", "ide", "o1", ""),
    ("2024-01-01T12:00:00Z", "u9", "app", "o1", ""),
]


def flags(db: Path, table: str = "rollups") -> dict[tuple[str, int], list[tuple[Any, ...]]]:
    """Per (user, slot or day): its stored rows' (category, org, single)."""
    found: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for time, category, org, user, _n, _d, single in stored(db, table):
        found.setdefault((user, time), []).append((category, org, single))
    return {key: sorted(rows, key=repr) for key, rows in found.items()}


def filters_of(categories: list[str | None], orgs: list[str | None]) -> list[tuple[Any, ...]]:
    return sorted(((c, o, False) for c in categories for o in orgs), key=repr)


def mixed(*filters: tuple[str | None, str | None]) -> list[tuple[Any, ...]]:
    return sorted(((c, o, False) for c, o in filters), key=repr)


def assert_reports_as_files(db: Path, log: Path) -> None:
    for category in ("any", "ide", "app", "login"):
        for org in (None, "o1", "o2"):
            for interval in ("15 minutes", "daily"):
                args = ["--category", category, "--interval", interval, "--json"]
                args += ["--start", "2024-01-01", "--end", "2024-01-03"]
                args += [] if org is None else ["--org", org]
                files = run_cli("--events", str(log), *args)
                store = run_cli("--db", str(db), *args, "--verbose")
                assert files.exit_code == store.exit_code == 0, store.stderr
                assert store.stdout == files.stdout, args
                assert "answered from the 15-minute rollups" in store.stderr, args


def test_only_a_slot_of_one_category_and_one_org_is_a_single_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    log = write(tmp_path / "log.csv", ROWS)
    db = tmp_path / "s.duckdb"
    ingest(db, log)
    slots, days = flags(db), flags(db, "rollups_daily")
    assert slots[("u1", A)] == [("ide", "o1", True)]
    assert days[("u1", DAY)] == [("ide", "o1", True)]
    assert slots[("u2", A)] == filters_of([None, "app", "ide"], [None, "o1"])
    assert slots[("u3", A)] == filters_of([None, "ide"], [None, "o1", "o2"])
    assert slots[("u4", A)] == filters_of([None, "ide"], [None, "o1"])
    assert slots[("u5", A)] == filters_of([None, "ide"], [None])
    assert slots[("u6", A)] == [("ide", "o1", True)]
    assert slots[("u6", A + SLOT)] == filters_of([None, "app", "ide"], [None, "o1"])
    assert days[("u6", DAY)] == filters_of([None, "app", "ide"], [None, "o1"])
    assert slots[("u7", A)] == [("ide", "o1", True)]
    assert slots[("u7", A + 4 * SLOT)] == [("app", "o2", True)]
    assert days[("u7", DAY)] == mixed(
        (None, None), ("ide", None), ("app", None), (None, "o1"), (None, "o2"),
        ("ide", "o1"), ("app", "o2"),
    )  # fmt: skip
    assert slots[("u8", A + 8 * SLOT)] == [("ide", "o2", True)]
    assert days[("u8", DAY)] == mixed(
        (None, None), ("ide", None), (None, "o1"), (None, "o2"), ("ide", "o1"), ("ide", "o2")
    )
    assert slots[("u9", A + 8 * SLOT)] == [("app", "o1", True)]
    assert days[("u9", DAY)] == mixed(
        (None, None), ("ide", None), ("app", None), (None, "o1"), ("ide", "o1"), ("app", "o1")
    )
    for user in ("u2", "u3", "u4", "u5"):
        assert not any(single for _, _, single in days[(user, DAY)]), user
    assert_reports_as_files(db, log)


@pytest.mark.slow  # stores filled ingest by ingest
def test_a_single_slot_becomes_mixed_when_a_later_ingest_adds_another_category(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    first = write(tmp_path / "first.csv", ROWS[:2])
    later_rows = [
        ("2024-01-01T10:10:00Z", "u1", "tunnel", "o1", ""),  # the same slot, another category
        ("2024-01-01T12:00:00Z", "u1", "ide", "o2", ""),  # the same day, another org
    ]
    later = write(tmp_path / "later.csv", later_rows)
    db, whole = tmp_path / "s.duckdb", tmp_path / "whole.duckdb"
    ingest(db, first)
    assert flags(db)[("u1", A)] == [("ide", "o1", True)]
    ingest(db, later)
    ingest(db, first)  # again: nothing counts twice
    slots, days = flags(db), flags(db, "rollups_daily")
    assert slots[("u1", A)] == filters_of([None, "ide", "tunnel"], [None, "o1"])
    assert slots[("u1", A + 8 * SLOT)] == [("ide", "o2", True)]
    assert days[("u1", DAY)] == mixed(
        (None, None), ("ide", None), ("tunnel", None), (None, "o1"), (None, "o2"),
        ("ide", "o1"), ("tunnel", "o1"), ("ide", "o2"),
    )  # fmt: skip
    ingest(whole, write(tmp_path / "all.csv", [*ROWS[:2], *later_rows]))
    assert stored(db) == stored(whole)
    assert stored(db, "rollups_daily") == stored(whole, "rollups_daily")
    assert_reports_as_files(db, write(tmp_path / "log.csv", [*ROWS[:2], *later_rows]))


def to_shape_0009(db: Path) -> None:
    """Make ``db`` a store as the release before step 0010 left it: a row per filter,
    in filter order, and no record of the step."""
    shape = """SELECT {time}, category, org, uid, count, duration FROM (
                   SELECT {time}, category, org, uid, count, duration FROM {table}
                   UNION ALL SELECT {time}, NULL, org, uid, count, duration
                             FROM {table} WHERE single
                   UNION ALL SELECT {time}, category, NULL, uid, count, duration
                             FROM {table} WHERE single
                   UNION ALL SELECT {time}, NULL, NULL, uid, count, duration
                             FROM {table} WHERE single
               ) ORDER BY category NULLS FIRST, org NULLS FIRST, {time}, uid"""
    con = duckdb.connect(str(db))
    try:
        for table, time in (("rollups", "slot"), ("rollups_daily", "day")):
            con.execute(f"CREATE TABLE old AS {shape.format(time=time, table=table)}")
            con.execute(f"DROP TABLE {table}")
            con.execute(f"ALTER TABLE old RENAME TO {table}")
        con.execute("DELETE FROM migrations WHERE name = '0010_shared_rollups'")
    finally:
        con.close()


@pytest.mark.slow  # a store rebuilt in the old shape, then upgraded
def test_a_store_of_the_step_before_answers_from_events_then_is_upgraded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    log = write(tmp_path / "log.csv", ROWS)
    fresh, old = tmp_path / "fresh.duckdb", tmp_path / "old.duckdb"
    ingest(fresh, log)
    shutil.copyfile(fresh, old)
    to_shape_0009(old)
    args = ["--interval", "15 minutes", "--start", "2024-01-01", "--end", "2024-01-02", "--json"]
    reader = run_cli("--db", str(old), *args, "--verbose")
    assert reader.exit_code == 0, reader.stderr
    assert "answered from the events of the store" in reader.stderr
    assert reader.stdout == run_cli("--events", str(log), *args).stdout
    with Store.open(old) as store:
        assert store.pending == ()
        assert store.applied == tuple(m.name for m in MIGRATIONS)
    assert rollups(old) == rollups(fresh)
    assert stored(old) == stored(fresh)
    assert stored(old, "rollups_daily") == stored(fresh, "rollups_daily")
    assert_reports_as_files(old, log)


@pytest.mark.slow  # PostgreSQL
def test_a_coder_store_of_the_step_before_is_upgraded_with_its_runs(
    coder_db: CoderDB, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upgrade computes the rollups of the runs of minutes too."""
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    coder_db.reset()
    coder_db.execute(generate().sql())
    fresh, old = tmp_path / "fresh.duckdb", tmp_path / "old.duckdb"
    run = run_cli("ingest", "--coder", coder_db.url, "--db", str(fresh))
    assert run.exit_code == 0, run.stderr
    assert query(fresh, "SELECT count(*) FROM minute_runs")[0][0] > 0
    assert query(fresh, "SELECT count(*) FROM rollups WHERE single")[0][0] > 0
    shutil.copyfile(fresh, old)
    to_shape_0009(old)
    with Store.open(old) as store:
        assert store.pending == ()
    assert stored(old) == stored(fresh)
    assert stored(old, "rollups_daily") == stored(fresh, "rollups_daily")
    for options in (
        ["--interval", "1 week", "--tz", "Europe/Berlin"],
        ["--category", "tunnel", "--interval", "1 day", "--tz", "Asia/Kathmandu"],
        ["--category", "ide", "--interval", "1 month", "--org", _uuid("org-a")],
    ):
        from_store = run_cli("--db", str(old), *options, "--json")
        from_coder = run_cli("--coder", coder_db.url, *options, "--json")
        assert from_store.exit_code == from_coder.exit_code == 0, from_store.stderr
        assert from_store.stdout == from_coder.stdout, options
