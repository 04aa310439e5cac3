"""Spark's rows -> the canonical columns, with the DuckDB engine's checks in its order.

:func:`canonical_frame` is the twin of ``sources.canonical_select``, and
:func:`duck_type` spells Spark's types as DuckDB does so that
``sources.map_columns`` picks the columns of a Spark schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ... import sources
from ...sources import Column, Mapping, Reading
from ...sources.mapping import EPOCH_FORMATS
from . import times

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame
    from pyspark.sql.types import DataType

#: ISO 8601 as DuckDB reads it: Spark alone would also take '2024' or '2024-01'.
_ISO_PREFIX = r"^\d{4}-\d{1,2}-\d{1,2}([T ]|$)"
#: Text whose time carries its own offset or zone, and text that starts with a date:
#: as ``sources.mapping`` tells them.
_ZONED = "(?:[0-9]:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)? ?[+-][0-9:]+|[A-Za-z])$"
_DATE_FIRST = "^-?[0-9]{4,}-[0-9]{1,2}-[0-9]{1,2}"
#: The fields Spark fills for a CSV line it cannot split into the header's fields.
CORRUPT = "_corrupt_record"
#: What Spark puts in place of bytes that are not UTF-8.
REPLACEMENT = "\ufffd"

#: The raw time column :func:`canonical_frame` carries (``time_format.check_time_format``).
RAW_TIME = "_raw_time"

CANONICAL = ("ts", "end_us", "user_id", "category", "org", "event_id", "problem")


def duck_type(kind: DataType) -> str:
    """A Spark type in DuckDB's spelling, for ``sources.map_columns``."""
    from pyspark.sql import types as T

    if isinstance(kind, T.StringType | T.VarcharType | T.CharType):
        return "VARCHAR"
    if isinstance(kind, T.TimestampType):
        return "TIMESTAMP WITH TIME ZONE"
    if isinstance(kind, T.TimestampNTZType):
        return "TIMESTAMP"
    if isinstance(kind, T.DateType):
        return "DATE"
    if isinstance(kind, T.DayTimeIntervalType):
        return "INTERVAL"
    if isinstance(kind, T.DecimalType):
        return f"DECIMAL({kind.precision},{kind.scale})"
    simple = {
        T.ByteType: "TINYINT",
        T.ShortType: "SMALLINT",
        T.IntegerType: "INTEGER",
        T.LongType: "BIGINT",
        T.FloatType: "FLOAT",
        T.DoubleType: "DOUBLE",
        T.BooleanType: "BOOLEAN",
    }
    for spark_type, name in simple.items():
        if isinstance(kind, spark_type):
            return name
    return kind.simpleString().upper()


def canonical_frame(
    raw: DataFrame, mapping: Mapping, fmt: str, header: Sequence[str], *, carry: bool = False
) -> DataFrame:
    """The twin of ``sources.canonical_select``: the same columns, checks and order.

    ``carry``: the time column's value as the file holds it rides along as
    ``_raw_time`` (for :mod:`.time_format`).
    """
    from pyspark.sql import functions as F

    def col(column: Column) -> SparkColumn:
        return F.col("`" + _spark_name(raw, column.name).replace("`", "``") + "`")

    def present(column: Column | None) -> SparkColumn:
        if column is None:
            return F.lit(False)
        if column.type == "VARCHAR":
            return F.nullif(F.trim(col(column)), F.lit("")).isNotNull()
        return col(column).isNotNull()

    reading = mapping.reading

    def plain_stamp(column: Column) -> SparkColumn:
        if column.epoch_unit is not None:
            limit = sources.epoch_limit(column.epoch_unit)
            per = sources.EPOCH_MICROS[column.epoch_unit]
            return F.when(col(column).between(-limit, limit), col(column) * F.lit(per))
        if column.type == "VARCHAR":
            text = F.nullif(F.trim(col(column)), F.lit(""))
            iso = F.when(text.rlike(_ISO_PREFIX), text)
            return F.unix_micros(iso.try_cast("timestamp"))
        if column.type.startswith("DATE") or column.type == "TIMESTAMP":
            return F.unix_micros(col(column).cast("timestamp"))
        return F.unix_micros(col(column))

    def stamp(column: Column) -> tuple[SparkColumn, SparkColumn]:
        """The twin of ``sources.mapping.time_sql``: the time, and whether it was a wall time."""
        plain, no = plain_stamp(column), F.lit(False)
        fmt = reading.time_format
        if reading.plain_times:
            return plain, no
        if fmt in EPOCH_FORMATS and _numeric_or_text(column.type):
            return _epoch(col(column), fmt), no
        if fmt in EPOCH_FORMATS or column.type != "VARCHAR":
            zoneless = column.type == "DATE" or column.type == "TIMESTAMP"
            if reading.utc_input or not zoneless:
                return plain, no
            return times.local(plain, reading), plain.isNotNull()
        text = F.trim(col(column).cast("string"))
        if fmt == "iso":
            zoned = text.rlike(_ZONED)
            wall = F.when(
                text.rlike(_DATE_FIRST) & ~zoned, F.unix_micros(text.try_cast("timestamp"))
            )
            return (
                F.when(zoned, plain).otherwise(times.local(wall, reading)),
                F.coalesce(~zoned & wall.isNotNull(), no),
            )
        wall, zoned_format = times.strptime(text, fmt)
        if zoned_format:
            return wall, no
        return times.local(wall, reading), wall.isNotNull()

    def far_side(column: Column | None) -> SparkColumn:
        if column is None or column.epoch_unit is None:
            return F.lit(0)
        limit = sources.epoch_limit(column.epoch_unit)
        return F.when(col(column) > limit, 1).when(col(column) < -limit, -1).otherwise(0)

    def text(column: Column | None) -> SparkColumn:
        if column is None:
            return F.lit(None).cast("string")
        return F.nullif(F.trim(col(column).cast("string")), F.lit(""))

    def category() -> SparkColumn:
        """Trimmed, lower case, runs of spaces and hyphens made one ``_``; text that is
        already a known category is itself, so it skips the regular expression."""
        normalised = F.regexp_replace(F.lower(text(mapping.category)), r"[\s-]+", "_")
        if mapping.category is None or mapping.category.type != "VARCHAR":
            return normalised
        given = col(mapping.category)
        return F.when(given.isin(list(sources.CATEGORIES)), given).otherwise(normalised)

    def duration() -> SparkColumn:
        column = mapping.duration
        if column is None:
            return F.lit(None).cast("double")
        if column.type == "INTERVAL":
            return F.unix_micros(F.timestamp_micros(F.lit(0)) + col(column)).cast("double")
        value = col(column).try_cast("double")
        if column.type == "VARCHAR":
            value = F.nullif(F.trim(col(column)), F.lit("")).try_cast("double")
        return value * F.lit(mapping.duration_micros)

    time, time_wall = stamp(mapping.time)
    end_time, end_wall = F.lit(None).cast("long"), F.lit(False)
    if mapping.end_time:
        end_time, end_wall = stamp(mapping.end_time)
    bad_text = F.lit(False)
    corrupt = F.lit(None).cast("string")
    if fmt == "csv":
        used = [
            c
            for c in (
                mapping.time,
                mapping.user_id,
                mapping.category,
                mapping.organization_id,
                mapping.end_time,
                mapping.duration,
                mapping.event_id,
            )
            if c is not None
        ]
        bad_text = F.coalesce(
            F.concat_ws("", *(col(c) for c in used), F.col(CORRUPT)).contains(REPLACEMENT),
            F.lit(False),
        )
        corrupt = _corrupt_reason(len(header))
    staged = raw.select(
        time.alias("ts"),
        time_wall.alias("time_wall"),
        present(mapping.time).alias("has_time"),
        far_side(mapping.time).alias("time_far"),
        end_time.alias("end_time_us"),
        end_wall.alias("end_wall"),
        present(mapping.end_time).alias("has_end"),
        far_side(mapping.end_time).alias("end_far"),
        duration().alias("duration_us"),
        present(mapping.duration).alias("has_duration"),
        text(mapping.user_id).alias("user_id"),
        _mapped(category(), reading).alias("category"),
        text(mapping.organization_id).alias("org"),
        text(mapping.event_id).alias("event_id"),
        corrupt.alias("corrupt"),
        bad_text.alias("_bad_text"),
        *_source(fmt),
        (col(mapping.problem) if mapping.problem else F.lit(None).cast("string")).alias(
            "row_problem"
        ),
        *([col(mapping.time).alias(RAW_TIME)] if carry else []),
    )
    ts, end, dur = F.col("ts"), F.col("end_time_us"), F.col("duration_us")
    finite = ~F.isnan(dur) & (F.abs(dur) != F.lit(float("inf")))
    problem = (
        F.when(F.col("row_problem").isNotNull(), F.col("row_problem"))
        .when(F.col("corrupt").isNotNull(), F.col("corrupt"))
        .when(~F.col("has_time"), "missing time")
        .when(F.col("time_far") != 0, "time out of range")
        .when(ts.isNull() & F.col("time_wall"), "nonexistent local time")
        .when(ts.isNull(), "unparseable time")
        .when((ts < sources.MIN_TIME_US) | (ts >= sources.MAX_TIME_US), "time out of range")
        .when(F.col("user_id").isNull(), "missing user_id")
        .when(F.col("category").isNull(), "missing category")
        .when(F.col("end_far") < 0, "end_time before time")
        .when(F.col("end_far") > 0, "coverage longer than a year")
        .when(F.col("has_end") & end.isNull() & F.col("end_wall"), "nonexistent local end_time")
        .when(F.col("has_end") & end.isNull(), "unparseable end_time")
        .when(end < ts, "end_time before time")
        .when(end > ts + sources.MAX_COVERAGE_US, "coverage longer than a year")
        .when(F.col("has_duration") & (dur.isNull() | ~finite), "unparseable duration")
        .when(dur < 0, "negative duration")
        .when(dur > sources.MAX_COVERAGE_US, "coverage longer than a year")
    )
    checked = staged.withColumn("problem", problem)
    end_us = F.when(
        F.col("problem").isNull(), F.coalesce(end, ts + F.round(dur).cast("long"))
    ).alias("end_us")
    return checked.select(
        "ts",
        end_us,
        "user_id",
        "category",
        "org",
        "event_id",
        "problem",
        "_file",
        "_block",
        "_order",
        "_bad_text",
        *([RAW_TIME] if carry else []),
    )


def _source(fmt: str) -> tuple[SparkColumn, SparkColumn, SparkColumn]:
    """A row's file, the start of its read split, and its place: the 1-based row number
    where the reader gives it (Parquet, the Parquet copy of a JSON file), a JSON row's
    place (see ``json_files``), else NULL."""
    from pyspark.sql import functions as F

    from .json_files import BLOCK, FILE, LINE, SEQ

    if fmt == "json":
        return F.col(FILE).alias("_file"), F.col(BLOCK).alias("_block"), F.col(SEQ).alias("_order")
    order = F.lit(None).cast("long")
    if fmt == "parquet":
        order = F.col("_metadata.row_index") + 1
    elif fmt == "json_copy":
        order = F.col(LINE)
    return (
        F.col("_metadata.file_path").alias("_file"),
        F.col("_metadata.file_block_start").alias("_block"),
        order.alias("_order"),
    )


def _numeric_or_text(kind: str) -> bool:
    return kind in (
        "VARCHAR", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE",
    ) or kind.startswith("DECIMAL")  # fmt: skip


def _epoch(value: SparkColumn, fmt: str) -> SparkColumn:
    """Numbers (or numeric text) of ``fmt``'s unit since the epoch, as microseconds, as the
    DuckDB engine reads them: floored, and one step outside the valid range when beyond it."""
    from pyspark.sql import functions as F

    multiply, divide = EPOCH_FORMATS[fmt]
    scale = multiply / divide
    text = F.trim(value.cast("string"))
    number = text.try_cast("double")
    exact = F.floor(text.try_cast("decimal(38,9)") * F.lit(scale).cast("decimal(38,9)"))
    finite = ~F.isnan(number) & (F.abs(number) != F.lit(float("inf")))
    return (
        F.when(number.isNull() | ~finite, F.lit(None).cast("long"))
        .when(number * scale < sources.MIN_TIME_US, F.lit(sources.MIN_TIME_US - 1))
        .when(number * scale >= sources.MAX_TIME_US, F.lit(sources.MAX_TIME_US))
        .otherwise(F.coalesce(exact.cast("long"), F.floor(number * scale).cast("long")))
    )


def _mapped(category: SparkColumn, reading: Reading) -> SparkColumn:
    """The normalised category with the user's category map applied."""
    from pyspark.sql import functions as F

    if not reading.category_map:
        return category
    pairs = [F.lit(x) for pair in reading.category_map for x in pair]
    return F.coalesce(F.create_map(*pairs)[category], category)


def _spark_name(raw: DataFrame, name: str) -> str:
    """The column's name in Spark's schema (a BOM stripped for the mapping kept)."""
    for real in raw.columns:
        if real == name or real.lstrip("\ufeff") == name:
            return real
    return name


def _corrupt_reason(fields: int) -> SparkColumn:
    """DuckDB's reason for a CSV line Spark could not split into ``fields`` fields."""
    from pyspark.sql import functions as F

    line = F.col(CORRUPT)
    # Fields counted by the separator is an estimate (quotes are ignored), which is
    # all a malformed line allows; it only picks the reason's wording.
    found = F.size(F.split(line, r"[,;\t|]"))
    return (
        F.when(line.isNull(), F.lit(None).cast("string"))
        .when(found < fields, "too few fields")
        .when(found > fields, "too many fields")
        .otherwise("bad quoting")
    )
