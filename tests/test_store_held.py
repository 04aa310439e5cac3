"""A read-only store reads what every report reads (directories, counts) once while held.

No writer can change the file while a reader holds it, so the users, the
organizations and the diagnostics read once stay true until it is closed;
a store that writes reads them every time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from activity_report.server.reader import StoreReader
from activity_report.store import Store

from .conftest import SAMPLE, run_cli


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    path = tmp_path / "s.duckdb"
    for args in (
        ("ingest", str(SAMPLE / "events.parquet")),
        ("users", "import", str(SAMPLE / "users.csv")),
    ):
        run = run_cli(*args, "--db", str(path))
        assert run.exit_code == 0, run.stderr
    return path


def queries(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A record of every read of the store's tables from now on (its cursors' too)."""
    ran: list[str] = []
    real = Store._reading

    def counting(self: Store) -> object:
        ran.append("read")
        return real(self)

    monkeypatch.setattr(Store, "_reading", counting)
    return ran


def test_a_read_only_store_reads_directories_and_counts_once(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(db, read_only=True) as store:
        first = (store.users(), store.orgs(), store.diagnostics())
        ran = queries(store, monkeypatch)
        cursor = store.through(store.con.cursor())  # a server request's view of the store
        again = (cursor.users(), cursor.orgs(), cursor.diagnostics())
        assert again == first
        assert first[0]  # the sample's directory, not an empty one read twice
        assert ran == []
        # A caller changing its copy changes no one else's.
        directory = dict(first[0])
        again[0].clear()
        assert store.users() == directory


def test_a_store_that_writes_reads_every_time(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(db) as store:
        store.users()
        ran = queries(store, monkeypatch)
        store.users()
        store.diagnostics()
        assert len(ran) >= 2


def test_a_store_opened_again_sees_what_was_written_meanwhile(db: Path, tmp_path: Path) -> None:
    with Store.open(db, read_only=True) as store:
        before = store.users()
    extra = tmp_path / "more.csv"
    extra.write_text("id,name,username\nnew-user,New,new\n", encoding="utf-8")
    run = run_cli("users", "import", str(extra), "--db", str(db))
    assert run.exit_code == 0, run.stderr
    with Store.open(db, read_only=True) as store:
        after = store.users()
    assert set(after) - set(before) == {"new-user"}


def _add_user(db: Path, folder: Path) -> None:
    extra = folder / "more.csv"
    extra.write_text("id,name,username\nnew-user,New,new\n", encoding="utf-8")
    run = run_cli("users", "import", str(extra), "--db", str(db))
    assert run.exit_code == 0, run.stderr


def test_a_released_store_lets_a_writer_in_and_sees_its_writes_when_held_again(
    db: Path, tmp_path: Path
) -> None:
    with Store.open(db, read_only=True) as store:
        connection = store.con
        before = store.users()
        store.release()
        assert not store.attached
        _add_user(db, tmp_path)  # the file is free: the writer gets it
        store.hold()
        assert store.con is connection  # the same DuckDB, the file attached again
        assert set(store.users()) - set(before) == {"new-user"}  # not the users read before


def test_the_server_keeps_its_duckdb_between_windows_and_a_writer_gets_in(
    db: Path, tmp_path: Path
) -> None:
    reader = StoreReader(db)
    try:
        with reader.cursor() as (cursor, _):
            before = reader.store(cursor).users()
            connection = reader._store.con if reader._store else None
        with reader._cond:
            reader._close()  # the window is over
        _add_user(db, tmp_path)
        with reader.cursor() as (cursor, _):
            assert reader._store is not None and reader._store.con is connection
            assert set(reader.store(cursor).users()) - set(before) == {"new-user"}
    finally:
        reader.stop()
