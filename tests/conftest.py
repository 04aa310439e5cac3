"""Shared fixtures: small event files in tmp_path and a CLI runner."""

from __future__ import annotations

import csv
import functools
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import click.testing
import pytest
import typer.main

from activity_report.cli import app

#: HTML pages say when they were made; the tests' pages (and their subprocesses')
#: are made at this fixed moment, so that they compare byte for byte.
os.environ["SOURCE_DATE_EPOCH"] = "1700000000"
if "PYTEST_XDIST_WORKER" in os.environ:
    # A pytest-xdist worker imports readline, which exports a terminal's size (LINES,
    # COLUMNS) that the tests' own children would take for theirs: a worker has no terminal.
    for name in ("LINES", "COLUMNS"):
        os.environ.pop(name, None)

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from pyspark.sql import SparkSession

    from .coder_db import CoderDB

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str


@functools.cache
def command() -> click.Command:
    """The app as the Click command it runs as, made once.

    Typer's ``CliRunner.invoke`` makes it again at every call, reading every
    command's signature: some 25 ms of CPU a run, over a thousand runs.
    """
    return typer.main.get_command(app)


def invoke(
    args: Sequence[str], input: str | None = None, env: Mapping[str, str | None] | None = None
) -> click.testing.Result:
    """Run the CLI in-process, as Typer's ``CliRunner`` runs it (stdout and stderr apart)."""
    return click.testing.CliRunner().invoke(command(), list(args), input=input, env=env)


def run_cli(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
    """Run the CLI in-process; stdout and stderr are kept apart."""
    result = invoke(args, input=input, env=env)
    return Run(result.exit_code, result.stdout, result.stderr)


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    return path


#: A Parquet time whose microseconds no BIGINT holds (as milliseconds: year 285 million).
FAR_MS = 9_000_000_000_000_000_000


def write_far_times(path: Path) -> Path:
    """Five events in milliseconds, as pandas and pyarrow write them, four of them out of range.

    Rows 1 and 2: a time at either end of the int64 range; rows 3 and 4: an end
    time hundreds of millions of years after or before 2022-08-01 10:00; row 5
    (erin) is valid and covers 10:00 to 10:30. No time or end time but erin's
    fits in microseconds, so a reader that converts them all fails the file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    ten = 1_659_348_000_000  # 2022-08-01T10:00:00Z in milliseconds
    times = [2**63 - 1, -(2**63) + 1, ten, ten, ten]
    ends = [None, None, FAR_MS, -FAR_MS, ten + 30 * 60_000]
    pq.write_table(
        pa.table(
            {
                "time": pa.array(times, pa.timestamp("ms", tz="UTC")),
                "user_id": ["alice", "bob", "carol", "dave", "erin"],
                "category": ["ide"] * 5,
                "end_time": pa.array(ends, pa.timestamp("ms", tz="UTC")),
            }
        ),
        path,
    )
    return path


#: Fixtures that take seconds to start (a JVM, a PostgreSQL cluster, Chromium): a test that
#: uses one is slow, and ``-m "not slow"`` leaves it out of the edit loop.
SLOW_FIXTURES = {"spark", "coder_db", "browser"}
#: The same, by the module and name of their function: a store filled by the CLI in
#: children and the server started in a process of its own, for a module or a test.
SERVER_FIXTURES = {
    "tests.test_server.store",
    "tests.test_server.server",
    "tests.test_server_attacks.store",
    "tests.test_pseudonymous_http.sample",
    "tests.test_pseudonymous_http.berlin",
    "tests.test_pseudonymous_server.scoped",
}


def uses_a_server(item: pytest.Item) -> bool:
    """Whether the test needs one of :data:`SERVER_FIXTURES`, itself or through another."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    for definitions in info.name2fixturedefs.values():
        function = definitions[-1].func
        if f"{function.__module__}.{function.__name__}" in SERVER_FIXTURES:
            return True
    return False


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> Iterator[None]:
    """Mark the tests of slow fixtures slow; on a pytest-xdist worker, order them for it.

    The marks come before ``-m`` deselects. The scheduler hands out scopes in
    the order the workers collected them: Spark's first, as it takes longest,
    then the modules with most slow tests, then the others, most tests first;
    so the quick modules, not a single test of a minute, fill the workers' ends.
    """
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        if callspec is not None:  # a parameter that asks for Spark through getfixturevalue
            names.update(v for v in callspec.params.values() if isinstance(v, str))
        if names & SLOW_FIXTURES or uses_a_server(item):
            item.add_marker(pytest.mark.slow)
    yield
    if hasattr(config, "workerinput"):
        sizes = Counter(scope_of(item.nodeid) for item in items)
        slow = Counter(scope_of(i.nodeid) for i in items if i.get_closest_marker("slow"))
        items.sort(
            key=lambda i: (
                scope_of(i.nodeid) != "spark",
                -slow[scope_of(i.nodeid)],
                -sizes[scope_of(i.nodeid)],
            )
        )


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist's ``--dist loadscope`` (pyproject.toml): the scopes of conftest's.

    Each module's tests run on one worker, so a module-scoped fixture (a server,
    a filled store, the PostgreSQL cluster) is made once; and the tests of
    Spark, wherever they are, run on one worker too, which starts the one local
    Spark they share (a JVM per worker would cost more than it saves).
    """
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # the workers' order (above) is the one
    scheduler = LoadScopeScheduling(config, log)
    scheduler._split_scope = scope_of  # how the scheduler names a test's scope
    return scheduler


def scope_of(nodeid: str) -> str:
    """``spark`` for a test of the Spark engine (by its module, name or parameter), else its module.

    Read from the test's id alone, as the scheduler sees it: a test of Spark is
    one in a module named ``..._spark...``, one named ``test_spark_...`` or
    ``..._spark_...``, or one whose parameters include ``spark``.
    """
    path, _, rest = nodeid.partition("::")
    name, _, params = rest.partition("[")
    if (
        "spark" in Path(path).stem.split("_")
        or "spark" in name.split("_")
        or "spark" in re.split(r"[-\]]", params)
    ):
        return "spark"
    return path


@pytest.fixture
def events_csv(tmp_path: Path) -> Callable[..., Path]:
    """``events_csv(rows, header=..., name=...)`` writes an event CSV and returns its path."""

    def make(
        rows: Sequence[Sequence[Any]],
        header: Sequence[str] = ("time", "user_id", "category"),
        name: str = "events.csv",
    ) -> Path:
        return write_csv(tmp_path / name, header, rows)

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium (see tests/browser.py); Playwright is loaded only when asked for."""
    from .browser import launch

    with launch() as launched:
        yield launched


#: The options of the tests' shared local Spark's JVM (see ``spark``).
SPARK_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One Spark session for the whole test run: Spark takes seconds to start.

    It is the local Spark Connect server the CLI's ``--engine spark`` starts, so
    CLI runs in the same test session find it running and reuse it.
    """
    from activity_report.backends.spark import connect

    # Its JVM compiles with the quick compiler only and collects garbage in one thread:
    # the tests' queries are many and small, and the optimising compiler's work never
    # pays off for them (five sample reports on Spark: 52 CPU-seconds with it, 28 without).
    # Only this JVM gets the options; a test's own process of Spark starts as a user's does.
    given = os.environ.get("JAVA_TOOL_OPTIONS")
    os.environ["JAVA_TOOL_OPTIONS"] = f"{given or ''} {SPARK_JVM_OPTIONS}".strip()
    try:
        session = connect(None)
    finally:
        if given is None:
            del os.environ["JAVA_TOOL_OPTIONS"]
        else:
            os.environ["JAVA_TOOL_OPTIONS"] = given
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def coder_db() -> Iterator[CoderDB]:
    """A throwaway PostgreSQL with Coder's tables (see tests/coder_db.py), for the session."""
    from .coder_db import running_cluster

    with running_cluster() as db:
        yield db
