"""The counting rules of ``engine.compute``, as Spark DataFrame operations.

Everything runs in the cluster: the windows partition the matching events by
user, and an instant's bucket is found by an equi-join with a broadcast of
``engine.BucketLookup``'s cells (the bucket edges come from the core's
calendar code). Only the cells (bucket, user, count, duration) come back.

The union of a user's coverages is computed as the DuckDB engine does: with
the events sorted by start, event *i* adds ``[max(ts_i, reach), end_i)``,
where ``reach`` is the furthest end among the events before it. These pieces
are disjoint, so their clipped lengths add up.
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
) -> list[Cell]:
    """The twin of ``engine.compute``: cells in (bucket, user) order, none empty."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StructField, StructType

    lookup = BucketLookup.from_edges(edges)
    start, end = edges[0], edges[-1]
    longs = ["cell", "base", "split"]
    cells = F.broadcast(
        spark.createDataFrame(
            [(c, b, s) for c, (b, s) in enumerate(zip(lookup.base, lookup.split, strict=True))],
            StructType([StructField(n, LongType(), False) for n in longs]),
        )
    )
    bounds = F.broadcast(
        spark.createDataFrame(
            [(k, a, b) for k, (a, b) in enumerate(zip(edges, edges[1:], strict=False))],
            StructType([StructField(n, LongType(), False) for n in ("bucket", "lo", "hi")]),
        )
    )

    def bucket_of(frame: DataFrame, instant: str, name: str) -> DataFrame:
        """``frame`` with the bucket of its column ``instant`` (within the range)."""
        cell = F.expr(f"({instant} - {lookup.origin}) div {lookup.cell}")
        joined = frame.withColumn("cell", cell).join(cells, "cell")
        bucket = F.col("base") + (F.col(instant) >= F.col("split")).cast("long")
        return joined.withColumn(name, bucket).drop("cell", "base", "split")

    matching = _filtered(rows, filters).where(
        (F.col("ts") < F.lit(end)) & _meets(heartbeat_us, start)
    )
    coverages = matching.select(
        "user_id",
        "ts",
        F.coalesce(F.col("end_us"), F.col("ts") + F.lit(heartbeat_us)).alias("te"),
    )
    before = (
        Window.partitionBy("user_id").orderBy("ts", "te").rowsBetween(Window.unboundedPreceding, -1)
    )
    pieces = coverages.select(
        "user_id",
        F.greatest(
            F.col("ts"), F.coalesce(F.max("te").over(before), F.col("ts")), F.lit(start)
        ).alias("a"),
        F.least(F.col("te"), F.lit(end)).alias("b"),
    ).where(F.col("b") > F.col("a"))
    spans = bucket_of(
        bucket_of(pieces.withColumn("last", F.col("b") - 1), "a", "first_bucket"),
        "last",
        "last_bucket",
    )
    within = (
        spans.where(F.col("first_bucket") == F.col("last_bucket"))
        .groupBy(F.col("first_bucket").alias("bucket"), "user_id")
        .agg(F.sum(F.col("b") - F.col("a")).alias("duration"))
    )
    crossing = spans.where(F.col("first_bucket") < F.col("last_bucket")).select(
        "user_id",
        "a",
        "b",
        F.explode(F.sequence(F.col("first_bucket"), F.col("last_bucket"))).alias("bucket"),
    )
    across = (
        crossing.join(bounds, "bucket")
        .groupBy("bucket", "user_id")
        .agg(F.sum(F.least("b", "hi") - F.greatest("a", "lo")).alias("duration"))
    )
    counts = (
        bucket_of(matching.where(F.col("ts") >= F.lit(start)), "ts", "bucket")
        .groupBy("bucket", "user_id")
        .agg(F.count(F.lit(1)).alias("n"))
    )
    zero = F.lit(0).cast("long")
    merged = (
        counts.select("bucket", "user_id", "n", zero.alias("duration"))
        .unionByName(within.select("bucket", "user_id", zero.alias("n"), "duration"))
        .unionByName(across.select("bucket", "user_id", zero.alias("n"), "duration"))
        .groupBy("bucket", "user_id")
        .agg(F.sum("n").alias("n"), F.sum("duration").alias("duration"))
        .where((F.col("n") > 0) | (F.col("duration") > 0))
    )
    result = [
        Cell(int(r["bucket"]), str(r["user_id"]), int(r["n"]), int(r["duration"]))
        for r in merged.collect()
    ]
    return sorted(result, key=lambda c: (c.bucket, c.user_id))
