"""The store's schema steps: a store made by an older release opens and is upgraded in place."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from activity_report import __version__
from activity_report.errors import DataError
from activity_report.store import MIGRATIONS, Migration, Store
from activity_report.store import schema as store_mod

from .conftest import SAMPLE, run_cli
from .test_server import start_server, stop

DATA = Path(__file__).resolve().parent / "data"
#: Made by release 0.1.0 (see data/README.md): 4,953 sample events of 2022-08-01..03,
#: six id-less rows (one content three times), one reject, the sample users.
OLD_STORE = DATA / "store-0.1.0.duckdb"
#: What 0.1.0 answered from that store, byte for byte.
OLD_REPORTS = {
    "store-0.1.0-daily.json": ("--interval", "daily"),
    "store-0.1.0-ide-berlin.json": (
        "--interval",
        "6 hours",
        "--category",
        "ide",
        "--tz",
        "Europe/Berlin",
    ),
}
OLD_TABLES = ("meta", "events", "rejects", "users", "ingests")
#: Made by the commit before step 0004 (schema version 3: rollups keyed by user
#: id text, 15-minute slots only), see data/README.md, with what it answered.
SCHEMA3_STORE = DATA / "store-schema3.duckdb"
SCHEMA3_REPORTS = {
    "store-schema3-daily.json": ("--interval", "daily"),
    "store-schema3-ide-berlin.json": OLD_REPORTS["store-0.1.0-ide-berlin.json"],
}


@pytest.fixture
def old_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    copy = tmp_path / "old.duckdb"
    shutil.copyfile(OLD_STORE, copy)
    return copy


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    return {t: rows(db, f"SELECT * FROM {t} ORDER BY ALL") for t in OLD_TABLES}


def assert_old_reports(
    db: Path, answered_by: str, reports: dict[str, tuple[str, ...]] = OLD_REPORTS
) -> None:
    for name, options in reports.items():
        run = run_cli("--db", str(db), "--json", *options, "--verbose")
        assert run.exit_code == 0, run.stderr
        assert run.stdout == (DATA / name).read_text(encoding="utf-8"), name
        assert f"answered from the {answered_by} of the store" in run.stderr


def test_readers_read_an_old_store_as_it_is(old_store: Path) -> None:
    before = digest(old_store)
    assert_old_reports(old_store, "events")  # no rollups before the upgrade
    info = run_cli("info", "--db", str(old_store), "--json")
    assert info.exit_code == 0, info.stderr
    assert json.loads(info.stdout)["schema_version"] == 1
    assert json.loads(info.stdout)["events"] == 4_956
    assert digest(old_store) == before  # a reader never writes


@pytest.mark.slow  # its own server
def test_serve_says_an_old_store_is_answered_from_its_events_until_an_ingest(
    old_store: Path,
) -> None:
    note = (
        f"activity-report: note: {old_store} was written by an older release: reports are "
        "answered from its events, more slowly, until the next `activity-report ingest` "
        "into it upgrades it"
    )
    _, process = start_server(old_store)
    assert stop(process)[1].splitlines()[0] == note
    with Store.open(old_store):  # a writer upgrades it
        pass
    _, process = start_server(old_store)
    assert note not in stop(process)[1]


def test_a_writer_upgrades_an_old_store_in_place_with_nothing_lost(old_store: Path) -> None:
    before = tables(old_store)
    with Store.open(old_store) as store:
        assert (store.applied, store.pending) == (tuple(m.name for m in MIGRATIONS), ())
    assert [name for (name,) in rows(old_store, "SELECT name FROM migrations")] == [
        m.name for m in MIGRATIONS
    ]
    after = tables(old_store)
    meta = dict(after.pop("meta"))
    assert "schema_version" not in meta  # the migrations table is the one record
    assert meta["created_by"] == "activity-report 0.1.0"
    assert meta["written_by"] == f"activity-report {__version__}"  # `info` shows both
    assert after == {t: v for t, v in before.items() if t != "meta"}
    assert_old_reports(old_store, "15-minute rollups")  # made by the upgrade


def test_an_upgraded_store_takes_new_ingests(old_store: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.csv"
    new.write_text(
        "id,time,user_id,category\n"
        "evt-new-1,2022-08-04T10:00:00Z,u-new,ide\n"
        "evt-001858,2022-07-27T00:14:18Z,u-other,login\n",  # an id already stored
        encoding="utf-8",
    )
    run = run_cli("ingest", "--db", str(old_store), str(new), "--json")
    assert run.exit_code == 0, run.stderr
    counts = json.loads(run.stdout)
    assert (counts["new"], counts["duplicates"]) == (1, 1)
    # 0.1.0 kept one copy of an id-less content that its file held three times;
    # ingesting that file again restores the other two.
    again = run_cli("ingest", "--db", str(old_store), str(DATA / "store-0.1.0-extra.csv"), "--json")
    assert again.exit_code == 0, again.stderr
    counts = json.loads(again.stdout)
    assert (counts["rows"], counts["new"], counts["duplicates"], counts["rejected"]) == (
        7,
        2,
        4,
        1,
    )
    assert rows(old_store, "SELECT count(*) FROM events") == [(4_956 + 3,)]
    # The rejects name the file by its absolute path, which depends on where
    # this checkout lies: kept once per path, never twice.
    kept = rows(old_store, "SELECT count(*) FROM rejects")
    third = run_cli("ingest", "--db", str(old_store), str(DATA / "store-0.1.0-extra.csv"), "--json")
    assert third.exit_code == 0, third.stderr
    assert json.loads(third.stdout)["new"] == 0
    assert rows(old_store, "SELECT count(*) FROM rejects") == kept
    assert rows(old_store, "SELECT count(*) FROM events") == [(4_956 + 3,)]
    users = run_cli("users", "import", "--db", str(old_store), str(SAMPLE / "users.csv"))
    assert users.exit_code == 0, users.stderr
    assert "0 added, 0 updated, 15 unchanged" in users.stderr


def test_a_store_with_the_first_rollups_is_read_then_upgraded(tmp_path: Path) -> None:
    store = tmp_path / "v3.duckdb"
    shutil.copyfile(SCHEMA3_STORE, store)
    before = tables(store)
    with Store.open(store, read_only=True) as reader:
        assert reader.pending == tuple(m.name for m in MIGRATIONS[3:])
        assert reader.pending[:1] == ("0004_rollup_levels",)
    # Before the upgrade its rollups are not the ones this release reads: the events answer.
    assert_old_reports(store, "events", SCHEMA3_REPORTS)
    with Store.open(store) as writer:
        assert writer.pending == ()
    after = tables(store)
    assert after.pop("meta") != before.pop("meta")  # the schema version moved on
    assert after == before
    assert rows(store, "SELECT count(*) FROM orgs") == [(0,)]  # empty until imported
    assert rows(store, "SELECT count(*) FROM rollups")[0][0] > 0
    assert rows(store, "SELECT count(*) FROM rollups_daily")[0][0] > 0
    assert_old_reports(store, "15-minute rollups", SCHEMA3_REPORTS)


def test_steps_run_in_order_each_in_its_own_transaction(
    old_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_notes = (
        "CREATE TABLE notes (text VARCHAR)",
        "INSERT INTO notes SELECT 'events: ' || count(*) FROM events",
    )
    broken = ("CREATE TABLE half (a INTEGER)", "SELECT error('step failed')")
    steps = (*MIGRATIONS, Migration("9001_notes", add_notes), Migration("9002_half", broken))
    monkeypatch.setattr(store_mod, "MIGRATIONS", steps)
    # A reader sees the steps pending and applies none.
    with Store.open(old_store, read_only=True) as reader:
        assert reader.pending == (*(m.name for m in MIGRATIONS[1:]), "9001_notes", "9002_half")
    assert "notes" not in {t for (t,) in rows(old_store, "SELECT table_name FROM duckdb_tables()")}
    with pytest.raises(duckdb.Error, match="step failed"):
        Store.open(old_store)
    names = {t for (t,) in rows(old_store, "SELECT table_name FROM duckdb_tables()")}
    assert "notes" in names and "half" not in names  # the failed step left nothing
    assert rows(old_store, "SELECT text FROM notes") == [("events: 4956",)]
    assert [n for (n,) in rows(old_store, "SELECT name FROM migrations ORDER BY name")] == [
        *(m.name for m in MIGRATIONS),
        "9001_notes",
    ]

    fixed = ("CREATE TABLE half (a INTEGER)",)
    monkeypatch.setattr(store_mod, "MIGRATIONS", (*steps[:-1], Migration("9002_half", fixed)))
    with Store.open(old_store) as store:
        assert store.pending == ()
    assert rows(old_store, "SELECT count(*) FROM migrations") == [(len(MIGRATIONS) + 2,)]
    with Store.open(old_store, read_only=True) as reader:
        assert len(reader.applied) == len(MIGRATIONS) + 2
    # This release does not know those steps: the store is newer than it.
    monkeypatch.setattr(store_mod, "MIGRATIONS", MIGRATIONS)
    with pytest.raises(DataError, match="newer than activity-report"):
        Store.open(old_store, read_only=True)


def test_atomic_commits_or_rolls_back(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store, store.writing():
        with store.atomic() as con:
            con.execute("INSERT INTO meta VALUES ('kept', 'yes')")
        with pytest.raises(ValueError), store.atomic() as con:
            con.execute("INSERT INTO meta VALUES ('lost', 'yes')")
            raise ValueError("no")
        with pytest.raises(KeyboardInterrupt), store.atomic() as con:
            con.execute("INSERT INTO meta VALUES ('lost', 'too')")
            raise KeyboardInterrupt
    assert rows(db, "SELECT key FROM meta WHERE key IN ('kept', 'lost')") == [("kept",)]


#: A digest of each shipped step's SQL: a step that has shipped never changes.
SHIPPED = {
    "0001_initial": "75d15ccb6f69",
    "0002_rollups": "39cb2580f59c",
    "0003_tokens": "f7a53ca7e977",
    "0004_rollup_levels": "42ceb9e21ba3",
    "0005_pseudonym_key": "e22db859458a",
    "0006_token_scope": "f05b3840089e",
    "0007_orgs": "68598332fe52",
    "0008_one_version_record": "8aa3de3523d6",
    "0009_minute_runs": "71623cb683d2",
    "0010_shared_rollups": "8764a947ad67",
}


def test_a_shipped_step_keeps_its_sql_and_calls_no_code_that_may_change() -> None:
    """The steps are text: a later change to the rollups or tokens modules changes none."""
    import hashlib
    import inspect

    from activity_report.store import schema

    shipped = {
        m.name: hashlib.sha256("\n--\n".join(m.statements).encode()).hexdigest()[:12]
        for m in MIGRATIONS
    }
    assert shipped == SHIPPED
    source = inspect.getsource(schema)
    for call in ("rollups.create", "tokens.ensure_table", "TOKENS_DDL", "rollups.TABLES"):
        assert call not in source


def test_tokens_of_a_schema3_store_become_full_and_the_key_s_table_appears(
    tmp_path: Path,
) -> None:
    store = tmp_path / "v3.duckdb"
    shutil.copyfile(SCHEMA3_STORE, store)
    con = duckdb.connect(str(store))
    try:  # a token as the release of schema 3 made it: no scope column
        con.execute("CREATE TABLE IF NOT EXISTS tokens (id VARCHAR PRIMARY KEY, "
                    "name VARCHAR NOT NULL UNIQUE, secret_sha256 VARCHAR NOT NULL, "
                    "created_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ, "
                    "revoked_at TIMESTAMPTZ)")  # fmt: skip
        con.execute("INSERT INTO tokens VALUES ('0123456789', 'old', 'x', now(), NULL, NULL)")
    finally:
        con.close()
    listed = run_cli("tokens", "list", "--db", str(store), "--json")  # a reader: nothing applied
    assert listed.exit_code == 0, listed.stderr
    assert [t["scope"] for t in json.loads(listed.stdout)] == ["full"]
    with Store.open(store) as writer:
        assert writer.pending == ()
    assert rows(store, "SELECT name, scope FROM tokens") == [("old", "full")]
    assert rows(store, "SELECT count(*) FROM pseudonym_key") == [(0,)]  # made when needed


def test_the_migrations_table_is_the_one_version_record(tmp_path: Path) -> None:
    """A new store has no version in meta; a stray one there is not read."""
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        assert store.pending == ()
    assert rows(db, "SELECT value FROM meta WHERE key = 'schema_version'") == []
    con = duckdb.connect(str(db))
    try:
        con.execute("INSERT INTO meta VALUES ('schema_version', '999')")
    finally:
        con.close()
    with Store.open(db, read_only=True) as reader:
        assert reader.applied == tuple(m.name for m in MIGRATIONS)
    info = run_cli("info", "--db", str(db), "--json")
    assert info.exit_code == 0, info.stderr
    assert json.loads(info.stdout)["schema_version"] == len(MIGRATIONS)
