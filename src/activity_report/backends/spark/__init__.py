"""The Spark engine: the same reports, computed by Apache Spark.

Reading, checking and counting run in the cluster, through Spark Connect;
only the diagnostics' counts and the report's cells (bucket x user) come back.
Bucket edges come from the core's calendar code, so zones and DST behave as
with DuckDB. pyspark is imported only here, when ``--engine spark`` runs.

The entry points::

    spark = connect(remote)                      # a Spark Connect session
    events = open_events(spark, paths, window=…) # canonical rows, lazily
    events.diagnose()                            # -> sources.Diagnostics
    events.data_span(filters, heartbeat_us, …)   # -> (first, last) or None
    events.compute(edges, filters, heartbeat_us) # -> list[engine.Cell]
"""

from __future__ import annotations

from .reading import PruneWindow, SparkEvents, open_events
from .session import INSTALL_HINT, connect
from .source import SparkSource, open_source

__all__ = [
    "INSTALL_HINT",
    "PruneWindow",
    "SparkEvents",
    "SparkSource",
    "connect",
    "open_events",
    "open_source",
]
