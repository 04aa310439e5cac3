"""Runs side by side: each report has its own context, cancel and temporary files.

Nothing of a run lives in a module: two reports run at once in threads, one
can be cancelled without the other noticing, and neither leaves a file behind
nor changes how the next run goes.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import activity_report as ar
from activity_report import engine
from activity_report.errors import Interrupted, Kind
from activity_report.resources import RunContext
from activity_report.store import Store

from .conftest import SAMPLE, run_cli

CSV = SAMPLE / "events.csv"
PARQUET = SAMPLE / "events.parquet"
OPTIONS: dict[str, Any] = {"start": "2022-08-01", "end": "2022-09-01", "interval": "1 week"}
#: Long enough that only an interrupt ends it.
ENDLESS = "SELECT count(*) FROM range(100000000000) a, range(10) b"
SECONDS = "SELECT sum(range % 7) FROM range(300000000)"


@pytest.fixture
def temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The system's temporary directory, for this test alone: what is left there shows."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder


def fifo_of(tmp_path: Path, source: Path, name: str = "events.csv") -> Path:
    """A FIFO that gives ``source``'s bytes to the first reader: the run copies it."""
    fifo = tmp_path / name
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as pipe:
            pipe.write(source.read_bytes())

    threading.Thread(target=feed, daemon=True).start()
    return fifo


def in_threads(*jobs: Any) -> list[Any]:
    """Run the jobs at once, each in a thread; their results or errors, in order."""
    outcomes: list[Any] = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def work(index: int) -> None:
        start.wait()
        try:
            outcomes[index] = jobs[index]()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcomes[index] = exc

    threads = [threading.Thread(target=work, args=(i,), name=f"job-{i}") for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    return outcomes


def report(events: Sequence[str | Path], context: RunContext | None = None) -> dict[str, Any]:
    return ar.report(events=[str(e) for e in events], context=context, **OPTIONS).to_api()


def test_two_reports_in_threads_answer_as_they_do_alone(tmp_path: Path, temp: Path) -> None:
    alone_parquet = report([PARQUET])
    alone_csv = report([CSV])
    assert alone_parquet["users"] and alone_csv["users"]  # not two empty reports
    with RunContext() as from_fifo:
        fifo = fifo_of(tmp_path, CSV)
        outcomes = in_threads(lambda: report([PARQUET]), lambda: report([fifo], from_fifo))
        spooled = from_fifo.temp_files()
        assert [Path(p).parent for p in spooled] == [temp]  # the FIFO's copy, the run's own
    assert outcomes == [alone_parquet, alone_csv]
    assert not any(os.path.exists(p) for p in spooled)
    assert list(temp.iterdir()) == []


@pytest.mark.slow  # a query of some seconds
def test_cancelling_one_run_stops_it_and_leaves_the_other_alone(
    tmp_path: Path, temp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = report([PARQUET])
    started = threading.Event()
    real_compute = engine.compute

    def compute(con: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "job-1":  # the run to cancel: a long query
            started.set()
            con.execute(ENDLESS).fetchall()
        else:  # the other run: a query of some seconds, under way when the cancel comes
            assert started.wait(timeout=60)
            assert con.execute(SECONDS).fetchall() == [(899_999_997,)]
            assert victim.interrupted  # the cancel came meanwhile, and spared this query
        return real_compute(con, *args, **kwargs)

    monkeypatch.setattr(engine, "compute", compute)
    victim = RunContext()
    fifo = fifo_of(tmp_path, CSV)

    finished = threading.Event()

    def cancel_once_running() -> None:
        assert started.wait(timeout=60)
        time.sleep(0.3)  # inside DuckDB's query by now
        while not finished.is_set():  # again, should the query have started only since
            assert victim.cancel() is True
            finished.wait(0.5)

    with victim:
        canceller = threading.Thread(target=cancel_once_running)
        canceller.start()
        before = time.monotonic()
        outcomes = in_threads(lambda: report([PARQUET]), lambda: report([fifo], victim))
        finished.set()
        canceller.join(timeout=30)
        assert time.monotonic() - before < 60  # the endless query stopped
        assert victim.temp_files()  # the copy of the FIFO, until the run closes
    assert outcomes[0] == expected
    stopped = outcomes[1]
    assert isinstance(stopped, Interrupted)
    assert (str(stopped), stopped.kind, stopped.exit_code) == ("interrupted", Kind.interrupted, 130)
    assert list(temp.iterdir()) == []
    monkeypatch.undo()
    # Nothing of the cancelled run is left in a module: the next run is not interrupted.
    assert report([fifo_of(tmp_path, CSV, "again.csv")]) == report([CSV])
    assert report([PARQUET]) == expected
    assert list(temp.iterdir()) == []


def test_a_run_cancelled_between_queries_stops_at_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's interrupt reaches the running query only; the run checks before each one."""
    context = RunContext()
    real_compute = engine.compute
    calls: list[str] = []

    def compute(*args: Any, **kwargs: Any) -> Any:
        calls.append("compute")
        return real_compute(*args, **kwargs)

    def span(*args: Any, **kwargs: Any) -> Any:
        context.cancel()  # no query runs at this moment: nothing to interrupt
        return real_span(*args, **kwargs)

    real_span = engine.data_span
    monkeypatch.setattr(engine, "compute", compute)
    monkeypatch.setattr(engine, "data_span", span)
    with pytest.raises(Interrupted):
        ar.report(events=[str(PARQUET)], interval="1 week", context=context)
    assert calls == []  # the counting never started


@pytest.mark.slow  # an ingest and three reports
def test_the_core_never_touches_signal_handlers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)

    def refuse(*args: Any) -> Any:
        raise AssertionError(f"the core called signal.signal{args}")

    monkeypatch.setattr(signal, "signal", refuse)
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:  # a commit: the run's cancel, not a signal, is held back
        store.ingest([str(CSV)])
        store.import_users(str(SAMPLE / "users.csv"))
    assert ar.report(db=db, **OPTIONS).to_api()["users"]
    assert report([PARQUET])["users"]
    monkeypatch.undo()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == kept


def test_a_cancel_during_a_commit_is_held_and_the_commit_finishes(tmp_path: Path) -> None:
    context = RunContext()
    with Store.open(tmp_path / "s.duckdb", context=context) as store, store.writing():
        with store.atomic(done="the test is committed"):
            store.con.execute("CREATE TABLE t AS SELECT 1 AS x")
            with context.shielded():  # what the COMMIT runs in
                assert context.cancel() is False
        assert context.held and not context.interrupted
        assert context.what_was_committed() == "the test is committed"
        assert store.con.execute("SELECT x FROM t").fetchall() == [(1,)]
    assert context.cancel() is True and context.interrupted


def test_each_run_spills_to_a_folder_of_its_own() -> None:
    from activity_report.backends.duckdb import connect

    first, second = RunContext(), RunContext()
    folders = []
    for context in (first, second, first):
        con = connect(context=context)
        folders.append(con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0])
        con.close()
    assert len(set(folders)) == 3
    assert all(Path(f).parent == Path(tempfile.gettempdir()) for f in folders)


@pytest.fixture
def signal_handlers() -> Iterator[None]:
    """The command line's handlers, as its entry point installs them."""
    from activity_report.cli import runs

    kept = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    runs.install_signal_handlers()
    yield
    signal.signal(signal.SIGINT, kept[0])
    signal.signal(signal.SIGTERM, kept[1])


def test_a_command_after_an_interrupted_one_is_not_interrupted(
    monkeypatch: pytest.MonkeyPatch, signal_handlers: None
) -> None:
    real_compute = engine.compute

    def ctrl_c(*args: Any, **kwargs: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)
        return real_compute(*args, **kwargs)

    monkeypatch.setattr(engine, "compute", ctrl_c)
    args = ("--events", str(PARQUET), "--interval", "1 week", "--format", "json")
    interrupted = run_cli(*args)
    assert (interrupted.exit_code, interrupted.stdout, interrupted.stderr) == (
        130,
        "",
        "activity-report: error: interrupted\n",
    )
    monkeypatch.undo()
    again = run_cli(*args)
    assert (again.exit_code, again.stderr) == (0, "")
    assert again.stdout.startswith("{")


def test_the_package_names_the_run_context() -> None:
    assert ar.RunContext is RunContext
    with pytest.raises(AttributeError):
        getattr(ar, "NoSuchThing")  # noqa: B009 - a name mypy would refuse
