"""Event files -> one DuckDB view with the canonical columns (SPEC §1).

Every input file, whatever its format or column names, is presented to the
engine as rows of the view ``events_input``:

=============  =======  ===========================================================
column         type     meaning
=============  =======  ===========================================================
ts             BIGINT   event time, microseconds since the Unix epoch (UTC)
end_us         BIGINT   explicit end of coverage (``end_time`` or a duration), or NULL
user_id        VARCHAR  the user, trimmed
category       VARCHAR  normalised: trimmed, lower-case, blanks and hyphens -> ``_``
org            VARCHAR  organization id, trimmed, or NULL
event_id       VARCHAR  the event's id, or NULL
problem        VARCHAR  why the row is invalid, or NULL for a valid row
source_file    VARCHAR  the file the row came from
source_row     BIGINT   the row's 1-based position in its file
=============  =======  ===========================================================

Files are read by DuckDB; Python only looks at their schemas. Files with the
same format and the same column mapping are read by one scan.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from .errors import DataError, UsageError

if TYPE_CHECKING:
    import duckdb

CATEGORIES: tuple[str, ...] = ("ide", "login", "app", "tunnel", "web_terminal")

#: SPEC §1's aliases, in order of preference (the first one present wins).
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

EVENT_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".csv.gz", ".tsv.gz")
STDIN = "-"

VIEW = "events_input"


@dataclass(frozen=True)
class Column:
    """One input column: its real name (to quote) and DuckDB type."""

    name: str
    type: str

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

    @property
    def has_coverage(self) -> bool:
        return self.end_time is not None or self.duration is not None


@dataclass(frozen=True)
class EventFile:
    path: str  # what DuckDB reads
    display: str  # what messages name
    fmt: str  # "parquet" or "csv"


@dataclass
class LoadedEvents:
    """The result of :func:`load_events`: the view is registered on ``con``."""

    view: str
    files: list[EventFile]
    has_coverage: bool


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- paths


def expand_paths(specs: Sequence[str], *, stdin: IO[bytes] | None = None) -> list[EventFile]:
    """Resolve ``--events`` values (files, globs, directories, ``-``) to event files.

    A value that names nothing is an error naming it, never an empty report.
    """
    files: list[EventFile] = []
    for spec in specs:
        if spec == STDIN:
            files.append(_spool_stdin(stdin if stdin is not None else sys.stdin.buffer))
            continue
        path = Path(spec).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _is_event_file(p))
            if not found:
                raise DataError(
                    f"{spec}: the directory holds no event files "
                    f"({', '.join(EVENT_SUFFIXES)}); name the files instead"
                )
            files.extend(_event_file(p) for p in found)
        elif path.exists():
            files.append(_event_file(path))
        elif glob.has_magic(spec):
            matched = sorted(Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True))
            matched = [p for p in matched if p.is_file()]
            if not matched:
                raise DataError(f"{spec}: the pattern matches no file; check the path")
            files.extend(_event_file(p) for p in matched)
        else:
            raise DataError(f"{spec}: no such file or directory")
    return files


def _is_event_file(path: Path) -> bool:
    return path.name.lower().endswith(EVENT_SUFFIXES)


def _event_file(path: Path) -> EventFile:
    name = path.name.lower()
    fmt = "parquet" if name.endswith((".parquet", ".pq")) else "csv"
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied; make the file readable")
    if fmt == "csv" and not name.endswith(EVENT_SUFFIXES):
        fmt = _sniff_format(path)
    return EventFile(path=str(path), display=str(path), fmt=fmt)


def _sniff_format(path: Path) -> str:
    """Guess the format of a file without a known suffix by its magic bytes."""
    with path.open("rb") as handle:
        return "parquet" if handle.read(4) == b"PAR1" else "csv"


def _spool_stdin(stream: IO[bytes]) -> EventFile:
    """Copy CSV from stdin to a temporary file so DuckDB can sniff and scan it."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives until the process ends
        prefix="activity-report-stdin-", suffix=".csv", delete=False
    )
    with handle:
        shutil.copyfileobj(stream, handle)
    _TEMP_FILES.append(handle.name)
    return EventFile(path=handle.name, display="<stdin>", fmt="csv")


_TEMP_FILES: list[str] = []


def cleanup_temp_files() -> None:
    while _TEMP_FILES:
        try:
            os.unlink(_TEMP_FILES.pop())
        except OSError:
            pass


# --------------------------------------------------------------------------- schemas


def _relation(
    con: duckdb.DuckDBPyConnection, files: Sequence[EventFile]
) -> duckdb.DuckDBPyRelation:
    paths = [f.path for f in files]
    if files[0].fmt == "parquet":
        return con.read_parquet(paths, union_by_name=True, filename=True, file_row_number=True)
    return con.read_csv(paths, header=True, all_varchar=True, union_by_name=True, filename=True)


def describe(con: duckdb.DuckDBPyConnection, file: EventFile) -> list[Column]:
    """The columns of one file, as DuckDB sees them; a read failure names the file."""
    import duckdb

    try:
        rel = _relation(con, [file])
        return [Column(name, str(kind)) for name, kind in zip(rel.columns, rel.types, strict=True)]
    except duckdb.Error as exc:
        raise DataError(
            f"{file.display}: cannot read it as {file.fmt.upper()}: {_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def map_columns(file: EventFile, columns: Sequence[Column]) -> Mapping:
    """Apply SPEC §1's aliases to one file's columns; refuse what cannot be read."""
    by_name: dict[str, Column] = {}
    for column in columns:
        if column.name.lower() in {"filename", "file_row_number"}:
            continue  # added by the reader, not the file's own
        by_name.setdefault(column.name.lower(), column)

    def pick(field: str) -> Column | None:
        return next((by_name[a] for a in ALIASES[field] if a in by_name), None)

    found = ", ".join(
        c.name for c in columns if c.name.lower() not in {"filename", "file_row_number"}
    )
    picked = {field: pick(field) for field in ALIASES}
    for field in REQUIRED:
        if picked[field] is None:
            raise DataError(
                f"{file.display}: no {field} column (accepted names: "
                f"{', '.join(ALIASES[field])}); columns found: {found or 'none'}"
            )
    duration, micros = _pick_duration(file, by_name)
    time, user_id, category = picked["time"], picked["user_id"], picked["category"]
    assert time is not None and user_id is not None and category is not None
    for field in ("time", "end_time"):
        stamp = picked[field]
        if stamp is not None and not _is_temporal_or_text(stamp.type):
            raise DataError(
                f"{file.display}: column {stamp.name!r} ({field}) has type {stamp.type}; "
                "it must hold timestamps or ISO 8601 text"
            )
    return Mapping(
        time=time,
        user_id=user_id,
        category=category,
        organization_id=picked["organization_id"],
        end_time=picked["end_time"],
        duration=duration,
        duration_micros=micros,
        event_id=picked["id"],
    )


def _is_temporal_or_text(kind: str) -> bool:
    return kind.startswith(("TIMESTAMP", "DATE", "VARCHAR"))


def _pick_duration(file: EventFile, by_name: dict[str, Column]) -> tuple[Column | None, float]:
    for name, micros in DURATION_UNITS.items():
        if name in by_name:
            column = by_name[name]
            if not _is_numeric_or_text(column.type):
                raise DataError(
                    f"{file.display}: column {column.name!r} has type {column.type}; "
                    "a duration column must hold numbers"
                )
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
        f"{file.display}: column {bare.name!r} is a bare number with no unit; rename it "
        "duration_s, duration_ms, duration_us or duration_ns"
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


# --------------------------------------------------------------------------- SQL


def _timestamp_us(column: Column) -> str:
    """An expression giving the column as epoch microseconds, NULL if unparseable."""
    if column.type == "VARCHAR":
        return f"epoch_us(try_cast(nullif(trim({column.sql}), '') AS TIMESTAMPTZ))"
    if column.type.startswith("DATE"):
        return f"epoch_us(CAST({column.sql} AS TIMESTAMP))"
    return f"epoch_us({column.sql})"


def _duration_us(mapping: Mapping) -> str | None:
    column = mapping.duration
    if column is None:
        return None
    if column.type == "INTERVAL":
        return f"epoch_us({column.sql})"
    value = f"try_cast({column.sql} AS DOUBLE)"
    if column.type == "VARCHAR":
        value = f"try_cast(nullif(trim({column.sql}), '') AS DOUBLE)"
    return f"CAST(round({value} * {mapping.duration_micros!r}) AS BIGINT)"


def _text(column: Column | None) -> str:
    if column is None:
        return "CAST(NULL AS VARCHAR)"
    return f"nullif(trim(CAST({column.sql} AS VARCHAR)), '')"


#: Longest coverage an event may claim; beyond it the row is refused as absurd.
MAX_COVERAGE_US = 366 * 86_400 * 1_000_000


def canonical_select(mapping: Mapping, relation: str, fmt: str) -> str:
    """The SELECT that turns one relation's rows into the canonical columns."""
    end_time = _timestamp_us(mapping.end_time) if mapping.end_time else "CAST(NULL AS BIGINT)"
    duration = _duration_us(mapping) or "CAST(NULL AS BIGINT)"
    row = "file_row_number + 1" if fmt == "parquet" else "NULL"
    return f"""
        SELECT
            ts,
            coalesce(end_time_us, ts + duration_us) AS end_us,
            user_id,
            regexp_replace(lower(category), '[\\s-]+', '_', 'g') AS category,
            org, event_id,
            CASE
                WHEN time_text IS NULL THEN 'missing time'
                WHEN ts IS NULL THEN 'unparseable time'
                WHEN user_id IS NULL THEN 'missing user_id'
                WHEN category IS NULL THEN 'missing category'
                WHEN end_text IS NOT NULL AND end_time_us IS NULL THEN 'unparseable end_time'
                WHEN duration_text IS NOT NULL AND duration_us IS NULL
                    THEN 'unparseable duration'
                WHEN duration_us < 0 THEN 'negative duration'
                WHEN end_time_us < ts THEN 'end_time before time'
                WHEN coalesce(end_time_us, ts + duration_us) - ts > {MAX_COVERAGE_US}
                    THEN 'coverage longer than a year'
            END AS problem,
            source_file, source_row
        FROM (
            SELECT
                {_timestamp_us(mapping.time)} AS ts,
                {_text(mapping.time)} AS time_text,
                {end_time} AS end_time_us,
                {_text(mapping.end_time)} AS end_text,
                {duration} AS duration_us,
                {_text(mapping.duration)} AS duration_text,
                {_text(mapping.user_id)} AS user_id,
                {_text(mapping.category)} AS category,
                {_text(mapping.organization_id)} AS org,
                {_text(mapping.event_id)} AS event_id,
                filename AS source_file,
                CAST({row} AS BIGINT) AS source_row
            FROM {relation}
        )
    """


def load_events(
    con: duckdb.DuckDBPyConnection, files: Sequence[EventFile], *, view: str = VIEW
) -> LoadedEvents:
    """Register ``view`` on ``con``: the canonical rows of every file."""
    if not files:
        raise DataError("no event files given; pass --events PATH or --db PATH")
    groups: dict[tuple[str, Mapping], list[EventFile]] = {}
    for file in files:
        mapping = map_columns(file, describe(con, file))
        groups.setdefault((file.fmt, mapping), []).append(file)
    selects = []
    for index, ((fmt, mapping), members) in enumerate(groups.items()):
        name = f"{view}_raw_{index}"
        _relation(con, members).create_view(name, replace=True)
        selects.append(canonical_select(mapping, quote_ident(name), fmt))
    display = {f.path: f.display for f in files}
    body = "\nUNION ALL\n".join(selects)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view}_files AS {body}")
    # Messages name the file as the user gave it (stdin's temp file is "<stdin>").
    con.execute(f"CREATE OR REPLACE TEMP TABLE {view}_names (path VARCHAR, display VARCHAR)")
    con.executemany(f"INSERT INTO {view}_names VALUES (?, ?)", list(display.items()))
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {view} AS
            SELECT f.* REPLACE (coalesce(n.display, f.source_file) AS source_file)
            FROM {view}_files f LEFT JOIN {view}_names n ON n.path = f.source_file"""
    )
    return LoadedEvents(
        view=view,
        files=list(files),
        has_coverage=any(mapping.has_coverage for _, mapping in groups),
    )


@dataclass(frozen=True)
class Diagnostics:
    """What the input held that no report counts (SPEC §1)."""

    total_rows: int
    invalid_rows: int
    invalid_reasons: list[tuple[str, int]]
    invalid_examples: list[tuple[str, int | None, str]]  # file, row, reason
    unknown_rows: int
    unknown_values: list[tuple[str, int]]


def diagnose(con: duckdb.DuckDBPyConnection, view: str = VIEW) -> Diagnostics:
    """Count invalid rows and unknown categories in one pass over ``view``."""
    rows = con.execute(
        f"""
        SELECT
            count(*) AS total,
            count(*) FILTER (problem IS NOT NULL) AS invalid,
            count(*) FILTER (problem IS NULL AND NOT list_contains($known, category)) AS unknown
        FROM {view}
        """,
        {"known": list(CATEGORIES)},
    ).fetchall()
    total, invalid, unknown = (int(v) for v in rows[0])
    reasons: list[tuple[str, int]] = []
    examples: list[tuple[str, int | None, str]] = []
    unknown_values: list[tuple[str, int]] = []
    if invalid:
        reasons = [
            (str(r), int(n))
            for r, n in con.execute(
                f"SELECT problem, count(*) FROM {view} WHERE problem IS NOT NULL "
                "GROUP BY problem ORDER BY count(*) DESC, problem"
            ).fetchall()
        ]
        examples = [
            (str(f), None if r is None else int(r), str(p))
            for f, r, p in con.execute(
                f"SELECT source_file, source_row, problem FROM {view} "
                "WHERE problem IS NOT NULL ORDER BY source_file, source_row LIMIT 3"
            ).fetchall()
        ]
    if unknown:
        unknown_values = [
            (str(c), int(n))
            for c, n in con.execute(
                f"SELECT category, count(*) FROM {view} "
                "WHERE problem IS NULL AND NOT list_contains($known, category) "
                "GROUP BY category ORDER BY count(*) DESC, category LIMIT 5",
                {"known": list(CATEGORIES)},
            ).fetchall()
        ]
    return Diagnostics(total, invalid, reasons, examples, unknown, unknown_values)


def normalise_category(value: str) -> str:
    """The Python twin of the SQL normalisation, for ``--category`` values."""
    import re

    return re.sub(r"[\s-]+", "_", value.strip().lower())


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


__all__ = [
    "CATEGORIES",
    "Diagnostics",
    "EventFile",
    "LoadedEvents",
    "UsageError",
    "cleanup_temp_files",
    "diagnose",
    "expand_paths",
    "load_events",
    "normalise_category",
]
