"""A writer gets the store however busy the server is; a server never waits on a writer for long.

The server's reader opens the store in windows with no gap between them here
(``gap=0``): requests that never stop would keep a writer that only retried
out for good. The writer's mark beside the store gives it its turn.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from activity_report.server.reader import StoreReader, Timing
from activity_report.store import Store, writer_turn

from .conftest import SAMPLE, run_cli


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    path = tmp_path / "s.duckdb"
    run = run_cli("ingest", str(SAMPLE / "events.parquet"), "--db", str(path))
    assert run.exit_code == 0, run.stderr
    return path


class Requests:
    """Threads that read the store through ``reader`` without a pause, as a busy server does."""

    def __init__(self, reader: StoreReader, threads: int = 3) -> None:
        self.reader = reader
        self.answered = 0
        self.failed: list[BaseException] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read) for _ in range(threads)]

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                with self.reader.cursor() as (cursor, _):
                    cursor.execute("SELECT count(*) FROM events").fetchall()
            except BaseException as exc:  # recorded: the test says what failed
                self.failed.append(exc)
                return
            self.answered += 1

    def __enter__(self) -> Requests:
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + 10
        while self.answered < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.answered >= 10, self.failed  # the server is busy before the writer comes
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


@pytest.fixture
def reader(db: Path) -> Iterator[StoreReader]:
    reading = StoreReader(db, timing=Timing(hold=0.2, gap=0.0, busy_timeout=10, writer_turn=1.0))
    try:
        yield reading
    finally:
        reading.stop()


def marks(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.iterdir() if ".writer-waiting." in p.name)


def test_a_writer_gets_the_store_from_a_server_that_never_stops_reading(
    db: Path, reader: StoreReader
) -> None:
    with Requests(reader) as requests:
        started = time.monotonic()
        with Store.open(db, wait=8) as store, store.writing():
            store.con.execute("CHECKPOINT")
        took = time.monotonic() - started
        before = requests.answered
        deadline = time.monotonic() + 10
        while requests.answered == before and time.monotonic() < deadline:
            time.sleep(0.01)
    assert took < 4, took  # its turn came at the end of a window (0.2 s), not by luck
    assert requests.answered > before and not requests.failed  # and the server went on
    assert marks(db) == []  # the writer took its mark away


def test_a_writer_kept_out_by_another_does_not_stop_the_server(
    db: Path, reader: StoreReader
) -> None:
    """A mark kept fresh by a writer that never gets in: each turn ends, windows open between."""
    mark = writer_turn.Mark(db)
    stop = threading.Event()

    def keep_waiting() -> None:
        while not stop.is_set():
            mark.touch()
            time.sleep(0.05)

    toucher = threading.Thread(target=keep_waiting)
    toucher.start()
    try:
        with Requests(reader) as requests:
            before = requests.answered
            time.sleep(2.5)  # two turns of one second each, and the windows between them
            during = requests.answered - before
    finally:
        stop.set()
        toucher.join()
        mark.remove()
    assert not requests.failed
    assert during >= 2, during


def test_a_mark_left_by_a_killed_writer_is_ignored_then_removed(
    db: Path, reader: StoreReader
) -> None:
    stale = db.with_name(f"{db.name}.writer-waiting.999999999")
    stale.touch()
    old = time.time() - 60
    os.utime(stale, (old, old))
    assert not writer_turn.waiting(db)
    with reader.cursor() as (cursor, _):
        assert cursor.execute("SELECT count(*) FROM events").fetchone()
    assert reader._turn_from is None  # no turn given to a writer gone
    writer_turn.remove_stale(db)
    assert marks(db) == []


def test_a_fresh_mark_is_kept_by_the_next_writer(db: Path) -> None:
    other = db.with_name(f"{db.name}.writer-waiting.999999998")
    other.touch()
    assert writer_turn.waiting(db)
    writer_turn.remove_stale(db)
    assert marks(db) == [other.name]  # a writer still waiting: its mark stays


def test_a_mark_that_cannot_be_made_is_no_mark(tmp_path: Path) -> None:
    mark = writer_turn.Mark(tmp_path / "missing" / "s.duckdb")  # no such folder
    mark.touch()
    assert not mark.touched
    mark.remove()  # nothing to remove, and no error
    assert not writer_turn.waiting(tmp_path / "missing" / "s.duckdb")


def test_a_request_waits_for_a_writer_no_longer_than_its_own_timeout(db: Path) -> None:
    """With a request timeout no longer than the busy timeout, a store a writer holds is
    still told as busy (503, try again), not as a request that took too long."""
    from activity_report.errors import ActivityReportError, Kind

    reader = StoreReader(db, timing=Timing(busy_timeout=5.0, request=1.0, retry=0.02))
    with Store.open(db) as writer, writer.writing():
        began = time.monotonic()
        with pytest.raises(ActivityReportError) as refused, reader.cursor():
            pass
        waited = time.monotonic() - began
    reader.stop()
    assert refused.value.kind is Kind.unavailable
    assert 0.5 <= waited < 1.0, waited  # gave up before the request's own deadline
