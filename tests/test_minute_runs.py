"""Runs of minutes in the store (``ingest --coder``): each run is its minutes, never twice.

A store fed runs over several ingests (overlapping, touching, extending and
repeating what is stored, as a session read while open and again once
closed) must answer every report, through every path (rollups, cut slots,
the events), byte for byte as a file of the union of their minutes does;
``info`` counts those minutes; file events equal to stored minutes are not
counted twice either way. The expected minutes are computed here in plain
Python.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import pytest

from activity_report.store import Store
from activity_report.store import edges as edges_mod

from .conftest import run_cli, write_csv

MINUTE = 60_000_000
#: 2024-03-30T22:00:00Z, in minutes: the days around cross Europe/Berlin's DST change.
BASE = 1_711_836_000_000_000 // MINUTE
USERS = ("u1", "u2", "u3")
CATEGORIES = ("ide", "tunnel", "login", "sftp")  # sftp: unknown to reports
ORGS = ("o1", "o2", None)

Minute = tuple[str, str, str | None, int]  # user, category, org, minute

#: Reports compared (with --start/--end, at seconds off the minutes, and more).
REPORTS: tuple[tuple[str, ...], ...] = (
    ("--interval", "15 minutes"),  # the slot rollups
    ("--interval", "1 day", "--tz", "Europe/Berlin"),  # the daily rollups
    ("--interval", "7 minutes", "--start", "2024-03-31T00:00:07Z", "--end", "2024-03-31T03:00:00Z"),
    ("--interval", "1 hour", "--start", "2024-03-30T23:59:31Z", "--end", "2024-03-31T01:14:29Z"),
    ("--interval", "20 minutes", "--category", "tunnel", "--org", "o1"),
    ("--interval", "1 hour", "--org", "o1", "--org", "o2"),  # two orgs: the events
    ("--interval", "1 hour", "--heartbeat", "30s", "--category", "ide"),  # not the default
    ("--interval", "2 hours", "--user", "u2", "--start", "2024-03-31T01:00:30Z"),
)


def runs_of(minutes: set[Minute]) -> list[tuple[int, int, str, str, str | None]]:
    """The maximal runs of ``minutes``: (start µs, end µs, user, category, org)."""
    runs: list[tuple[int, int, str, str, str | None]] = []
    for user, category, org, m in sorted(minutes, key=lambda x: (x[0], x[1], str(x[2]), x[3])):
        last = runs[-1] if runs else None
        if last and last[2:] == (user, category, org) and last[1] == m * MINUTE:
            runs[-1] = (last[0], (m + 1) * MINUTE, user, category, org)
        else:
            runs.append((m * MINUTE, (m + 1) * MINUTE, user, category, org))
    return runs


def values_sql(minutes: set[Minute]) -> str:
    """SQL: the runs of ``minutes`` as ``Store.ingest_runs`` takes them."""
    rows = runs_of(minutes)
    if not rows:
        return (
            "SELECT 0::BIGINT AS ts, 0::BIGINT AS end_us, ''::VARCHAR AS user_id, "
            "''::VARCHAR AS category, NULL::VARCHAR AS org WHERE false"
        )
    values = ", ".join(
        f"({s}, {e}, '{u}', '{c}', {'NULL' if o is None else repr(o)})" for s, e, u, c, o in rows
    )
    return f"SELECT * FROM (VALUES {values}) t(ts, end_us, user_id, category, org)"


def sessions(rng: random.Random, count: int, around: int) -> set[Minute]:
    """The minutes of ``count`` random sessions starting near minute ``around``."""
    out: set[Minute] = set()
    for _ in range(count):
        user, category, org = rng.choice(USERS), rng.choice(CATEGORIES), rng.choice(ORGS)
        first = around + rng.randrange(-120, 120)
        for m in range(first, first + rng.choice((1, 1, 2, 5, 14, 15, 16, 40, 200))):
            out.add((user, category, org, m))
    return out


def minutes_file(path: Path, minutes: set[Minute] | list[Minute]) -> Path:
    """The minutes as an id-less event file, one minute long each (as Coder's are counted)."""
    from datetime import UTC, datetime, timedelta

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    rows = [
        [
            (epoch + timedelta(minutes=m)).isoformat(),
            (epoch + timedelta(minutes=m + 1)).isoformat(),
            user,
            category,
            org,
        ]
        for user, category, org, m in sorted(minutes, key=lambda x: (x[3], x[0], x[1], str(x[2])))
    ]
    return write_csv(path, ["time", "end_time", "user_id", "category", "organization_id"], rows)


def ingest_runs(db: Path, minutes: set[Minute]) -> dict[str, int]:
    with Store.open(db) as store:
        result = store.ingest_runs(values_sql(minutes), label="coder:test")
    return {"rows": result.rows, "new": result.new, "duplicates": result.duplicates}


def assert_same_reports(db: Path, expected: Path) -> None:
    for options in REPORTS:
        from_store = run_cli("--db", str(db), *options, "--json")
        from_file = run_cli("--events", str(expected), *options, "--json")
        assert from_store.exit_code == from_file.exit_code == 0, from_store.stderr
        assert from_store.stdout == from_file.stdout, options


@pytest.mark.slow  # each seed fills several stores, ingest by ingest
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_runs_over_several_ingests_report_as_the_union_of_their_minutes(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    db = tmp_path / "store.duckdb"
    stored: set[Minute] = set()
    reads = [sessions(rng, 30, BASE + 120 + 60 * i) for i in range(3)]
    # A read again, and a read of every earlier minute and more: nothing twice.
    reads += [reads[0] | sessions(rng, 5, BASE + 200), set.union(*reads)]
    for read in reads:
        counts = ingest_runs(db, read)
        new = len(read - stored)
        assert counts == {"rows": len(read), "new": new, "duplicates": len(read) - new}
        stored |= read
        assert_same_reports(db, minutes_file(tmp_path / "expected.csv", stored))
    info = json.loads(run_cli("info", "--db", str(db), "--json").stdout)
    assert info["events"] == len(stored)
    categories = {c: sum(1 for m in stored if m[1] == c) for c in CATEGORIES}
    assert {c["category"]: c["events"] for c in info["categories"]} == {
        c: n for c, n in categories.items() if n
    }
    with duckdb.connect(str(db), read_only=True) as con:  # maximal runs, one per run
        kept = con.execute("SELECT ts, end_us, user_id, category, org FROM minute_runs").fetchall()
    assert sorted(kept, key=str) == sorted(runs_of(stored), key=str)


def test_runs_near_cut_slots_read_in_one_scan_of_them_all_report_as_their_minutes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(edges_mod, "SCANS", 0)  # the way of more cut slots than a few
    rng = random.Random(7)
    db = tmp_path / "store.duckdb"
    minutes = set.union(*(sessions(rng, 30, BASE + 120 + 60 * i) for i in range(3)))
    ingest_runs(db, minutes)
    with Store.open(db, read_only=True) as store:
        assert store._stored_kinds() == (True, False)  # runs, and no event of the table
    assert_same_reports(db, minutes_file(tmp_path / "expected.csv", minutes))


def test_a_session_stored_open_and_read_again_closed_counts_once_with_its_real_end(
    tmp_path: Path,
) -> None:
    db = tmp_path / "store.duckdb"
    org: str | None = "o1"
    opened = {("u1", "tunnel", org, BASE + 130 + i) for i in range(31)}  # read while open
    closed = {("u1", "tunnel", org, BASE + 130 + i) for i in range(95)}  # its real end
    touching = {("u1", "tunnel", org, BASE + 225 + i) for i in range(3)}  # the next minute on
    assert ingest_runs(db, opened)["new"] == 31
    assert ingest_runs(db, closed | touching) == {"rows": 98, "new": 67, "duplicates": 31}
    with duckdb.connect(str(db), read_only=True) as con:
        runs = con.execute("SELECT ts, end_us FROM minute_runs").fetchall()
    assert runs == [((BASE + 130) * MINUTE, (BASE + 228) * MINUTE)]
    assert_same_reports(db, minutes_file(tmp_path / "expected.csv", closed | touching))


@pytest.mark.slow  # four stores filled by ingests
def test_minutes_stored_as_events_are_not_counted_twice_either_way(tmp_path: Path) -> None:
    """Minutes in the events table (as an earlier release stored Coder's, or a file's
    equal events) and runs over the same minutes: each minute counts once."""
    rng = random.Random(7)
    db = tmp_path / "store.duckdb"
    first = sessions(rng, 25, BASE + 150)
    ran = run_cli("ingest", "--db", str(db), str(minutes_file(tmp_path / "first.csv", first)))
    assert ran.exit_code == 0, ran.stderr
    later = sessions(rng, 25, BASE + 180) | set(list(first)[::2])
    counts = ingest_runs(db, later)
    assert counts["new"] == len(later - first)
    stored = first | later
    assert_same_reports(db, minutes_file(tmp_path / "expected.csv", stored))
    # A file of stored minutes, twice over in part: only the copies beyond one are new.
    again = sorted(later, key=str)[:40]
    twice = minutes_file(tmp_path / "again.csv", again + again[:10])
    added = run_cli("ingest", "--db", str(db), str(twice), "--json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["new"] == 10
    # One file holds both copies (across files, a content counts as often as in one).
    assert_same_reports(db, minutes_file(tmp_path / "expected.csv", [*stored, *again[:10]]))
