"""Opening a Spark Connect session: a cluster's server, or a local one.

Without a URL, PySpark starts a Spark Connect server in a local JVM
(``local[*]``) and the tool talks to it exactly as it would to a cluster's, so
there is one code path. The session's time zone is UTC: bucket edges and event
times are plain epoch microseconds, and text timestamps without an offset are
UTC, as with DuckDB.
"""

from __future__ import annotations

import os
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, cast

from ... import errors
from ...errors import DataError, InvalidValue, UsageError
from .jvm_stderr import without_chatter

if TYPE_CHECKING:
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

INSTALL_HINT = (
    "{engine} spark needs pyspark; install it with: pip install 'pyspark[connect]>=4,<5' "
    "(or pip install -e '.[spark]' in a checkout; Spark also needs Java 17 or newer)"
)

#: Settings of the local server only; a cluster's administrators choose their own.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # it would draw on the terminal
    # PySpark records the Python call site of every function that builds an
    # expression (for Spark's error messages) by inspecting the stack: some 50 ms
    # of a report; the tool's own messages name the file and column instead.
    "spark.python.sql.dataFrameDebugging.enabled": "false",
}


#: The local JVM's logging: errors only, on stderr.
LOG_CONFIG = (Path(__file__).parent / "log4j2.properties").as_uri()


def connect(remote: str | None = None) -> SparkSession:
    """A Spark Connect session: to ``remote`` (``sc://host:15002``), else a local server.

    An existing session for the same place is reused (``getOrCreate``), so a
    test run or a notebook starts Spark once.
    """
    with warnings.catch_warnings():
        # pyspark warns about pandas versions on import; the tool uses no pandas.
        warnings.simplefilter("ignore", FutureWarning)
        try:
            from pyspark.errors import PySparkException
            from pyspark.sql.connect.session import SparkSession as ConnectSession
        except ImportError:
            raise UsageError(INSTALL_HINT, params=("engine",)) from None
    if remote is not None and not remote.startswith("sc://"):
        raise InvalidValue(
            "spark_remote", remote, "give a Spark Connect URL such as sc://spark-host:15002"
        )
    if remote is not None:
        _reachable(remote)
    from py4j.protocol import Py4JError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            url = remote or _local_server()
            # PySpark's functions build Spark Connect expressions only when this is
            # set, as PySpark itself sets it when it opens a Spark Connect session.
            os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
            session = ConnectSession.builder.remote(url).getOrCreate()
            spark = cast("SparkSession", session)
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    except (PySparkException, Py4JError, OSError) as exc:
        where = remote or "a local Spark"
        raise DataError(f"cannot start or reach {where}: {first_line(exc)}") from None
    return spark


#: Spark Connect's port when a URL names none; seconds to wait for a connection.
DEFAULT_PORT = 15002
REACH_TIMEOUT = 10.0


def _reachable(remote: str) -> None:
    """Refuse at once a Spark Connect URL whose server takes no connection.

    PySpark retries a refused or silent server for minutes, and its retries
    outlast an interrupt; one plain TCP connection tells within seconds.
    """
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(remote.split(";", 1)[0])
        host, port = parts.hostname, parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise InvalidValue("spark_remote", remote, str(exc)) from None
    if not host:
        raise InvalidValue(
            "spark_remote", remote, "give a Spark Connect URL such as sc://spark-host:15002"
        )
    try:
        socket.create_connection((host, port), timeout=REACH_TIMEOUT).close()
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise DataError(
            f"cannot reach {remote}: {reason}; check the host and port, and that a Spark "
            "Connect server runs there"
        ) from None


def _local_server() -> str:
    """The URL of this process's local Spark Connect server, started on first use.

    It listens on a port of localhost the system chooses when it binds (port 0),
    not Spark's fixed 15002, so that two reports running at once on one machine
    each talk to their own, and no other process can take the port between its
    choice and the bind (a port probed free beforehand can be taken in the seconds
    the JVM needs to start); a random token (as PySpark's own local mode sets)
    keeps other local users out.
    """
    from pyspark import SparkConf, SparkContext

    context = SparkContext._active_spark_context
    if context is None:
        token = os.environ.setdefault("SPARK_CONNECT_AUTHENTICATE_TOKEN", str(uuid.uuid4()))
        conf = SparkConf().setMaster("local[*]").setAppName("activity-report")
        conf.setAll(
            [
                *LOCAL_CONF.items(),
                ("spark.plugins", "org.apache.spark.sql.connect.SparkConnectPlugin"),
                ("spark.connect.grpc.binding.address", "127.0.0.1"),
                ("spark.connect.grpc.binding.port", "0"),
                ("spark.connect.authenticate.token", token),
                ("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG_CONFIG}"),
            ]
        )
        if not _submit_sets("driver-memory"):
            conf.set("spark.driver.memory", driver_memory())
        with without_chatter():
            context = SparkContext.getOrCreate(conf)
        context.setLogLevel("ERROR")
    return f"sc://localhost:{_bound_port(context)}"


def driver_memory() -> str:
    """The local driver's heap (it also runs the executors): a quarter of this machine's
    memory, from 1 to 4 GiB, or ``ACTIVITY_REPORT_SPARK_MEMORY`` (such as ``6g``).

    Spark's default of 1 GiB spills to disk from a few million events.
    """
    given = os.environ.get("ACTIVITY_REPORT_SPARK_MEMORY")
    if given:
        return given
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "2g"
    gib = max(1, min(4, total // 4 // 2**30))
    return f"{gib}g"


def _bound_port(context: SparkContext) -> int:
    """The port the local Spark Connect service bound (its configuration says 0)."""
    jvm = context._jvm
    assert jvm is not None  # the context is running
    service = getattr(jvm.org.apache.spark.sql.connect.service, "SparkConnectService$")
    port: int = getattr(service, "MODULE$").localPort()
    return port


def first_line(exc: BaseException) -> str:
    """The first line of an error's message: Spark's carry a JVM stack trace."""
    return errors.first_line(exc).strip()


def _submit_sets(option: str) -> bool:
    """Whether ``PYSPARK_SUBMIT_ARGS`` gives spark-submit's ``option`` (``--option V``, ``=V``)."""
    import shlex

    try:
        words = shlex.split(os.environ.get("PYSPARK_SUBMIT_ARGS", ""))
    except ValueError:  # unbalanced quotes: spark-submit will say so itself
        return False
    return any(word.lstrip("-").split("=", 1)[0] == option for word in words if word[:2] == "--")
