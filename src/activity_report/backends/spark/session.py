"""Opening a Spark Connect session: a cluster's server, or a local one.

Without a URL, PySpark starts a Spark Connect server in a local JVM
(``local[*]``) and the tool talks to it exactly as it would to a cluster's, so
there is one code path. The session's time zone is UTC: bucket edges and event
times are plain epoch microseconds, and text timestamps without an offset are
UTC, as with DuckDB.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from ...errors import DataError, UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_HINT = (
    "--engine spark needs pyspark; install it with: pip install 'activity-report[spark]' "
    "(Spark also needs Java 17 or newer)"
)

#: Settings of the local server only; a cluster's administrators choose their own.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # it would draw on the terminal
    "spark.sql.shuffle.partitions": "8",
}


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
            from pyspark.sql import SparkSession
        except ImportError:
            raise UsageError(INSTALL_HINT) from None
    if remote is not None and not remote.startswith("sc://"):
        raise UsageError(
            f"invalid value for --spark-remote: {remote!r} (give a Spark Connect URL such "
            "as sc://spark-host:15002)"
        )
    builder = SparkSession.builder.remote(remote or "local[*]")
    if remote is None:
        for key, value in LOCAL_CONF.items():
            builder = builder.config(key, value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spark = builder.getOrCreate()
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    except (PySparkException, OSError) as exc:
        where = remote or "a local Spark"
        raise DataError(f"cannot start or reach {where}: {first_line(exc)}") from None
    return spark


def first_line(exc: BaseException) -> str:
    """The first line of an error's message: Spark's carry a JVM stack trace."""
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__
