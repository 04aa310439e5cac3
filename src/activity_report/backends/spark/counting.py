"""The counting rules of ``engine.compute``, as Spark DataFrame operations.

Everything runs in the cluster, in one pass over the matching events: one
window partitions them by user and sorts them by time (the report's one
sort), each event's piece of coverage is cut at the bucket edges it crosses,
and one aggregate sums the pieces and counts the events per (bucket, user).
An instant's bucket is arithmetic on ``engine.BucketLookup``'s cells (the
bucket edges come from the core's calendar code), given to Spark as literal
arrays, so no join is needed. Only the cells come back.

The union of a user's coverages is computed as the DuckDB engine does: with
the events sorted by start, event *i* adds ``[max(ts_i, reach), end_i)``,
where ``reach`` is the furthest end among the events before it. These pieces
are disjoint, so their clipped lengths add up. In a log without end times or
durations every event covers one heartbeat, so ``reach`` is the end of the
event just before (``lag``), not a running maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...engine import BucketLookup
from ..protocol import Cell, Filters

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


def _filtered(rows: DataFrame, filters: Filters) -> DataFrame:
    from pyspark.sql import functions as F

    keep = F.col("problem").isNull() & F.col("category").isin(list(filters.categories))
    if filters.orgs is not None:
        keep = keep & F.col("org").isin(list(filters.orgs))
    if filters.users is not None:
        keep = keep & F.col("user_id").isin(list(filters.users))
    return rows.where(keep)


def _meets(heartbeat_us: int, start_us: int) -> Column:
    """The event covers ``start_us`` or lies past it."""
    from pyspark.sql import functions as F

    reach = F.coalesce(F.col("end_us"), F.col("ts") + F.lit(heartbeat_us))
    return (reach > F.lit(start_us)) | (F.col("ts") >= F.lit(start_us))


def data_span(
    rows: DataFrame,
    filters: Filters,
    heartbeat_us: int,
    start_us: int | None = None,
    end_us: int | None = None,
) -> tuple[int, int] | None:
    """The twin of ``engine.data_span``."""
    from pyspark.sql import functions as F

    matching = _filtered(rows, filters)
    if start_us is not None:
        matching = matching.where(_meets(heartbeat_us, start_us))
    if end_us is not None:
        matching = matching.where(F.col("ts") < F.lit(end_us))
    covered = F.greatest(
        F.coalesce(F.col("end_us"), F.col("ts") + F.lit(heartbeat_us)), F.col("ts") + F.lit(1)
    )
    row = matching.agg(F.min("ts").alias("first"), F.max(covered).alias("last")).collect()[0]
    if row["first"] is None:
        return None
    return int(row["first"]), int(row["last"])


def compute(
    spark: SparkSession,
    rows: DataFrame,
    edges: Sequence[int],
    filters: Filters,
    heartbeat_us: int,
    coverage: bool = True,
) -> list[Cell]:
    """The twin of ``engine.compute``: cells in (bucket, user) order, none empty.

    ``coverage``: some events may have an end time or a duration (else each
    covers one heartbeat, and the event before reaches furthest).
    """
    return collect(cell_frame(rows, edges, filters, heartbeat_us, coverage))


def collect(merged: DataFrame) -> list[Cell]:
    """The cells of :func:`cell_frame`, in (bucket, user) order.

    They come back as the Arrow table the server sends, its columns turned into
    Python values at once: ``collect()`` would make a ``Row`` per cell (a report
    may have 100k) and first ask the server how to convert binary values.
    ``toArrow()`` would ask the server for the schema it already sent.
    """
    to_table = getattr(merged, "_to_table", None)  # Spark Connect's DataFrame
    if to_table is None:
        rows = [tuple(row) for row in merged.collect()]
    else:
        table = to_table()[0]
        rows = list(zip(*(table.column(i).to_pylist() for i in range(4)), strict=True))
    result = [Cell(bucket, user, n, duration) for bucket, user, n, duration in rows]
    return sorted(result, key=lambda c: (c.bucket, c.user_id))


def cell_frame(
    rows: DataFrame, edges: Sequence[int], filters: Filters, heartbeat_us: int, coverage: bool
) -> DataFrame:
    """The non-empty cells as a DataFrame (bucket, user_id, n, duration), not yet run."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    lookup = BucketLookup.from_edges(edges)
    start, end = edges[0], edges[-1]
    longs = F.lit(0).cast("long")

    def bucket_of(instant: str) -> Column:
        """The bucket of the column ``instant``, an instant within the range (so at or
        past the origin: the integer division is exact)."""
        offset = F.expr(f"(`{instant}` - {lookup.origin}) div {lookup.cell}")
        if lookup.uniform:
            return offset
        base = F.array(*(F.lit(b) for b in lookup.base))
        split = F.array(*(F.lit(x) for x in lookup.split))
        cell = (F.least(offset, F.lit(len(lookup.base) - 1)) + 1).cast("int")
        at = F.element_at(base, cell)
        return at + (F.col(instant) >= F.element_at(split, cell)).cast("long")

    matching = _filtered(rows, filters).where(
        (F.col("ts") < F.lit(end)) & _meets(heartbeat_us, start)
    )
    te = F.coalesce(F.col("end_us"), F.col("ts") + F.lit(heartbeat_us))
    coverages = matching.select("user_id", "ts", te.alias("te"))
    if coverage:
        order = Window.partitionBy("user_id").orderBy("ts", "te")
        reach = F.max("te").over(order.rowsBetween(Window.unboundedPreceding, -1))
    else:  # te is ts + heartbeat: the order by ts is the order by (ts, te)
        reach = F.lag("te").over(Window.partitionBy("user_id").orderBy("ts"))
    pieces = coverages.select(
        "user_id",
        "ts",
        F.greatest(F.col("ts"), F.coalesce(reach, F.col("ts")), F.lit(start)).alias("a"),
        F.least(F.col("te"), F.lit(end)).alias("b"),
    )
    covers = F.col("b") > F.col("a")
    edge_list = F.array(*(F.lit(e) for e in edges))
    ends = pieces.select(
        "user_id",
        "ts",
        "a",
        "b",
        F.greatest(F.col("ts"), F.lit(start)).alias("x_first"),
        F.when(covers, F.col("b") - 1)
        .otherwise(F.greatest(F.col("ts"), F.lit(start)))
        .alias("x_last"),
    )
    spans = ends.select(
        "user_id",
        "ts",
        "a",
        "b",
        bucket_of("x_first").alias("first"),
        bucket_of("x_last").alias("last"),
    )
    cut = spans.select(
        "user_id",
        "ts",
        "a",
        "b",
        "first",
        F.explode(F.sequence(F.col("first"), F.col("last"))).alias("bucket"),
    ).select(
        "user_id",
        "bucket",
        ((F.col("bucket") == F.col("first")) & (F.col("ts") >= F.lit(start)))
        .cast("long")
        .alias("n"),
        F.when(
            covers,
            F.greatest(
                longs,
                F.least(F.col("b"), F.element_at(edge_list, (F.col("bucket") + 2).cast("int")))
                - F.greatest(
                    F.col("a"), F.element_at(edge_list, (F.col("bucket") + 1).cast("int"))
                ),
            ),
        )
        .otherwise(longs)
        .alias("d"),
    )
    return (
        cut.groupBy("bucket", "user_id")
        .agg(F.sum("n").alias("n"), F.sum("d").alias("duration"))
        .where((F.col("n") > 0) | (F.col("duration") > 0))
        .select("bucket", "user_id", "n", "duration")
    )
