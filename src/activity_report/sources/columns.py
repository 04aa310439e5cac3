"""Column aliases: which of a file's columns serves each canonical field.

:func:`map_columns` picks, from a file's columns, the one that serves each
canonical field; :func:`~.canonical.canonical_select` is the query that reads
them as the columns of the view.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ..errors import DataError
from .mapping import DEFAULT as DEFAULT_READING
from .mapping import (
    EPOCH_FORMATS,
    FIELDS,
    Reading,
    epoch_formats,
    epoch_reading,
    missing_column,
)
from .paths import EventFile

if TYPE_CHECKING:
    import duckdb
    import pyarrow.parquet as pq

CATEGORIES: tuple[str, ...] = ("ide", "login", "app", "tunnel", "web_terminal")

#: The column aliases, in order of preference (the first one present wins).
ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("time", "timestamp", "ts", "created_at", "started_at", "start_time"),
    "user_id": ("user_id", "user", "user_uuid"),
    "category": ("category", "action", "type"),
    "organization_id": ("organization_id", "org_id", "org", "organization"),
    "end_time": ("end_time", "ended_at", "end"),
    "id": ("id", "event_id"),
}
REQUIRED = ("time", "user_id", "category")

#: Duration columns whose name carries the unit, and their size in microseconds.
DURATION_UNITS: dict[str, float] = {
    "duration_s": 1_000_000.0,
    "duration_ms": 1_000.0,
    "duration_us": 1.0,
    "duration_ns": 0.001,
}
ARROW_DURATION_MICROS = {"s": 1_000_000.0, "ms": 1_000.0, "us": 1.0, "ns": 0.001}

#: Event times before 1900 or from 2200 on are refused: they are clock or unit
#: errors (an epoch in the wrong unit, a year 294247), and far enough from any
#: real log that every sum of a time and a coverage stays inside a BIGINT.
MIN_TIME_US = -2_208_988_800_000_000  # 1900-01-01T00:00:00Z
MAX_TIME_US = 7_258_118_400_000_000  # 2200-01-01T00:00:00Z

#: Longest coverage an event may claim; beyond it the row is refused as absurd.
MAX_COVERAGE_US = 366 * 86_400 * 1_000_000

#: Microseconds per unit of a timestamp read as the integer it stores (see :func:`far_timestamps`).
EPOCH_MICROS = {"s": 1_000_000, "ms": 1_000, "us": 1}


def epoch_limit(unit: str) -> int:
    """The farthest count of ``unit`` from the epoch whose microseconds fit in a BIGINT."""
    return (2**63 - 1) // EPOCH_MICROS[unit]


@dataclass(frozen=True)
class Column:
    """One input column: its real name (to quote) and DuckDB type.

    ``epoch_unit`` is set for a timestamp read as the integer it stores, a
    count of that unit since the Unix epoch (see :func:`far_timestamps`).
    """

    name: str
    type: str
    epoch_unit: str | None = None

    @property
    def sql(self) -> str:
        return quote_ident(self.name)


@dataclass(frozen=True)
class Mapping:
    """Which input column serves each canonical field of one file."""

    time: Column
    user_id: Column
    category: Column
    organization_id: Column | None
    end_time: Column | None
    duration: Column | None
    duration_micros: float  # microseconds per unit of ``duration``; 0 for INTERVAL
    event_id: Column | None
    #: How the user said to read times and categories (see :mod:`.mapping`).
    reading: Reading = DEFAULT_READING
    #: A column saying why a row is invalid before any field is read (a
    #: malformed JSON line), else None.
    problem: Column | None = None

    @property
    def has_coverage(self) -> bool:
        return self.end_time is not None or self.duration is not None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


_READER_COLUMNS = {"filename", "file_row_number"}  # added by the reader, not the file's own


#: The columns of a user directory (one of each set), and the ids of an organization's.
_USER_DIRECTORY = ({"id", "user_id"}, {"username", "email", "name"})
_ORG_IDS = {"organization_id", "org_id"}


def _refuse_directory(file: EventFile, names: set[str]) -> None:
    """Refuse a user or organization directory given as events (a folder of logs that
    holds one, say), naming what it is and where it goes; else nothing."""
    ids, details = _USER_DIRECTORY
    if names in ({"id", "name"}, {"user_id", "name"}):  # either kind
        what, goes = "a user or organization directory", "{users} or {orgs}"
    elif "name" in names and names & _ORG_IDS and names <= _ORG_IDS | {"id", "name"}:
        what, goes = "an organization directory", "{orgs}"
    elif names & ids and names & details:
        what, goes = "a user directory", "{users}"
    else:
        return
    raise DataError(
        "{file}: is {what} (columns {found}), not an event log: give it to " + goes + " (or "
        "import it: `activity-report users import` or `orgs import`), and keep it out of the "
        "events' files and folders",
        params=tuple(p for p in ("users", "orgs") if "{" + p + "}" in goes),
        file=file.display,
        what=what,
        found=", ".join(sorted(names)),
    )


def map_columns(
    file: EventFile, columns: Sequence[Column], reading: Reading = DEFAULT_READING
) -> Mapping:
    """Apply the column aliases to one file's columns; refuse what cannot be read.

    Names match case-insensitively and ignoring surrounding blanks. A column
    the user named in ``reading`` serves its field whatever the aliases say;
    a name the file lacks is an error listing the file's columns.
    """
    own = [c for c in columns if c.name.lower() not in _READER_COLUMNS]
    by_name: dict[str, Column] = {}
    for column in own:
        by_name.setdefault(column.name.strip().lower(), column)

    def pick(field: str) -> Column | None:
        return _pick(by_name, field)

    found = ", ".join(c.name for c in own)
    picked = {field: pick(field) for field in ALIASES}
    for given, name in reading.columns:
        if not given.startswith("duration_"):
            picked[FIELDS[given]] = _named(file, own, by_name, given, name)
    if picked["time"] is None and picked["category"] is None:
        _refuse_directory(file, set(by_name))
    for field in REQUIRED:
        if picked[field] is None:
            given = next(f for f, canonical in FIELDS.items() if canonical == field)
            raise DataError(
                "{file}: no {field} column (accepted names: {names}); columns found: "
                "{found}; name the one to use with {column} {given}=NAME",
                params=("column",),
                file=file.display,
                field=field,
                names=", ".join(ALIASES[field]),
                found=found or "none",
                given=given,
            )
    duration: Column | None
    if reading.duration is not None:
        unit, name = reading.duration
        duration, micros = _named(file, own, by_name, unit, name), DURATION_UNITS[unit]
        _check_numeric(file, duration)
    else:
        duration, micros = _pick_duration(file, by_name)
    time, user_id, category = picked["time"], picked["user_id"], picked["category"]
    assert time is not None and user_id is not None and category is not None
    for field in ("time", "end_time"):
        stamp = picked[field]
        epoch = (
            stamp is not None
            and reading.time_format in EPOCH_FORMATS
            and _is_numeric_or_text(stamp.type)
        )
        if (
            stamp is not None
            and stamp.epoch_unit is None
            and not epoch
            and not _is_temporal_or_text(stamp.type)
        ):
            raise _not_a_time(file, stamp, field)
    return Mapping(
        time=time,
        user_id=user_id,
        category=category,
        organization_id=picked["organization_id"],
        end_time=picked["end_time"],
        duration=duration,
        duration_micros=micros,
        event_id=picked["id"],
        reading=reading,
    )


def _not_a_time(file: EventFile, stamp: Column, field: str) -> DataError:
    """The error for a time column of another type: numbers are told the format that reads them.

    A Parquet file's statistics (read from its footer) tell the unit its
    numbers count, when their size names one; else every epoch format is offered.
    """
    subject = f"{file.display}: column {stamp.name!r} ({field}) has type {stamp.type}"
    if not _is_numeric_or_text(stamp.type):
        return DataError(f"{subject}; it must hold timestamps or ISO 8601 text")
    bounds = _parquet_bounds(file, stamp.name) if file.fmt == "parquet" else []
    found = epoch_formats(bounds)
    if len(found) == 1:
        counted, formats = epoch_reading(found)
        return DataError(
            "{subject}; its numbers look like {counted}, such as {example}: "
            "read them with {time_format} {formats}",
            params=("time_format",),
            subject=subject,
            counted=counted,
            example=bounds[0],
            formats=formats,
        )
    counted, formats = epoch_reading(tuple(EPOCH_FORMATS))
    return DataError(
        "{subject}; it must hold timestamps or ISO 8601 text, or {counted} read with "
        "{time_format} {formats}",
        params=("time_format",),
        subject=subject,
        counted=counted,
        formats=formats,
    )


def _parquet_bounds(file: EventFile, column: str) -> list[str]:
    """The least and greatest value of a Parquet column by the footer's statistics, as text.

    Those of the first row group that has them; none when no row group has.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(file.path).metadata
        for group in range(meta.num_row_groups):
            chunks = meta.row_group(group)
            for index in range(chunks.num_columns):
                chunk = chunks.column(index)
                stats = chunk.statistics
                if chunk.path_in_schema == column and stats is not None and stats.has_min_max:
                    return [str(stats.min), str(stats.max)]
    except (OSError, pa.ArrowException):
        return []
    return []


def _named(
    file: EventFile, own: Sequence[Column], by_name: dict[str, Column], field: str, name: str
) -> Column:
    """The column the user named for ``field``: by its exact name, else ignoring case."""
    exact = next((c for c in own if c.name == name), None)
    found = exact or by_name.get(name.strip().lower())
    if found is None:
        raise missing_column(file.display, field, name, [c.name for c in own])
    return found


def _check_numeric(file: EventFile, column: Column) -> None:
    if not _is_numeric_or_text(column.type):
        raise DataError(
            f"{file.display}: column {column.name!r} has type {column.type}; "
            "a duration column must hold numbers"
        )


T = TypeVar("T")


def _pick(by_name: dict[str, T], field: str) -> T | None:
    """The column serving ``field``: the first of its aliases in ``by_name`` (lower-case names)."""
    return next((by_name[a] for a in ALIASES[field] if a in by_name), None)


def _is_temporal_or_text(kind: str) -> bool:
    """One timestamp, date or text per row: not a list (``TIMESTAMP[]``) of them."""
    return kind.startswith(("TIMESTAMP", "DATE", "VARCHAR")) and not kind.endswith("]")


def _pick_duration(file: EventFile, by_name: dict[str, Column]) -> tuple[Column | None, float]:
    for name, micros in DURATION_UNITS.items():
        if name in by_name:
            column = by_name[name]
            _check_numeric(file, column)
            return column, micros
    bare = by_name.get("duration")
    if bare is None:
        return None, 0.0
    if bare.type == "INTERVAL":
        return bare, 0.0
    unit = _arrow_duration_unit(file, bare.name) if file.fmt == "parquet" else None
    if unit is not None:
        return bare, ARROW_DURATION_MICROS[unit]
    raise DataError(
        "{file}: column {name!r} is a bare number with no unit; rename it duration_s, "
        "duration_ms, duration_us or duration_ns, or name its unit with {column} "
        "duration_s={name} (or duration_ms, duration_us, duration_ns)",
        params=("column",),
        file=file.display,
        name=bare.name,
    )


def _is_numeric_or_text(kind: str) -> bool:
    return kind in {
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
        "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "VARCHAR",
    } or kind.startswith("DECIMAL")  # fmt: skip


def _arrow_duration_unit(file: EventFile, column: str) -> str | None:
    """The unit of an Arrow ``duration`` column, which Parquet stores as a plain int64."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        field = pq.read_schema(file.path).field(column)
    except (KeyError, OSError, pa.ArrowException):
        return None
    if pa.types.is_duration(field.type):
        return str(field.type.unit)
    return None


def far_timestamps(
    files: Sequence[EventFile], con: duckdb.DuckDBPyConnection | None = None
) -> dict[str, dict[str, str]]:
    """The Parquet files whose time or end_time columns may hold a time beyond microseconds.

    A timestamp stored in milliseconds reaches a thousand times farther than
    the microseconds every engine computes in: one such value (a year beyond
    ±292,000) makes DuckDB's and Spark's Parquet readers fail the whole file.
    Such a column must be read as the integers it stores
    (``Column.epoch_unit``), and the SQL bounds them before they become
    microseconds. Returns file path -> {column name -> unit}, for those files only.

    The row groups' statistics in the files' footers tell: one DuckDB query
    over all the footers finds the files to look at closely (a time DuckDB
    cannot convert, an infinite one, or a column chunk without statistics),
    and only those are opened with pyarrow, which reads the stored integers.
    Ordinary files cost one footer read each, and no pyarrow import.
    """
    import duckdb

    parquet = [f for f in files if f.fmt == "parquet"]
    if not parquet:
        return {}
    footers = duckdb.connect() if con is None else con
    try:
        doubtful = _doubtful_files(footers, parquet)
    finally:
        if con is None:
            footers.close()
    return {f.path: far for f in parquet if f.path in doubtful and (far := _far_columns(f))}


def _doubtful_files(con: duckdb.DuckDBPyConnection, files: Sequence[EventFile]) -> set[str]:
    """The files whose time or end_time statistics DuckDB cannot convert to microseconds,
    finds infinite, or lacks (in a chunk that holds a value): by path."""
    import duckdb

    try:
        rows = con.execute(
            """SELECT file_name, path_in_schema,
                      bool_or((stats_min_value IS NULL
                               AND stats_null_count IS DISTINCT FROM num_values)
                              OR stats_min_value LIKE '%infinity'
                              OR stats_max_value LIKE '%infinity')
               FROM parquet_metadata($paths) GROUP BY ALL ORDER BY min(column_id)""",
            {"paths": [f.pattern for f in files]},
        ).fetchall()
    except duckdb.InterruptException:
        raise KeyboardInterrupt from None
    except duckdb.Error:  # a time DuckDB cannot convert, or a damaged file (the reader says so)
        return {f.path for f in files}
    by_file: dict[str, dict[str, bool]] = {}
    for path, column, doubt in rows:
        by_file.setdefault(str(path), {}).setdefault(str(column).strip().lower(), bool(doubt))
    doubtful = set()
    for path, by_name in by_file.items():
        if _pick(by_name, "time") or _pick(by_name, "end_time"):
            doubtful.add(path)
    return doubtful


def _far_columns(file: EventFile) -> dict[str, str]:
    """The time and end_time columns of one Parquet file that hold a time beyond microseconds,
    as their row groups' statistics say (a chunk without them may hold one): name -> unit."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(file.path)
    except (OSError, pa.ArrowException):
        return {}  # the reader names what is wrong with the file
    by_name: dict[str, int] = {}
    for leaf in range(meta.num_columns):
        by_name.setdefault(meta.schema.column(leaf).path.strip().lower(), leaf)
    limit = epoch_limit("ms")
    far: dict[str, str] = {}
    for field in ("time", "end_time"):
        index = _pick(by_name, field)
        if index is None or not _is_milliseconds(meta.schema.column(index)):
            continue
        for group in range(meta.num_row_groups):
            chunk = meta.row_group(group).column(index)
            stats = chunk.statistics
            if stats is not None and stats.has_min_max:
                beyond = stats.min_raw < -limit or stats.max_raw > limit
            else:  # no statistics: unless the chunk holds only nulls, nothing says it fits
                beyond = stats is None or stats.null_count != chunk.num_values
            if beyond:
                far[meta.schema.column(index).path] = "ms"
                break
    return far


def _is_milliseconds(column: pq.ColumnSchema) -> bool:
    """A Parquet INT64 timestamp in milliseconds (the logical type, or the older converted one)."""
    if column.physical_type != "INT64":
        return False
    logical = column.logical_type
    if logical.type == "TIMESTAMP":
        return bool(json.loads(logical.to_json()).get("timeUnit") == "milliseconds")
    return bool(column.converted_type == "TIMESTAMP_MILLIS")
