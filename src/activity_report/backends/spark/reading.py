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

A local JSON file (JSON Lines or a ``.json`` array) is read through a Parquet
copy made by DuckDB's JSON reader; a JSON file the server resolves is parsed
by Spark's own readers, by the same rules (:mod:`.json_files`).

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
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ... import sources
from ...errors import DataError
from ...sources import Column, Diagnostics, EventFile, Mapping
from ...sources.csv import header_key
from ...sources.jsonl import PROBLEM
from . import json_files
from .canonical import CANONICAL, CORRUPT, canonical_frame, duck_type
from .session import first_line
from .time_format import check_time_formats, plain_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from ...resources import RunContext

#: A path with a scheme is for Spark to resolve (s3a://, hdfs://, abfss://, file:).
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(//|/)")
#: The Hive partition folder the tool prunes by.
PARTITION = "date"

_PARTITION_DIR = re.compile(r"(^|/)date=\d{4}-\d{2}-\d{2}(/|$)")

T = TypeVar("T")


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
    #: Timestamp columns read as the integers they store: name -> unit (see
    #: ``sources.far_timestamps``); the read is then of that one file.
    epoch_units: dict[str, str] = field(default_factory=dict)
    #: JSON: the Parquet copy of a local file (``json_files.parquet_copy``) is read.
    copied: bool = False
    #: Paths for the Spark server to resolve (``_remote_read``).
    remote: bool = False


@dataclass
class _Part:
    fmt: str
    frame: DataFrame  # the canonical columns, plus _file, _block, _order and _bad_text
    displays: dict[str, str]
    has_ids: bool = True  # a column of event ids was found
    has_coverage: bool = True  # a column of end times or durations was found
    files: int | None = None  # how many files it reads, when known without a job
    #: JSON Lines: every line with its split and id, which number the rows (``json_files``).
    lines: DataFrame | None = None
    #: With a time format other than iso: the frame with the raw time (:mod:`.time_format`).
    carried: DataFrame | None = None
    #: The DuckDB engine's scan these files would share with others (``_scan_key``).
    scan: tuple[int, object] | None = None


def open_events(
    spark: SparkSession,
    specs: Sequence[str],
    *,
    local: bool = True,
    window: PruneWindow | None = None,
    context: RunContext | None = None,
    reading: sources.Reading = sources.DEFAULT_READING,
    reads: Sequence[_Read] | None = None,
) -> SparkEvents:
    """The canonical rows of ``specs``; nothing is read yet but schemas and CSV headers,
    and with a ``time_format`` other than ``iso`` the first thousand rows of each read
    (a format that reads none of their times is refused, as the DuckDB engine does).

    ``reading`` names columns, and says how times and categories are written.
    ``reads``: the plan of ``specs`` (:func:`plan`), when it was made before the
    session started.
    """
    if reads is None:
        reads = plan(specs, local=local, context=context, reading=reading)
    parts = [_part(spark, read, window, reading) for read in reads]
    if reading.time_format != "iso":
        check_time_formats(parts, reading)
    return SparkEvents(spark, parts)


def plan(
    specs: Sequence[str],
    *,
    local: bool = True,
    context: RunContext | None = None,
    reading: sources.Reading = sources.DEFAULT_READING,
) -> list[_Read]:
    """What Spark is to read, grouped into reads; done before Spark starts.

    ``local``: the Spark server shares this machine's files (the local
    session), so plain paths are checked here first, with the DuckDB engine's
    messages, and a missing file costs no JVM start-up. With a remote server,
    plain paths are the server's to resolve; a relative one is made absolute
    here, so it means what it means in this shell.
    """
    if not specs:
        raise DataError("no event files given; pass {events} PATH", params=("events",))
    if reading.time_format not in sources.TIME_FORMATS:
        from .times import compile_pattern

        compile_pattern(reading.time_format)  # a directive Spark cannot read is refused now
    return _plan(specs, local, context, reading)


# --------------------------------------------------------------------------- planning


def _plan(
    specs: Sequence[str],
    local: bool,
    context: RunContext | None,
    reading: sources.Reading,
) -> list[_Read]:
    reads: list[_Read] = []
    seen: set[str] = set()
    for spec in specs:
        if _URL.match(spec) or not local:
            reads.append(_remote_read(spec))
            continue
        files = [f for f in sources.expand_paths([spec], context=context) if _first_time(f, seen)]
        base = spec if Path(spec).expanduser().is_dir() else None
        groups: dict[tuple[str, bytes], _Read] = {}
        far_files = sources.far_timestamps(files)
        for file in files:
            if file.fmt == "json":
                reads.append(_json_read(file, reading, context))
                continue
            far = far_files.get(file.path, {})
            if far:
                key = ("far", file.path.encode("utf-8", "surrogateescape"))
            else:
                key = ("parquet", b"") if file.fmt == "parquet" else _csv_key(file)
            read = groups.setdefault(key, _Read(file.fmt, [], file, base, epoch_units=far))
            read.paths.append(os.path.abspath(file.path))
            read.displays[os.path.abspath(file.path)] = file.display
        reads.extend(groups.values())
    return reads


def _json_read(file: EventFile, reading: sources.Reading, context: RunContext | None) -> _Read:
    """A local JSON file, for the local Spark: its Parquet copy, made by DuckDB's JSON
    reader (``json_files.parquet_copy``), several times faster to answer from than
    the JSON parsed by Spark in every pass (a remote server parses it, see
    :func:`_load_json`)."""
    path = json_files.parquet_copy(file, reading, context)
    return _Read("json", [path], file, displays={path: file.display}, copied=True)


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


def _remote_read(spec: str) -> _Read:
    """A path for the Spark server to resolve: a relative one is made absolute here."""
    shown = spec
    if not _URL.match(spec):
        spec = os.path.abspath(os.path.expanduser(spec))
    name = spec.lower().rstrip("/")
    fmt = "csv" if name.endswith((".csv", ".tsv", ".csv.gz", ".tsv.gz")) else "parquet"
    if name.endswith(sources.JSON_SUFFIXES):
        fmt = "json"
    shown_file = EventFile(path=spec, display=shown, fmt=fmt)
    return _Read(fmt, [spec], shown_file, displays={spec: shown}, remote=True)


# --------------------------------------------------------------------------- reading


def _part(
    spark: SparkSession, read: _Read, window: PruneWindow | None, reading: sources.Reading
) -> _Part:
    from pyspark.errors import PySparkException

    lines = None
    try:
        if read.fmt == "json" and not read.copied:
            raw, lines = _load_json(spark, read, reading)
            header: list[str] = []
        else:
            raw, header = _load(spark, read)
        own = (CORRUPT, *json_files.OWN)
        columns = [
            Column(f.name.lstrip("\ufeff"), duck_type(f.dataType), read.epoch_units.get(f.name))
            for f in raw.schema.fields
            if f.name not in own and f.name.lower() != PARTITION
        ]
        mapping = sources.map_columns(read.shown, columns, reading)
        if read.fmt == "json":
            mapping = replace(mapping, problem=Column(PROBLEM, "VARCHAR"))
        raw = _prune(raw, read, mapping, window)
        fmt = "json_copy" if read.copied else read.fmt
        frame = canonical_frame(raw, mapping, fmt, header)
        carried = None
        if reading.time_format != "iso":
            carried = canonical_frame(raw, mapping, fmt, header, carry=True)
    except PySparkException as exc:
        raise DataError(
            f"{_shown(read)}: cannot read it as {read.fmt.upper()}: {first_line(exc)}"
        ) from None
    known = all(os.path.isabs(p) and not _URL.match(p) for p in read.paths)
    return _Part(
        read.fmt,
        frame,
        read.displays,
        has_ids=mapping.event_id is not None,
        has_coverage=mapping.has_coverage,
        files=len(read.paths) if known and read.base_path is None else None,
        lines=lines,
        carried=carried,
        scan=None if carried is None else _scan_key(read, mapping),
    )


def _scan_key(read: _Read, mapping: Mapping) -> tuple[int, object] | None:
    """The DuckDB engine's scan for these files, with its rank among the kinds of scan:
    local Parquet files that map alike share one, so do local CSV files with one
    header line; others are each their own (None)."""
    if read.remote or read.fmt == "json" or read.epoch_units:
        return None
    if read.fmt == "parquet":
        return (1, mapping)
    return (2, header_key(read.shown))


def _shown(read: _Read) -> str:
    names = [read.displays.get(p, p) for p in read.paths]
    return names[0] if len(names) == 1 else f"{names[0]} (and {len(names) - 1} more)"


def _load(spark: SparkSession, read: _Read) -> tuple[DataFrame, list[str]]:
    """The raw rows of one read, and for CSV the header's field names."""
    reader = spark.read
    if read.base_path is not None:
        reader = reader.option("basePath", os.path.abspath(read.base_path))
    if read.fmt == "json":  # the Parquet copy of a local file
        return reader.parquet(*read.paths), []
    if read.fmt == "parquet":
        if len(read.paths) > 1 or read.base_path is not None:
            # Merging schemas is a Spark job each time the plan is analysed; one
            # file's schema is its footer's.
            reader = reader.option("mergeSchema", "true")
        if read.epoch_units:
            # Spark would convert such a column to microseconds and fail on a far
            # time: read as LongType, it is the integer the file stores.
            from pyspark.sql.types import LongType, StructField, StructType

            schema = reader.parquet(*read.paths).schema
            fields = [
                StructField(f.name, LongType(), f.nullable) if f.name in read.epoch_units else f
                for f in schema.fields
            ]
            reader = reader.schema(StructType(fields))
        return reader.parquet(*read.paths), []
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


def _load_json(
    spark: SparkSession, read: _Read, reading: sources.Reading
) -> tuple[DataFrame, DataFrame | None]:
    """The rows of JSON files Spark reads itself, as text columns (see :mod:`.json_files`),
    and for JSON Lines every line, which number the rows."""
    shown = _shown(read)
    fmt = json_files.detect_format(spark, read.paths, shown)
    if fmt == "newline_delimited":
        lines = json_files.lines(spark, read.paths)
        return json_files.fields(json_files.line_objects(lines), reading), lines
    return json_files.fields(json_files.array_objects(spark, read.paths, shown), reading), None


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


# --------------------------------------------------------------------------- the events


class SparkEvents:
    """The canonical rows of every read, and the three answers a report needs."""

    def __init__(self, spark: SparkSession, parts: Sequence[_Part]) -> None:
        if not parts:
            raise DataError("no event files given; pass {events} PATH", params=("events",))
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

    def displays(self) -> list[str]:
        """The files' names as messages give them, in the order they were given."""
        return [name for part in self.parts for name in part.displays.values()]

    def display(self, spark_path: str) -> str:
        """The name messages give a file Spark names by its URL."""
        plain = plain_path(spark_path)
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
