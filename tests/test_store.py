"""The persistent store: ingest, rejects, users, info, and reports from it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest

from activity_report import __version__
from activity_report.errors import DataError
from activity_report.store import SCHEMA_VERSION, Store, default_path
from activity_report.store import ingest as ingest_module

from .conftest import SAMPLE, run_cli, write_csv

PARQUET = SAMPLE / "events.parquet"
CSV = SAMPLE / "events.csv"
USERS = SAMPLE / "users.csv"
SAMPLE_ROWS = 46_393
TABLES = ("meta", "events", "rejects", "users", "ingests")


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store path; the environment names no other store."""
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    monkeypatch.delenv("ACTIVITY_REPORT_EVENTS", raising=False)
    return tmp_path / "store.duckdb"


def ingest(db: Path, *paths: Path | str, options: tuple[str, ...] = ()) -> Any:
    return run_cli("ingest", "--db", str(db), *(str(p) for p in paths), *options)


def snapshot(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store, in a stable order.

    As text: DuckDB before 2.0 needs pytz to hand a TIMESTAMPTZ to Python.
    """
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT COLUMNS(*)::VARCHAR FROM {t} ORDER BY ALL").fetchall()
            for t in TABLES
        }
    finally:
        con.close()


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def events_csv(path: Path, rows: list[tuple[Any, ...]], with_id: bool = True) -> Path:
    header = ("id", "time", "user_id", "category") if with_id else ("time", "user_id", "category")
    return write_csv(path, header, rows)


# --------------------------------------------------------------------------- ingest


@pytest.mark.slow  # the sample ingested twice
def test_repeated_ingest_adds_nothing(db: Path) -> None:
    first = ingest(db, PARQUET)
    assert first.exit_code == 0, first.stderr
    assert first.stdout == ""
    assert first.stderr == (
        f"activity-report: ingested 1 file into {db}: 46,393 rows, 46,393 new, "
        "0 duplicates, 0 rejected\n"
    )
    before = snapshot(db)["events"]
    again = ingest(db, PARQUET)
    assert again.exit_code == 0, again.stderr
    assert again.stderr == (
        f"activity-report: ingested 1 file into {db}: 46,393 rows, 0 new, "
        "46,393 duplicates, 0 rejected\n"
    )
    assert snapshot(db)["events"] == before
    assert len(before) == SAMPLE_ROWS
    # The same events as CSV carry the same ids: nothing new either.
    as_csv = ingest(db, CSV, options=("--json",))
    counts = json.loads(as_csv.stdout)
    assert (counts["new"], counts["duplicates"], counts["rejected"]) == (0, SAMPLE_ROWS, 0)
    assert query(db, "SELECT file, rows, new, duplicates, rejected FROM ingests ORDER BY id") == [
        (str(PARQUET), SAMPLE_ROWS, SAMPLE_ROWS, 0, 0),
        (str(PARQUET), SAMPLE_ROWS, 0, SAMPLE_ROWS, 0),
        (str(CSV), SAMPLE_ROWS, 0, SAMPLE_ROWS, 0),
    ]
    # Both at once: every row repeats inside the batch too.
    both = json.loads(ingest(db, CSV, PARQUET, options=("--json",)).stdout)
    assert (both["new"], both["duplicates"]) == (0, 2 * SAMPLE_ROWS)
    assert snapshot(db)["events"] == before


def test_overlapping_files_with_ids(db: Path, tmp_path: Path) -> None:
    a = events_csv(
        tmp_path / "a.csv",
        [("e1", "2024-01-01T00:00:00Z", "u1", "ide"), ("e2", "2024-01-01T00:01:00Z", "u1", "ide")],
    )
    b = events_csv(
        tmp_path / "b.csv",
        [
            ("e2", "2024-01-01T00:01:00Z", "u1", "ide"),  # in a.csv too
            ("e3", "2024-01-01T00:02:00Z", "u2", "app"),
            ("e3", "2024-01-01T00:02:00Z", "u2", "app"),  # twice in b.csv
        ],
    )
    run = ingest(db, a, b, options=("--json",))
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["files"] == [
        {"file": str(a), "rows": 2, "new": 2, "duplicates": 0, "rejected": 0},
        {"file": str(b), "rows": 3, "new": 1, "duplicates": 2, "rejected": 0},
    ]
    assert query(db, "SELECT event_id FROM events ORDER BY event_id") == [("e1",), ("e2",), ("e3",)]
    c = events_csv(
        tmp_path / "c.csv",
        [("e3", "2024-01-01T00:02:00Z", "u2", "app"), ("e4", "2024-01-01T00:03:00Z", "u2", "app")],
    )
    run = ingest(db, b, c, options=("--json",))
    assert [(f["new"], f["duplicates"]) for f in json.loads(run.stdout)["files"]] == [
        (0, 3),
        (1, 1),
    ]
    assert query(db, "SELECT count(*) FROM events") == [(4,)]


def test_an_id_decides_even_when_the_content_differs(db: Path, tmp_path: Path) -> None:
    """The first row seen with an id is kept; a later one with that id is a duplicate."""
    a = events_csv(tmp_path / "a.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    b = events_csv(tmp_path / "b.csv", [("e1", "2024-01-01T05:00:00Z", "u9", "login")])
    assert ingest(db, a, b).exit_code == 0
    assert query(db, "SELECT event_id, user_id, category FROM events") == [("e1", "u1", "ide")]


def test_events_without_id_keep_as_many_copies_as_one_file_held(db: Path, tmp_path: Path) -> None:
    header = ("time", "user_id", "category", "organization_id", "end_time")
    rows = [
        ("2024-01-01T00:00:00Z", "u1", "ide", "o1", ""),
        ("2024-01-01T00:00:00Z", "u1", "ide", "o1", ""),  # the same content again: a 2nd copy
        ("2024-01-01T00:00:00Z", "u1", "ide", "", ""),  # no organization: another event
        ("2024-01-01T00:00:00Z", "u1", "ide", "o1", "2024-01-01T00:30:00Z"),  # longer: another
        ("2024-01-01T00:00:00Z", "u2", "ide", "o1", ""),  # another user
        ("2024-01-01 00:00:00+00:00", "u1", "IDE", " o1 ", ""),  # the first, a 3rd copy
    ]
    a = write_csv(tmp_path / "a.csv", header, rows)
    run = ingest(db, a, options=("--json",))
    assert run.exit_code == 0, run.stderr
    assert (json.loads(run.stdout)["new"], json.loads(run.stdout)["duplicates"]) == (6, 0)
    # Fewer copies than stored add nothing; a new event is new.
    b = write_csv(
        tmp_path / "b.csv",
        header,
        [rows[2], rows[0], rows[0], ("2024-01-02T00:00:00Z", "u1", "ide", "", "")],
    )
    run = ingest(db, b, options=("--json",))
    assert (json.loads(run.stdout)["new"], json.loads(run.stdout)["duplicates"]) == (1, 3)
    # More copies than stored add the difference; two files of one run do not add up.
    c = write_csv(tmp_path / "c.csv", header, [rows[2]] * 3)
    d = write_csv(tmp_path / "d.csv", header, [rows[2]] * 2)
    run = ingest(db, d, c, options=("--json",))
    assert [(f["new"], f["duplicates"]) for f in json.loads(run.stdout)["files"]] == [
        (1, 1),
        (1, 2),
    ]
    assert query(db, "SELECT count(*), count(org), count(end_us) FROM events") == [(9, 5, 1)]
    run = ingest(db, a, b, c, d, options=("--json",))
    assert (json.loads(run.stdout)["new"], json.loads(run.stdout)["duplicates"]) == (0, 15)
    assert query(db, "SELECT count(*) FROM events") == [(9,)]


def test_invalid_rows_are_kept_in_rejects_with_file_row_and_reason(
    db: Path, tmp_path: Path
) -> None:
    a = events_csv(
        tmp_path / "a.csv",
        [
            ("e1", "2024-01-01T00:00:00Z", "u1", "ide"),
            ("e2", "yesterday-ish", "u1", "ide"),
            ("e3", "2024-01-01T00:02:00Z", "", "ide"),
            ("e4", "2024-01-01T00:03:00Z", "u1", "Web Terminal"),
        ],
    )
    run = ingest(db, a)
    assert run.exit_code == 0, run.stderr
    assert run.stderr.splitlines() == [
        f"activity-report: ingested 1 file into {db}: 4 rows, 2 new, 0 duplicates, 2 rejected",
        "activity-report: warning: kept 2 invalid rows in the store's rejects table "
        f"(1 missing user_id, 1 unparseable time; first in {a} row 2); --strict refuses such "
        "a run",
    ]
    rejects = "SELECT source_file, source_row, problem, event_id, user_id FROM rejects ORDER BY ALL"
    assert query(db, rejects) == [
        (str(a), 2, "unparseable time", "e2", "u1"),
        (str(a), 3, "missing user_id", "e3", None),
    ]
    assert query(db, "SELECT event_id, category FROM events ORDER BY 1") == [
        ("e1", "ide"),
        ("e4", "web_terminal"),
    ]
    # Ingesting the file again keeps no reject twice.
    assert ingest(db, a).exit_code == 0
    assert len(query(db, rejects)) == 2


def test_rows_are_numbered_within_each_file_of_a_shared_scan(db: Path, tmp_path: Path) -> None:
    """CSV files with the same header are read by one scan; rows still count per file."""
    a = tmp_path / "a.csv"
    a.write_text(
        "id,time,user_id,category\na1,2024-01-01T00:00:00Z,u1,ide\na2,,u1,ide\n",
        encoding="utf-8",
    )
    b = tmp_path / "b.csv"
    b.write_text(
        "id,time,user_id,category\n"
        "b1,2024-01-01T00:00:00Z,u1,ide\n"
        "b2,2024-01-01T00:00:00Z\n"
        "b3,2024-01-01T00:00:00Z,u1,ide\n"
        "b4,2024-01-01T00:00:00Z,,ide\n",
        encoding="utf-8",
    )
    run = ingest(db, a, b)
    assert run.exit_code == 0, run.stderr
    assert query(db, "SELECT source_file, source_row, problem FROM rejects ORDER BY ALL") == [
        (str(a), 2, "missing time"),
        (str(b), 2, "too few fields"),
        (str(b), 4, "missing user_id"),
    ]
    assert query(db, "SELECT file, rows, new, rejected FROM ingests ORDER BY id") == [
        (str(a), 2, 1, 1),
        (str(b), 4, 2, 2),
    ]


def test_malformed_csv_lines_are_kept_with_the_line(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,time,user_id,category\n"
        "e1,2024-01-01T00:00:00Z,u1,ide\n"
        "e2,2024-01-01T00:01:00Z,u1\n"
        "e3,2024-01-01T00:02:00Z,u1,ide\n"
        "e4,2024-01-01T00:03:00Z,u1,ide,extra\n"
        "e5,never,u1,ide\n",
        encoding="utf-8",
    )
    run = ingest(db, bad, options=("--json",))
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["rejected_reasons"] == {
        "too few fields": 1,
        "too many fields": 1,
        "unparseable time": 1,
    }
    # Rows are data rows (line - 1), counted past the lines DuckDB could not parse.
    assert query(db, "SELECT source_row, problem, event_id, raw FROM rejects ORDER BY 1") == [
        (2, "too few fields", None, "e2,2024-01-01T00:01:00Z,u1"),
        (4, "too many fields", None, "e4,2024-01-01T00:03:00Z,u1,ide,extra"),
        (5, "unparseable time", "e5", None),
    ]
    assert query(db, "SELECT event_id FROM events ORDER BY 1") == [("e1",), ("e3",)]


def test_strict_refuses_the_whole_run(db: Path, tmp_path: Path) -> None:
    good = events_csv(tmp_path / "good.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    bad = events_csv(tmp_path / "bad.csv", [("e2", "2024-01-01T00:00:00Z", "", "ide")])
    assert ingest(db, good).exit_code == 0
    before = snapshot(db)
    run = ingest(db, good, bad, options=("--strict",))
    assert run.exit_code == 1
    assert run.stdout == ""
    assert run.stderr == (
        f"activity-report: error: 1 invalid row (1 missing user_id; first in {bad} row 1); "
        "nothing was ingested: fix them, or ingest without --strict to keep them in the "
        "store's rejects table\n"
    )
    assert snapshot(db) == before


def test_a_file_without_one_valid_row_fails_the_ingest_as_it_fails_a_report(
    db: Path, tmp_path: Path
) -> None:
    """A nightly job must not store only rejects and exit 0."""
    good = events_csv(tmp_path / "good.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    bad = events_csv(tmp_path / "bad.csv", [(f"b{i}", "1704067200", "u1", "ide") for i in range(3)])
    assert ingest(db, good).exit_code == 0
    before = snapshot(db)
    run = ingest(db, good, bad)
    error = (
        f"activity-report: error: {bad}: none of its 3 rows is valid (3 unparseable time); "
        "its times look like seconds since the epoch, such as '1704067200': read them with "
        "--time-format epoch-s\n"
    )
    assert (run.exit_code, run.stdout, run.stderr) == (1, "", error)
    assert snapshot(db) == before
    report = run_cli("--events", str(bad))
    assert (report.exit_code, report.stderr) == (1, error)


def test_a_failing_file_in_the_middle_leaves_the_store_unchanged(db: Path, tmp_path: Path) -> None:
    first = events_csv(tmp_path / "first.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    assert ingest(db, first).exit_code == 0
    assert run_cli("users", "import", str(USERS), "--db", str(db)).exit_code == 0
    before = snapshot(db)
    a = events_csv(tmp_path / "a.csv", [("e2", "2024-01-02T00:00:00Z", "u1", "ide")])
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(
        b"id,time,user_id,category\ne3,2024-01-02T00:01:00Z,u1,ide\n"
        b"e4,2024-01-02T00:02:00Z,Jos\xe9,ide\n"
    )
    c = events_csv(tmp_path / "c.csv", [("e5", "2024-01-02T00:03:00Z", "u1", "ide")])
    run = ingest(db, a, latin1, c)
    assert run.exit_code == 1
    assert run.stderr == (
        f"activity-report: error: {latin1}: line 3 is not UTF-8 text; convert the file to "
        "UTF-8 (iconv -f latin1 -t utf-8 FILE > FILE.utf8.csv, with the file's real "
        "encoding)\n"
    )
    assert snapshot(db) == before
    # A file without a required column fails before anything is read.
    no_user = write_csv(
        tmp_path / "no_user.csv", ("id", "time", "category"), [("e6", "2024-01-02", "ide")]
    )
    run = ingest(db, a, no_user)
    assert run.exit_code == 1
    assert run.stderr == (
        f"activity-report: error: {no_user}: no user_id column (accepted names: user_id, user, "
        "user_uuid); columns found: id, time, category; name the one to use with --column "
        "user=NAME\n"
    )
    assert snapshot(db) == before
    missing = ingest(db, a, tmp_path / "nope.csv")
    assert (
        missing.stderr
        == f"activity-report: error: {tmp_path / 'nope.csv'}: no such file or directory\n"
    )
    assert snapshot(db) == before


def test_an_interrupt_mid_ingest_leaves_the_store_unchanged(db: Path, tmp_path: Path) -> None:
    a = events_csv(tmp_path / "a.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    b = events_csv(tmp_path / "b.csv", [("e2", "2024-01-01T00:01:00Z", "u1", "ide")])
    with Store.open(db) as store:
        store.ingest([str(a)])
    before = snapshot(db)
    seen: list[tuple[str, int, int]] = []

    def interrupt_once_read(label: str, done: int, total: int) -> None:
        seen.append((label, done, total))
        if label == "adding new events":  # every file is read, nothing written yet
            raise KeyboardInterrupt

    with Store.open(db) as store, pytest.raises(KeyboardInterrupt):
        store.ingest([str(a), str(b), str(PARQUET)], progress=interrupt_once_read)
    assert seen == [
        ("checking 3 files", 0, 1000),
        ("reading 3 files", 20, 1000),
        ("finding duplicates", 700, 1000),
        ("comparing with the store", 760, 1000),
        ("waiting for the store", 880, 1000),
        ("adding new events", 900, 1000),
    ]
    assert snapshot(db) == before
    with Store.open(db) as store:
        result = store.ingest([str(a), str(b)], progress=lambda *step: seen.append(step))
    assert (result.new, result.duplicates, seen[-1]) == (1, 1, ("done", 1000, 1000))


def test_ingest_from_stdin(db: Path) -> None:
    text = "time,user_id,category\n2024-01-01T00:00:00Z,u1,ide\n2024-01-01T00:01:00Z,u2,login\n"
    run = run_cli("ingest", "--db", str(db), "-", input=text)
    assert run.exit_code == 0, run.stderr
    assert run.stderr == (
        f"activity-report: ingested 1 file into {db}: 2 rows, 2 new, 0 duplicates, 0 rejected\n"
    )
    assert query(db, "SELECT file FROM ingests") == [("<stdin>",)]
    again = run_cli("ingest", "--db", str(db), "-", input=text)
    assert "2 rows, 0 new, 2 duplicates" in again.stderr


def test_unknown_categories_are_stored_and_counted(db: Path, tmp_path: Path) -> None:
    a = events_csv(
        tmp_path / "a.csv",
        [("e1", "2024-01-01T00:00:00Z", "u1", "ide"), ("e2", "2024-01-01T00:01:00Z", "u1", "vim")],
    )
    run = ingest(db, a)
    assert run.stderr.splitlines()[1] == (
        "activity-report: warning: 1 event has an unknown category and is in no report; "
        "commonest: 'vim' (1)"
    )
    assert query(db, "SELECT category FROM events ORDER BY 1") == [("ide",), ("vim",)]


# --------------------------------------------------------------------------- users


def test_users_import_then_update(db: Path, tmp_path: Path) -> None:
    run = run_cli("users", "import", str(USERS), "--db", str(db))
    assert run.exit_code == 0, run.stderr
    assert run.stderr == (
        f"activity-report: imported 15 users into {db}: 15 added, 0 updated, 0 unchanged\n"
    )
    joe = "6004ad77-a7a69a24d779dd9f44357014"
    changed = write_csv(
        tmp_path / "users.csv",
        ("id", "name", "username", "roles", "avatar_hash", "email"),
        [
            (joe, "Joseph", "joe2", "site-member|owner", "", " Joe@Example.com "),
            (
                "5f905429-ba6e4ac480eb4c0ead160b47",
                "Alice",
                "alice92",
                '["site-member"]',
                "970ee9aa01c30411825a1f90208c2ce5cffffda643973260bf10fa35b4a188c4",
                "",
            ),
            ("new-user", "Nina", "nina", "", "", ""),
        ],
    )
    run = run_cli("users", "import", str(changed), "--db", str(db), "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout) == {
        "db": str(db),
        "users": 3,
        "added": 1,
        "updated": 1,
        "unchanged": 1,
    }
    assert run.stderr == (
        f"activity-report: imported 3 users into {db}: 1 added, 1 updated, 1 unchanged\n"
    )
    users = "SELECT name, username, roles, avatar_hash FROM users WHERE id IN ($1, $2) ORDER BY 1"
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(users, [joe, "new-user"]).fetchall()
    finally:
        con.close()
    assert rows == [
        (
            "Joseph",
            "joe2",
            ["site-member", "owner"],
            "2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2",
        ),
        ("Nina", "nina", [], None),
    ]
    assert query(db, "SELECT count(*) FROM users") == [(16,)]
    assert ingest(db, PARQUET).exit_code == 0
    report = run_cli("--db", str(db), "--start", "2022-08-01", "--end", "2022-08-08", "--json")
    assert json.loads(report.stdout)["users"][joe]["name"] == "Joseph"
    # --user takes the store's usernames.
    joes = run_cli(
        "--db", str(db), "--user", "joe2", "--start", "2022-08-01", "--end", "2022-08-08", "--json"
    )
    assert list(json.loads(joes.stdout)["users"]) == [joe]


def test_users_import_of_a_missing_file_changes_nothing(db: Path) -> None:
    run = run_cli("users", "import", str(db.parent / "nope.csv"), "--db", str(db))
    assert run.exit_code == 1
    assert run.stderr == f"activity-report: error: {db.parent / 'nope.csv'}: no such users file\n"


# --------------------------------------------------------------------------- reports


REPORTS = [
    ("--start", "2022-08-01", "--end", "2022-08-31", "--category", "ide", "--interval", "1 week"),
    (),
    ("--interval", "daily", "--tz", "Europe/Berlin", "--category", "app"),
    ("--interval", "1 month", "--org", "8fcf83e2-07c5-4831-9aca-7d6616b738ef"),
    ("--interval", "PT6H", "--user", "joe2", "--user", "alice92", "--heartbeat", "5 min"),
]


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    with Store.open(path) as store:
        store.ingest([str(CSV)])
        store.import_users(str(USERS))
    yield path


@pytest.mark.parametrize("options", REPORTS)
def test_reports_from_the_store_equal_reports_from_files(
    sample_store: Path, options: tuple[str, ...]
) -> None:
    from_files = run_cli("--events", str(PARQUET), "--users", str(USERS), *options, "--json")
    from_store = run_cli("--db", str(sample_store), *options, "--json")
    assert from_files.exit_code == 0, from_files.stderr
    assert from_store.exit_code == 0, from_store.stderr
    assert from_store.stdout == from_files.stdout
    assert json.loads(from_store.stdout)["activity"]


def test_report_reads_the_store_named_by_the_environment(
    sample_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_EVENTS", raising=False)
    options = REPORTS[0]
    expected = run_cli("--db", str(sample_store), *options, "--json").stdout
    run = run_cli(*options, "--json", env={"ACTIVITY_REPORT_DB": str(sample_store)})
    assert run.exit_code == 0, run.stderr
    assert run.stdout == expected


def test_env_var_names_the_store_for_every_command(db: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.duckdb"
    env = {"ACTIVITY_REPORT_DB": str(other)}
    a = events_csv(tmp_path / "a.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    assert run_cli("ingest", str(a), env=env).exit_code == 0
    assert run_cli("users", "import", str(USERS), env=env).exit_code == 0
    info = json.loads(run_cli("info", "--json", env=env).stdout)
    assert (info["db"], info["events"], info["users"]) == (str(other), 1, 15)
    assert not db.exists()
    # --db wins over the environment.
    assert run_cli("ingest", "--db", str(db), str(a), env=env).exit_code == 0
    assert db.exists()


def test_the_default_store_is_in_the_xdg_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    a = events_csv(tmp_path / "a.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    run = run_cli("ingest", str(a))
    assert run.exit_code == 0, run.stderr
    assert (tmp_path / "data" / "activity-report" / "events.duckdb").is_file()


def test_default_path_follows_each_platform(tmp_path: Path) -> None:
    home = tmp_path
    assert default_path({}, "linux", home) == home / ".local/share/activity-report/events.duckdb"
    assert default_path({"XDG_DATA_HOME": "/srv/data"}, "linux", home) == Path(
        "/srv/data/activity-report/events.duckdb"
    )
    # A relative XDG_DATA_HOME is invalid and ignored (XDG Base Directory spec).
    assert default_path({"XDG_DATA_HOME": "rel"}, "linux", home) == (
        home / ".local/share/activity-report/events.duckdb"
    )
    assert default_path({}, "darwin", home) == (
        home / "Library/Application Support/activity-report/events.duckdb"
    )
    assert default_path({"LOCALAPPDATA": "C:/Users/x/AppData/Local"}, "win32", home) == Path(
        "C:/Users/x/AppData/Local/activity-report/events.duckdb"
    )


def test_report_without_events_or_store_says_how_to_make_one(db: Path) -> None:
    run = run_cli("--db", str(db))
    assert run.exit_code == 1
    assert run.stderr == (
        f"activity-report: error: {db}: no store here yet; fill it with `activity-report "
        f"ingest FILE --db {db}`, or read files with --events\n"
    )
    assert not db.exists()


@pytest.mark.parametrize(
    "command", [("serve",), ("tokens", "list"), ("info",), ("users", "list")], ids=" ".join
)
def test_commands_that_read_only_a_store_do_not_offer_files(
    db: Path, command: tuple[str, ...]
) -> None:
    """Only a report takes --events: the others' message names the store alone."""
    run = run_cli(*command, "--db", str(db))
    assert (run.exit_code, run.stdout) == (1, "")
    assert run.stderr == (
        f"activity-report: error: {db}: no store here yet; fill it with `activity-report "
        f"ingest FILE --db {db}`\n"
    )
    assert not db.exists()


# --------------------------------------------------------------------------- info


def test_info_shows_the_store(db: Path, tmp_path: Path) -> None:
    a = events_csv(
        tmp_path / "a.csv",
        [
            ("e1", "2024-01-01T00:00:00Z", "u1", "ide"),
            ("e2", "2024-01-03T12:00:00Z", "u2", "login"),
            ("e3", "2024-01-02T00:00:00Z", "u1", "ide"),
            ("e4", "bad", "u1", "ide"),
        ],
    )
    assert ingest(db, a).exit_code == 0
    assert run_cli("users", "import", str(USERS), "--db", str(db)).exit_code == 0
    run = run_cli("info", "--db", str(db), "--json")
    assert run.exit_code == 0, run.stderr
    info = json.loads(run.stdout)
    last_ingest = info.pop("last_ingest")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", last_ingest)  # whole seconds
    assert info == {
        "db": str(db),
        "size_bytes": db.stat().st_size,
        "schema_version": SCHEMA_VERSION,
        "created_by": f"activity-report {__version__}",
        "written_by": f"activity-report {__version__}",
        "events": 3,
        "first_event": "2024-01-01T00:00:00Z",
        "last_event": "2024-01-03T12:00:00Z",
        "categories": [{"category": "ide", "events": 2}, {"category": "login", "events": 1}],
        "organizations": [{"organization_id": None, "name": None, "events": 3}],
        "users": 15,
        "rejects": 1,
        "rejected_reasons": {"unparseable time": 1},
        "ingested_files": 1,
    }
    text = run_cli("info", "--db", str(db))
    assert text.exit_code == 0, text.stderr
    lines = [line.rstrip() for line in text.stdout.splitlines()]
    assert f"store           {db}" in lines
    assert f"last ingest     {last_ingest}" in lines
    assert f"written by      activity-report {__version__}" in lines
    assert "events          3" in lines
    assert "time span       2024-01-01T00:00:00Z to 2024-01-03T12:00:00Z" in lines
    assert "users           15" in lines
    assert "rejects         1" in lines
    assert "Events per category" in lines
    assert "│ ide      │      2 │" in lines
    assert "│ unparseable time │    1 │" in lines
    assert text.stderr == ""


# --------------------------------------------------------------------------- opening


def test_an_unknown_schema_version_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    a = events_csv(tmp_path / "a.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    assert ingest(db, a).exit_code == 0
    con = duckdb.connect(str(db))
    # A step a newer release applied, recorded where the version is: the migrations table.
    con.execute("INSERT INTO migrations VALUES ('9001_future', now())")
    con.close()
    message = (
        f"activity-report: error: {db}: the store has schema version {SCHEMA_VERSION + 1}, "
        "newer than "
        f"activity-report {__version__} knows (version {SCHEMA_VERSION}); use the release that "
        "made the store, or ingest into a new one\n"
    )
    for args in (("ingest", str(a)), ("info",), ("report",), ("users", "import", str(USERS))):
        run = run_cli(*args, "--db", str(db))
        assert (run.exit_code, run.stdout, run.stderr) == (1, "", message), args


def test_a_file_that_is_not_a_store_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    run = run_cli("info", "--db", str(text))
    assert (run.exit_code, run.stderr) == (
        1,
        f"activity-report: error: {text}: not a DuckDB database; give --db a store made by "
        "`activity-report ingest`, or a new file name\n",
    )
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE things (a INTEGER)")
    con.close()
    run = run_cli("ingest", "--db", str(other), str(CSV))
    assert (run.exit_code, run.stderr) == (
        1,
        f"activity-report: error: {other}: a DuckDB database, but not an activity-report store "
        "(it has no meta table); give --db a new file name or a store made by "
        "`activity-report ingest`\n",
    )
    assert query(other, "SELECT table_name FROM duckdb_tables()") == [("things",)]


@pytest.mark.parametrize("source", [CSV, PARQUET, USERS])
@pytest.mark.parametrize("command", ["ingest", "info", "users import", "report"])
def test_an_event_file_given_as_the_store_is_refused_and_left_untouched(
    db: Path, tmp_path: Path, source: Path, command: str
) -> None:
    """DuckDB opens a .csv or .parquet path as an in-memory database: never ingest into it."""
    target = tmp_path / source.name
    target.write_bytes(source.read_bytes())
    args = {
        "ingest": ("ingest", str(CSV)),
        "info": ("info",),
        "users import": ("users", "import", str(USERS)),
        "report": ("report",),
    }[command]
    run = run_cli(*args, "--db", str(target))
    assert (run.exit_code, run.stdout, run.stderr) == (
        1,
        "",
        f"activity-report: error: {target}: not a DuckDB database; give --db a store made by "
        "`activity-report ingest`, or a new file name\n",
    )
    assert target.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [source.name]


@contextmanager
def holding(db: Path, *, read_only: bool) -> Iterator[subprocess.Popen[str]]:
    """Another process with the store open, until the block ends."""
    code = (
        "import sys, duckdb\n"
        "con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'ro')\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
        "con.close()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(db), "ro" if read_only else "rw"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        yield holder
    finally:
        assert holder.stdin is not None
        if not holder.stdin.closed:
            holder.stdin.close()
        holder.wait(timeout=30)


@pytest.fixture
def held_store(db: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the store open for writing, until the test ends."""
    a = events_csv(tmp_path / "a.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    assert ingest(db, a).exit_code == 0
    with holding(db, read_only=False) as holder:
        yield holder


def test_a_store_held_by_another_process_is_a_one_line_error(
    db: Path, tmp_path: Path, held_store: subprocess.Popen[str]
) -> None:
    message = (
        f"activity-report: error: {db}: the store is in use by process {held_store.pid}; try "
        "again when it has finished (one process can write a store, or several read it)\n"
    )
    b = events_csv(tmp_path / "b.csv", [("e2", "2024-01-01T00:00:00Z", "u1", "ide")])
    for args in (
        ("ingest", str(b), "--wait", "0"),
        ("info",),
        ("report",),
        ("users", "import", str(USERS), "--wait", "0"),
    ):
        run = run_cli(*args, "--db", str(db))
        assert (run.exit_code, run.stdout, run.stderr) == (1, "", message), args


def test_a_writer_waits_a_bounded_time_for_the_store(
    db: Path, tmp_path: Path, held_store: subprocess.Popen[str]
) -> None:
    b = events_csv(tmp_path / "b.csv", [("e2", "2024-01-01T00:00:00Z", "u1", "ide")])
    started = time.monotonic()
    run = run_cli("ingest", str(b), "--db", str(db), env={"ACTIVITY_REPORT_WAIT": "0.6"})
    assert time.monotonic() - started >= 0.6
    assert (run.exit_code, run.stdout, run.stderr) == (
        1,
        "",
        f"activity-report: error: {db}: the store is in use by process {held_store.pid}; "
        "waited 0.6 s for it (one process can write a store, or several read it); try again "
        "later, or wait longer with --wait\n",
    )


@pytest.mark.slow  # readers in children
def test_ingest_waits_for_a_reader_and_holds_the_store_only_to_merge(
    db: Path, tmp_path: Path
) -> None:
    a = events_csv(tmp_path / "a.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    assert ingest(db, a).exit_code == 0
    b = events_csv(tmp_path / "b.csv", [("e2", "2024-01-01T00:01:00Z", "u1", "ide")])
    # An open writer does not hold the file until it writes: readers come and go.
    with Store.open(db, wait=10) as writer:
        with holding(db, read_only=True):
            pass
        # A reader that holds the store for a moment delays the merge; nothing fails.
        with holding(db, read_only=True) as reader:
            assert reader.stdin is not None
            releaser = threading.Timer(1.0, reader.stdin.close)
            releaser.start()
            started = time.monotonic()
            result = writer.ingest([str(b)])
            waited = time.monotonic() - started
            releaser.join()
    assert waited >= 0.9
    assert (result.new, result.duplicates) == (1, 0)
    assert query(db, "SELECT count(*) FROM events") == [(2,)]
    # The same through the command line: users import waits too.
    with holding(db, read_only=True) as reader:
        assert reader.stdin is not None
        releaser = threading.Timer(0.5, reader.stdin.close)
        releaser.start()
        run = run_cli("users", "import", str(USERS), "--db", str(db))
        releaser.join()
    assert run.exit_code == 0, run.stderr
    assert query(db, "SELECT count(*) FROM users") == [(15,)]


def test_readers_share_the_store(db: Path, tmp_path: Path) -> None:
    a = events_csv(tmp_path / "a.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    assert ingest(db, a).exit_code == 0
    with holding(db, read_only=True) as reader:
        run = run_cli("info", "--db", str(db), "--json")
        assert run.exit_code == 0, run.stderr
        assert json.loads(run.stdout)["events"] == 1
        report = run_cli("--db", str(db), "--json")
        assert report.exit_code == 0, report.stderr
        # A writer must wait for the readers.
        run = ingest(db, a, options=("--wait", "0"))
        assert run.exit_code == 1
        assert f"the store is in use by process {reader.pid};" in run.stderr


def test_open_errors_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory"):
        Store.open(tmp_path)
    with pytest.raises(DataError, match="no store here yet"):
        Store.open(tmp_path / "missing.duckdb", read_only=True)


def test_the_store_module_imports_no_typer_or_rich() -> None:
    code = (
        "import sys, activity_report.store\n"
        "print(','.join(m for m in ('typer', 'rich', 'click') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_an_ingest_stages_only_the_rows_new_to_the_store(db: Path, tmp_path: Path) -> None:
    """Before the merge the run copies the rows the store does not hold yet into a
    staging file (a DuckDB file of the run's own, written as the rows stream), so that
    the store is held only to copy them in; rows the store holds already are never
    copied."""
    rows = [(f"e{i}", f"2024-01-01T00:{i:02d}:00Z", f"u{i % 3}", "ide") for i in range(50)]
    a = events_csv(tmp_path / "a.csv", [*rows, ("bad", "lunchtime", "u1", "ide")])
    b = events_csv(tmp_path / "b.csv", [*rows[:40], ("e99", "2024-01-02T00:00:00Z", "u1", "ide")])
    staged: list[tuple[str, int]] = []

    def count_staged_rows(label: str, done: int, total: int) -> None:
        if label == "adding new events":
            # Into an empty store, a view of the files' rows: nothing to compare with.
            attached = {str(r[0]) for r in store.con.execute("SHOW DATABASES").fetchall()}
            where = "ingest_stage" if "ingest_stage" in attached else "temp"
            staged_rows = f"SELECT count(*) FROM {where}.main.ingest_new"
            staged.append((where, int(store.con.execute(staged_rows).fetchall()[0][0])))

    with Store.open(db) as store:
        result = store.ingest([str(a)], progress=count_staged_rows)
        assert (result.new, result.rejected) == (50, 1)
        result = store.ingest([str(b)], progress=count_staged_rows)
        assert (result.new, result.duplicates) == (1, 40)
    assert staged == [("temp", 50), ("ingest_stage", 1)]


def test_a_file_that_changes_during_an_ingest_fails_it(db: Path, tmp_path: Path) -> None:
    """The files are read more than once; one that changed in between (a log still
    being written) would make the counts disagree with what was added."""
    a = events_csv(tmp_path / "a.csv", [("e1", "2024-01-01T00:00:00Z", "u1", "ide")])
    with Store.open(db) as store:
        store.ingest([str(PARQUET)])
    before = snapshot(db)

    def append_a_row(label: str, done: int, total: int) -> None:
        if label == "comparing with the store":  # before the last read of the files
            with a.open("a", newline="") as handle:
                handle.write("e2,2024-01-01T00:01:00Z,u1,ide\r\n")  # as csv.writer ends lines

    with Store.open(db) as store, pytest.raises(DataError) as failure:
        store.ingest([str(a)], progress=append_a_row)
    assert str(failure.value) == (
        f"{a}: the file changed while it was being ingested; nothing was ingested: "
        "ingest it again once whatever writes it has finished"
    )
    assert snapshot(db) == before
    with Store.open(db) as store:
        assert store.ingest([str(a)]).new == 2


def test_a_repeated_id_keeps_the_first_files_row_whatever_the_format(
    db: Path, tmp_path: Path
) -> None:
    """Rows sharing an id are one event: the first file's, as a report from the files
    counts it, even when a later file is Parquet (read by an earlier scan)."""
    a = events_csv(tmp_path / "a.csv", [("e1", "2024-01-01T00:00:00Z", "first", "ide")])
    b = tmp_path / "b.parquet"
    duckdb.execute(
        "COPY (SELECT 'e1' AS id, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS time, "
        "'second' AS user_id, 'ide' AS category) TO $path (FORMAT parquet)",
        {"path": str(b)},
    )
    run = ingest(db, a, b)
    assert run.exit_code == 0, run.stderr
    assert query(db, "SELECT event_id, user_id, ingest_file FROM events") == [("e1", "first", 1)]
    from_files = run_cli("--events", str(a), "--events", str(b), "--format", "json")
    from_store = run_cli("--db", str(db), "--format", "json")
    assert from_files.exit_code == 0, from_files.stderr
    assert json.loads(from_store.stdout) == json.loads(from_files.stdout)


class _Profiled:
    """A connection that keeps, for each statement it runs, DuckDB's profile of it.

    The profile goes through DuckDB's JSON file output, which every supported
    DuckDB version writes (its keys differ: see :func:`_largest_build`).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self._con, self._path = con, path
        self.profiles: list[tuple[str, dict[str, Any]]] = []
        con.execute("SET enable_profiling = 'json'")
        con.execute(f"SET profiling_output = '{path}'")

    def execute(self, sql: str, *args: Any) -> duckdb.DuckDBPyConnection:
        self._path.unlink(missing_ok=True)
        result = self._con.execute(sql, *args)
        profile = json.loads(self._path.read_text()) if self._path.exists() else {}
        self.profiles.append((sql, profile))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def _profile_ingests(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[_Profiled]:
    """Every ingest run from now on goes through a :class:`_Profiled` connection; the
    list returned gets one per run, in order."""
    runs: list[_Profiled] = []
    real_init = ingest_module.Ingest.__init__

    def profiled(self: ingest_module.Ingest, store: Store) -> None:
        real_init(self, store)
        runs.append(_Profiled(store.con, path))
        self.con = runs[-1]  # type: ignore[assignment]

    monkeypatch.setattr(ingest_module.Ingest, "__init__", profiled)
    return runs


def _largest_build(profile: dict[str, Any]) -> int:
    """The most rows any scan feeds into the side a hash join builds its table from."""

    def kind(op: dict[str, Any]) -> str:  # DuckDB 2 says "type", 1.4 "operator_type"
        return str(op.get("type", op.get("operator_type", "")))

    def scanned(op: dict[str, Any]) -> list[int]:
        rows = op.get("intermediate_rows", op.get("operator_cardinality", 0))
        here = [int(rows)] if kind(op) == "TABLE_SCAN" else []
        return here + [n for child in op.get("children", []) for n in scanned(child)]

    def builds(op: dict[str, Any]) -> list[int]:
        found = max(scanned(op["children"][1]), default=0) if kind(op) == "HASH_JOIN" else 0
        return [found] + [n for child in op.get("children", []) for n in builds(child)]

    top = profile.get("operator", profile.get("children", []))
    return max((n for op in top for n in builds(op)), default=0)


def test_a_nightly_ingest_builds_no_hash_table_over_the_stored_events(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A night's file is compared with the stored events that can match it, found by
    looking its ids (and its id-less rows' times and users) up in the store: every
    hash table holds at most the night's rows, whatever the store holds. Exact all
    the same: an id stored months before is still a duplicate, and keeps its first
    content, and an id-less copy of a stored event is not added again."""
    stored, night = 100_000, 10_000
    with Store.open(db):
        pass
    con = duckdb.connect(str(db))
    # Written directly (no rollups: this test reads the events only). Stored
    # event i, a minute apart from 2024-01-01: id "stored-<i>" when i is even,
    # else no id.
    con.execute("INSERT INTO ingests VALUES (1, 'stored', $n, $n, 0, 0, now())", {"n": stored})
    con.execute(
        """INSERT INTO events
           SELECT 1704067200000000 + i * 60000000, NULL, 'user-' || (i % 100), 'ide', NULL,
                  CASE WHEN i % 2 = 0 THEN printf('stored-%09d', i) END, 1
           FROM range($n) t(i)""",
        {"n": stored},
    )
    con.close()
    # The night, in June: 50 ids stored in January, 50 id-less copies of stored
    # events (their January times), 50 new id-less rows, the rest new ids.
    path = tmp_path / "night.parquet"
    duckdb.execute(
        """COPY (SELECT CASE WHEN j < 50 THEN printf('stored-%09d', 2 * j)
                             WHEN j >= 150 THEN 'night-' || j END AS id,
                        to_timestamp(CASE WHEN j BETWEEN 50 AND 99
                                          THEN 1704067200 + (2 * (j - 50) + 1) * 60
                                          ELSE 1717200000 + j END) AS time,
                        CASE WHEN j BETWEEN 50 AND 99 THEN 'user-' || ((2 * (j - 50) + 1) % 100)
                             ELSE 'night-user' END AS user_id,
                        'ide' AS category
                 FROM range($n) t(j)) TO $path (FORMAT parquet)""",
        {"n": night, "path": str(path)},
    )
    runs = _profile_ingests(monkeypatch, tmp_path / "profile.json")
    with Store.open(db) as store:
        result = store.ingest([str(path)])
    assert (result.new, result.duplicates) == (night - 100, 100)
    # Statements that write (the merge's) are profiled when they return; a
    # SELECT whose rows are fetched later has no profile then, and is left out.
    merge = [(sql, p) for sql, p in runs[0].profiles if "events" in sql and p]
    assert any(sql.lstrip().startswith("INSERT INTO events") for sql, _ in merge), merge
    assert max(_largest_build(p) for _, p in merge) <= night
    assert query(db, "SELECT ts, user_id FROM events WHERE event_id = 'stored-000000000'") == [
        (1704067200000000, "user-0")
    ]
    assert query(db, "SELECT count(*) FROM events WHERE event_id IS NULL") == [(stored // 2 + 50,)]


def test_a_reingest_of_known_ids_compares_no_row_with_the_store(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the store holds every id of a run (the same file ingested again), the run
    finds them with one lookup and stages nothing: no second join holds the run's ids.
    One new id among them sends the run through the comparison, exactly."""
    rows = [(f"e{i}", f"2024-01-01T00:{i:02d}:00Z", f"u{i % 3}", "ide") for i in range(50)]
    a = events_csv(tmp_path / "a.csv", rows)
    assert ingest(db, a).exit_code == 0
    before = snapshot(db)["events"]
    runs = _profile_ingests(monkeypatch, tmp_path / "profile.json")
    # The same ids with other content: an id decides, so all are known.
    b = events_csv(tmp_path / "b.csv", [(i, t, "someone-else", "app") for i, t, _, _ in rows])
    with Store.open(db) as store:
        result = store.ingest([str(b)])
    assert (result.new, result.duplicates) == (0, 50)
    assert snapshot(db)["events"] == before
    compared = [sql for sql, _ in runs[0].profiles if "SELECT 1 FROM ingest_known_ids" in sql]
    assert compared == []
    c = events_csv(tmp_path / "c.csv", [*rows[:49], ("e99", "2024-01-02T00:00:00Z", "u1", "ide")])
    with Store.open(db) as store:
        result = store.ingest([str(c)])
    assert (result.new, result.duplicates) == (1, 49)
    assert [sql for sql, _ in runs[1].profiles if "SELECT 1 FROM ingest_known_ids" in sql] != []
    assert query(db, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(51, 51)]


# --------------------------------------------------------------------------- tokens


def test_tokens_list_has_a_header_aligned_columns_and_times_to_the_second(db: Path) -> None:
    assert run_cli("tokens", "create", "--name", "a", "--db", str(db)).exit_code == 0
    made = run_cli("tokens", "create", "--name", "grafana-dashboard", "--lifetime", "never",
                   "--db", str(db))  # fmt: skip
    assert made.exit_code == 0
    assert run_cli("tokens", "revoke", "a", "--db", str(db)).exit_code == 0
    listed = run_cli("tokens", "list", "--db", str(db))
    assert (listed.exit_code, listed.stderr) == (0, "")
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["id", "name", "scope", "state", "created", "expires"]
    at = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ"
    assert re.fullmatch(rf"[0-9a-f]+  a {{18}}full   revoked  {at}  {at}", rows[0]), rows
    assert re.fullmatch(rf"[0-9a-f]+  grafana-dashboard  full   active   {at}  never", rows[1]), (
        rows
    )
    starts = [header.index(c) for c in ("name", "scope", "state", "created", "expires")]
    for row in rows:
        assert all(row[s - 2 : s] == "  " and row[s] != " " for s in starts), row


def test_a_taken_token_name_is_refused_with_advice_that_works(db: Path) -> None:
    assert run_cli("tokens", "create", "--name", "dash", "--db", str(db)).exit_code == 0
    again = run_cli("tokens", "create", "--name", "dash", "--db", str(db))
    assert again.exit_code == 1
    assert again.stderr.endswith("exists already; revoke it or choose another name\n")
    assert run_cli("tokens", "revoke", "dash", "--db", str(db)).exit_code == 0
    revoked = run_cli("tokens", "create", "--name", "dash", "--db", str(db))
    assert (revoked.exit_code, revoked.stdout) == (1, "")
    assert revoked.stderr == (
        "activity-report: error: a token named 'dash' was revoked, and keeps its name in "
        "`tokens list` (a record of what was in force); choose another name\n"
    )


def test_a_large_run_finds_repeated_rows_in_parts_as_one_sort_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past a size, the duplicate search sorts its hashes in parts (split by their top
    bits, through files) so that a bulk load does not hold them all; the store it makes
    is the one a single sort makes, ids and id-less copies alike."""
    import os
    import tempfile

    from activity_report import sources
    from activity_report.store import scanning

    with_ids = [
        (f"e{i % 7}", f"2024-01-01T00:{i % 11:02d}:00Z", f"u{i % 3}", "ide") for i in range(40)
    ]
    a = events_csv(tmp_path / "a.csv", with_ids)
    copies = [(f"2024-01-02T00:{i % 5:02d}:00Z", f"u{i % 2}", "ide") for i in range(30)]
    b = events_csv(tmp_path / "b.csv", copies, with_id=False)
    sorts: list[int] = []
    one_sort = sources.repeated_hashes

    def counted(hashes: Any) -> Any:
        sorts.append(len(hashes))
        return one_sort(hashes)

    monkeypatch.setattr(sources, "repeated_hashes", counted)
    stores = {}
    for name, limit in (("one", 1 << 24), ("parts", 3)):
        monkeypatch.setattr(scanning, "_SORT_ROWS", limit)
        sorts.clear()
        stores[name] = tmp_path / f"{name}.duckdb"
        with Store.open(stores[name]) as store:
            result = store.ingest([str(a), str(b)])
        # Each file's id-less copies are all kept; a repeated id is kept once.
        assert (result.new, result.duplicates) == (7 + 30, 33)
        assert sum(sorts) == 70
        assert len(sorts) == (1 if name == "one" else 32)
    one, parts = snapshot(stores["one"]), snapshot(stores["parts"])
    for table in ("events", "rejects", "users"):
        assert parts[table] == one[table]
    leftovers = Path(tempfile.gettempdir()).glob(f"activity-report-{os.getpid()}-*-hashes-*")
    assert list(leftovers) == []
