"""The Spark engine: the same reports, computed by Apache Spark.

Reading, checking and counting run in the cluster, through Spark Connect;
only the diagnostics' counts and the report's cells (bucket x user) come back.
Bucket edges come from the core's calendar code, so zones and DST behave as
with DuckDB. pyspark is imported only here, when ``--engine spark`` runs.

The entry point is :func:`.source.open_source`: it connects (:func:`connect`),
reads the files lazily (:func:`open_events`) and returns a :class:`SparkSource`,
which answers the report's questions (diagnostics, span, cells) by Spark jobs.
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
