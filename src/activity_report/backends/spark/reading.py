"""``--events`` -> one Spark DataFrame with the canonical columns of :mod:`...sources`.

The rules are the DuckDB engine's: the same aliases (``sources.map_columns``
picks the columns from Spark's schema, given in DuckDB's type names), the same
category normalisation, the same invalid-row checks in the same order, the
same diagnostics. Local paths are resolved by ``sources.expand_paths`` (same
errors for a missing file, an empty one, UTF-16 text); a URL (``s3a://``,
``hdfs://``, ``abfss://``, ``file:``) or any path given to a remote server is
handed to Spark as it is.

CSV is read as text columns with the header's names, one read per distinct
header (Spark, like DuckDB, takes columns by position). A line Spark cannot
split into the header's fields is an invalid row named as DuckDB names it
(too few fields, too many fields, bad quoting); text that is not UTF-8 is an
error naming the file and line.

A folder laid out as Hive partitions (``date=2024-01-01/``) is read with its
``date`` column, and a report with ``--start``/``--end`` reads only the
partitions that can hold matching events (:class:`PruneWindow`).
"""

from __future__ import annotations

import csv
import gzip
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ... import sources
from ...engine import Cell, Filters
from ...errors import DataError
from ...sources import Column, Diagnostics, EventFile, Mapping
from .session import first_line

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import DataType

#: A path with a scheme is for Spark to resolve (s3a://, hdfs://, abfss://, file:).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(//|/)")
#: The Hive partition folder the tool prunes by.
PARTITION = "date"
_PARTITION_DIR = re.compile(r"(^|/)date=\d{4}-\d{2}-\d{2}(/|$)")
#: ISO 8601 as DuckDB reads it: Spark alone would also take '2024' or '2024-01'.
_ISO_PREFIX = r"^\d{4}-\d{1,2}-\d{1,2}([T ]|$)"
#: The fields Spark fills for a CSV line it cannot split into the header's fields.
CORRUPT = "_corrupt_record"
#: What Spark puts in place of bytes that are not UTF-8.
REPLACEMENT = "\ufffd"

T = TypeVar("T")

CANONICAL = ("ts", "end_us", "user_id", "category", "org", "event_id", "problem")


@dataclass(frozen=True)
class PruneWindow:
    """The event times a report can need: partitions wholly outside are not read.

    An event covers at most ``lookback_us`` before its time (the heartbeat, or
    the longest session an event may claim when the files have end times or
    durations). A partition ``date=D`` is taken to hold events whose time is
    on day D in UTC, with a day's margin on each side for logs partitioned by a
    local date.
    """

    start_us: int | None
    end_us: int | None
    heartbeat_us: int

    def days(self, has_coverage: bool) -> tuple[date | None, date | None]:
        lookback = sources.MAX_COVERAGE_US if has_coverage else self.heartbeat_us
        first = last = None
        if self.start_us is not None:
            first = _utc_day(self.start_us - lookback) - timedelta(days=1)
        if self.end_us is not None:
            last = _utc_day(self.end_us) + timedelta(days=1)
        return first, last


def _utc_day(micros: int) -> date:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)).date()


@dataclass
class _Read:
    """One Spark read: files that share a format (and, for CSV, a header)."""

    fmt: str
    paths: list[str]
    shown: EventFile  # what messages name, and what map_columns is given
    base_path: str | None = None  # the folder Hive partitions are found under
    displays: dict[str, str] = field(default_factory=dict)  # local path -> name to show


@dataclass
class _Part:
    fmt: str
    frame: DataFrame  # the canonical columns, plus _file, _block, _order and _bad_text
    displays: dict[str, str]


def open_events(
    spark: SparkSession,
    specs: Sequence[str],
    *,
    local: bool = True,
    window: PruneWindow | None = None,
) -> SparkEvents:
    """The canonical rows of ``specs``; nothing is read yet but schemas and CSV headers.

    ``local``: the Spark server shares this machine's files (the local
    session), so plain paths are checked here first, with the DuckDB engine's
    messages. With a remote server plain paths are the server's to resolve.
    """
    if not specs:
        raise DataError("no event files given; pass --events PATH")
    parts = [_part(spark, read, window) for read in _plan(spark, specs, local)]
    return SparkEvents(spark, parts)


# --------------------------------------------------------------------------- planning


def _plan(spark: SparkSession, specs: Sequence[str], local: bool) -> list[_Read]:
    reads: list[_Read] = []
    seen: set[str] = set()
    for spec in specs:
        if _URL.match(spec) or not local:
            reads.append(_remote_read(spark, spec))
            continue
        files = [f for f in sources.expand_paths([spec]) if _first_time(f, seen)]
        base = spec if Path(spec).expanduser().is_dir() else None
        groups: dict[tuple[str, bytes], _Read] = {}
        for file in files:
            key = ("parquet", b"") if file.fmt == "parquet" else _csv_key(file)
            read = groups.setdefault(key, _Read(file.fmt, [], file, base))
            read.paths.append(os.path.abspath(file.path))
            read.displays[os.path.abspath(file.path)] = file.display
        reads.extend(groups.values())
    return reads


def _first_time(file: EventFile, seen: set[str]) -> bool:
    key = file.path if file.display == "<stdin>" else os.path.realpath(file.path)
    if key in seen:
        return False
    seen.add(key)
    return True


def _csv_key(file: EventFile) -> tuple[str, bytes]:
    return ("csv", _header_line(file.path) or file.path.encode("utf-8", "surrogateescape"))


def _header_line(path: str) -> bytes | None:
    try:
        opener = gzip.open if path.lower().endswith(".gz") else open
        with opener(path, "rb") as handle:
            line: bytes = handle.readline(65_536)
    except (OSError, EOFError):
        return None
    return line.rstrip(b"\r\n")


def _remote_read(spark: SparkSession, spec: str) -> _Read:
    name = spec.lower().rstrip("/")
    fmt = "csv" if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")) else "parquet"
    return _Read(fmt, [spec], EventFile(path=spec, display=spec, fmt=fmt))


# --------------------------------------------------------------------------- reading


def _part(spark: SparkSession, read: _Read, window: PruneWindow | None) -> _Part:
    from pyspark.errors import PySparkException

    try:
        raw, header = _load(spark, read)
        columns = [
            Column(f.name.lstrip("\ufeff"), _duck_type(f.dataType))
            for f in raw.schema.fields
            if f.name != CORRUPT and f.name.lower() != PARTITION
        ]
        mapping = sources.map_columns(read.shown, columns)
        raw = _prune(raw, read, mapping, window)
        frame = _canonical(raw, mapping, read.fmt, header)
    except PySparkException as exc:
        raise DataError(
            f"{_shown(read)}: cannot read it as {read.fmt.upper()}: {first_line(exc)}"
        ) from None
    return _Part(read.fmt, frame, read.displays)


def _shown(read: _Read) -> str:
    names = [read.displays.get(p, p) for p in read.paths]
    return names[0] if len(names) == 1 else f"{names[0]} (and {len(names) - 1} more)"


def _load(spark: SparkSession, read: _Read) -> tuple[DataFrame, list[str]]:
    """The raw rows of one read, and for CSV the header's field names."""
    reader = spark.read
    if read.base_path is not None:
        reader = reader.option("basePath", os.path.abspath(read.base_path))
    if read.fmt == "parquet":
        return reader.option("mergeSchema", "true").parquet(*read.paths), []
    sep, line = _separator(spark, read)
    if line is not None:  # a local file: its header line is already read
        header = next(csv.reader([line], delimiter=sep), [])
    else:
        header = spark.read.options(header="true", sep=sep).csv(read.paths[0]).columns
    if not header:
        raise DataError(f"{_shown(read)}: no header row (time, user_id, category)")
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType(
        [StructField(name, StringType()) for name in _unique(header)]
        + [StructField(CORRUPT, StringType())]
    )
    frame = (
        reader.schema(schema)
        .options(
            header="true",
            sep=sep,
            mode="PERMISSIVE",
            columnNameOfCorruptRecord=CORRUPT,
            multiLine="true",  # quoted fields may hold line breaks, as DuckDB reads them
            encoding="UTF-8",
        )
        .csv(read.paths)
    )
    return frame, header


def _unique(names: Sequence[str]) -> list[str]:
    """Spark needs distinct column names; a repeated header name gets a suffix."""
    out: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate in out:
            n += 1
            candidate = f"{name}_{n}"
        out.append(candidate)
    return out


def _separator(spark: SparkSession, read: _Read) -> tuple[str, str | None]:
    """The header's field separator, as DuckDB's sniffer finds it among , ; tab |,
    and the header line itself when the file is local."""
    path = read.paths[0]
    local: str | None = None
    if not _URL.match(path) and os.path.exists(path):
        raw = _header_line(path)
        local = raw.decode("utf-8", "replace").lstrip("\ufeff") if raw is not None else None
        line = local
    else:
        first = spark.read.text(path).limit(1).collect()
        line = str(first[0][0]) if first else None
    if not line:
        return ",", local
    counts = {sep: line.count(sep) for sep in (",", ";", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return (best if counts[best] else ","), local


def _prune(raw: DataFrame, read: _Read, mapping: Mapping, window: PruneWindow | None) -> DataFrame:
    """Keep the Hive partitions (``date=``) the report's range can need."""
    from pyspark.sql import functions as F

    if window is None or PARTITION not in raw.columns:
        return raw
    if not any(_PARTITION_DIR.search(p) for p in read.paths) and not any(
        _PARTITION_DIR.search(p) for p in raw.inputFiles()
    ):
        return raw  # a column of the files named date, not a partition folder
    first, last = window.days(mapping.has_coverage)
    day = F.col(PARTITION).try_cast("date")
    keep = F.lit(True)
    if first is not None:
        keep = keep & (day >= F.lit(first))
    if last is not None:
        keep = keep & (day <= F.lit(last))
    return raw.where(day.isNull() | keep)  # a folder whose date is unreadable is read


def _duck_type(kind: DataType) -> str:
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


# --------------------------------------------------------------------------- canonical columns


def _canonical(raw: DataFrame, mapping: Mapping, fmt: str, header: Sequence[str]) -> DataFrame:
    """The twin of ``sources.canonical_select``: the same columns, checks and order."""
    from pyspark.sql import functions as F

    def col(column: Column) -> SparkColumn:
        return F.col("`" + _spark_name(raw, column.name).replace("`", "``") + "`")

    def present(column: Column | None) -> SparkColumn:
        if column is None:
            return F.lit(False)
        if column.type == "VARCHAR":
            return F.nullif(F.trim(col(column)), F.lit("")).isNotNull()
        return col(column).isNotNull()

    def stamp(column: Column) -> SparkColumn:
        if column.type == "VARCHAR":
            text = F.nullif(F.trim(col(column)), F.lit(""))
            iso = F.when(text.rlike(_ISO_PREFIX), text)
            return F.unix_micros(iso.try_cast("timestamp"))
        if column.type.startswith("DATE") or column.type == "TIMESTAMP":
            return F.unix_micros(col(column).cast("timestamp"))
        return F.unix_micros(col(column))

    def text(column: Column | None) -> SparkColumn:
        if column is None:
            return F.lit(None).cast("string")
        return F.nullif(F.trim(col(column).cast("string")), F.lit(""))

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

    end_time = stamp(mapping.end_time) if mapping.end_time else F.lit(None).cast("long")
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
        stamp(mapping.time).alias("ts"),
        present(mapping.time).alias("has_time"),
        end_time.alias("end_time_us"),
        present(mapping.end_time).alias("has_end"),
        duration().alias("duration_us"),
        present(mapping.duration).alias("has_duration"),
        text(mapping.user_id).alias("user_id"),
        F.regexp_replace(F.lower(text(mapping.category)), r"[\s-]+", "_").alias("category"),
        text(mapping.organization_id).alias("org"),
        text(mapping.event_id).alias("event_id"),
        corrupt.alias("corrupt"),
        bad_text.alias("_bad_text"),
        F.col("_metadata.file_path").alias("_file"),
        F.col("_metadata.file_block_start").alias("_block"),
        (F.col("_metadata.row_index") + 1 if fmt == "parquet" else F.lit(None).cast("long")).alias(
            "_order"
        ),
    )
    ts, end, dur = F.col("ts"), F.col("end_time_us"), F.col("duration_us")
    finite = ~F.isnan(dur) & (F.abs(dur) != F.lit(float("inf")))
    problem = (
        F.when(F.col("corrupt").isNotNull(), F.col("corrupt"))
        .when(~F.col("has_time"), "missing time")
        .when(ts.isNull(), "unparseable time")
        .when((ts < sources.MIN_TIME_US) | (ts >= sources.MAX_TIME_US), "time out of range")
        .when(F.col("user_id").isNull(), "missing user_id")
        .when(F.col("category").isNull(), "missing category")
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
    )


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


# --------------------------------------------------------------------------- the events


class SparkEvents:
    """The canonical rows of every read, and the three answers a report needs."""

    def __init__(self, spark: SparkSession, parts: Sequence[_Part]) -> None:
        if not parts:
            raise DataError("no event files given; pass --events PATH")
        self.spark = spark
        self.parts = list(parts)
        frame = parts[0].frame
        for part in parts[1:]:
            frame = frame.unionByName(part.frame)
        self.frame = frame

    @property
    def rows(self) -> DataFrame:
        """The canonical columns only."""
        return self.frame.select(*CANONICAL)

    def diagnose(self) -> Diagnostics:
        from . import diagnostics

        return self.guard(lambda: diagnostics.diagnose(self))

    def data_span(
        self,
        filters: Filters,
        heartbeat_us: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None:
        from . import counting

        return self.guard(
            lambda: counting.data_span(self.rows, filters, heartbeat_us, start_us, end_us)
        )

    def compute(self, edges: Sequence[int], filters: Filters, heartbeat_us: int) -> list[Cell]:
        from . import counting

        return self.guard(
            lambda: counting.compute(self.spark, self.rows, edges, filters, heartbeat_us)
        )

    def displays(self) -> list[str]:
        """The files' names as messages give them, in the order they were given."""
        return [name for part in self.parts for name in part.displays.values()]

    def display(self, spark_path: str) -> str:
        """The name messages give a file Spark names by its URL."""
        from urllib.parse import unquote

        plain = unquote(spark_path)
        if plain.startswith("file://"):
            plain = plain[len("file://") :]
        elif plain.startswith("file:"):
            plain = plain[len("file:") :]
        for part in self.parts:
            if plain in part.displays:
                return part.displays[plain]
        return spark_path

    def guard(self, work: Callable[[], T]) -> T:
        from pyspark.errors import PySparkException

        try:
            return work()
        except PySparkException as exc:
            raise DataError(f"cannot read the events: {first_line(exc)}") from None
