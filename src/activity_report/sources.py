"""Event files -> one DuckDB view with the canonical columns.

Which rows count, which are invalid and how categories are normalised is
stated for users in docs/semantics.md ("An event and what it covers",
"Which events are counted").

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
source_row     BIGINT   the row's 1-based position among its file's data rows;
                        NULL for CSV rows of a scan of several files (see below)
=============  =======  ===========================================================

Files are read by DuckDB; Python only looks at their schemas and, for CSV, their
header line. Parquet files with the same column mapping are read by one scan
(``union_by_name``: columns may come in any order, extra ones are ignored).
CSV files are read by one scan per distinct header line: a multi-file CSV scan
takes columns by position, so only files with byte-identical headers share one.
DuckDB guesses nothing about a CSV file: the dialect is RFC 4180 with the
delimiter and the column names of the file's own header line
(:func:`csv_dialect`), and a file with a line longer than DuckDB's read buffer
is refused (:func:`check_line_lengths`), since DuckDB may lose such a line.
CSV scans set malformed lines aside (too few or too many fields, bad quoting,
bytes that are not UTF-8) in rejects tables; :func:`diagnose` counts them as
invalid rows with their line numbers, and a CSV file that is not UTF-8 is an
error that names the file and the line.

Row numbers count data rows: the header is not a row, so in a plain CSV file
row N is line N + 1. DuckDB gives no row numbers for CSV; a streaming
``row_number() OVER ()`` (which keeps the scan's order and costs nothing
measurable) numbers the rows of a scan. That is the row number when the scan
reads one file; in a multi-file scan the number within a file needs the
position of the file's first row, known only after the scan, so the view
leaves it NULL, and :func:`diagnose` places the invalid rows it reports with
one more scan of the sibling view ``{view}_located``, taken only when there are
invalid rows. The streaming count skips the malformed lines DuckDB set aside;
:func:`data_row` adds them back.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import gzip
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import DataError, UsageError

if TYPE_CHECKING:
    import duckdb

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

EVENT_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv", ".csv.gz", ".tsv.gz")
STDIN = "-"

VIEW = "events_input"

#: Event times before 1900 or from 2200 on are refused: they are clock or unit
#: errors (an epoch in the wrong unit, a year 294247), and far enough from any
#: real log that every sum of a time and a coverage stays inside a BIGINT.
MIN_TIME_US = -2_208_988_800_000_000  # 1900-01-01T00:00:00Z
MAX_TIME_US = 7_258_118_400_000_000  # 2200-01-01T00:00:00Z

#: Longest coverage an event may claim; beyond it the row is refused as absurd.
MAX_COVERAGE_US = 366 * 86_400 * 1_000_000

#: DuckDB's names for malformed CSV lines, as the reasons :func:`diagnose` gives.
REJECT_REASONS = {
    "MISSING COLUMNS": "too few fields",
    "TOO MANY COLUMNS": "too many fields",
    "UNQUOTED VALUE": "bad quoting",
    "LINE SIZE OVER MAXIMUM": "line too long",
    "INVALID ENCODING": "not UTF-8",
}
_NOT_UTF8 = "INVALID ENCODING"


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
    path: str  # the file itself, taken literally
    display: str  # what messages name
    fmt: str  # "parquet" or "csv"

    @property
    def pattern(self) -> str:
        """The path as DuckDB must be given it: its glob characters escaped."""
        return glob_escape(self.path)


@dataclass
class LoadedEvents:
    """The result of :func:`load_events`: the view is registered on ``con``."""

    view: str
    files: list[EventFile]
    has_coverage: bool
    has_ids: bool = False


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def glob_escape(path: str) -> str:
    """Escape ``*``, ``?`` and ``[`` so DuckDB reads the file of that very name.

    DuckDB expands globs in every path it reads; ``[*]`` matches a literal
    ``*`` (the same escape as Python's :func:`glob.escape`).
    """
    return re.sub(r"([*?\[])", r"[\1]", path)


# --------------------------------------------------------------------------- paths


def expand_paths(specs: Sequence[str], *, stdin: IO[bytes] | None = None) -> list[EventFile]:
    """Resolve ``--events`` values (files, globs, directories, ``-``) to event files.

    A value that names nothing is an error naming it, never an empty report.
    An existing path is taken literally, even when its name holds glob
    characters; only a value that names no file is expanded as a glob. A file
    named twice (directly, or by overlapping globs) is read once.
    """
    files: list[EventFile] = []
    seen: set[str] = set()
    for spec in specs:
        try:
            found = _expand(spec, stdin)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise DataError(f"{spec}: cannot read it: {reason}") from exc
        for file in found:
            key = file.path if file.display == "<stdin>" else os.path.realpath(file.path)
            if key not in seen:
                seen.add(key)
                files.append(file)
    return files


def _expand(spec: str, stdin: IO[bytes] | None) -> list[EventFile]:
    if spec == STDIN:
        return [_spool_stdin(stdin if stdin is not None else sys.stdin.buffer)]
    if not spec.strip():  # Path("") is the current directory: never read it by accident
        raise UsageError(
            f"invalid event path {spec!r}: give a file, a glob, a directory or - for stdin"
        )
    path = Path(spec).expanduser()
    if path.is_dir():
        found = sorted(p for p in _walk(path) if _is_event_file(p))
        if not found:
            raise DataError(
                f"{spec}: is a directory that holds no event files "
                f"({', '.join(EVENT_SUFFIXES)}); name the files instead"
            )
        return [_event_file(p) for p in found]
    if path.exists() and not path.is_file():  # a FIFO, <(...), a device: a stream
        with path.open("rb") as stream:
            return [_spool(stream, display=spec, name=path.name)]
    if path.exists():
        return [_event_file(path)]
    if glob.has_magic(spec):
        matched = sorted(_glob(os.path.expanduser(spec)))
        if not matched:
            raise DataError(
                f"{spec}: the pattern matches no file; check the path (quote the "
                "pattern so the shell does not expand it)"
            )
        return [_event_file(p) for p in matched]
    raise DataError(f"{spec}: no such file or directory")


def _walk(root: Path) -> Iterator[Path]:
    """Every file under ``root``, following links to folders but each folder once.

    A folder is known by its device and inode, so links that point back up
    the tree (which make ``rglob`` and ``glob('**')`` run forever) are
    followed once and no more.
    """
    seen: set[tuple[int, int]] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        try:
            info = os.stat(folder)
        except OSError:
            dirs[:] = []
            continue
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        dirs.sort()
        for name in files:
            candidate = Path(folder) / name
            if candidate.is_file():
                yield candidate


def _glob(pattern: str) -> list[Path]:
    """The files ``pattern`` matches; ``**`` walks folders as :func:`_walk` does."""
    if "**" not in pattern:
        return [Path(p) for p in glob.glob(pattern) if Path(p).is_file()]
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    root = Path(*parts[:fixed]) if fixed else Path(".")
    matcher = re.compile(_glob_regex(parts[fixed:]))
    found = []
    for file in _walk(root):
        relative = file.relative_to(root).as_posix()
        if matcher.fullmatch(relative):
            found.append(root / relative if fixed else Path(relative))
    return found


def _glob_regex(parts: Sequence[str]) -> str:
    """A regular expression for glob path components; ``**`` spans folders."""
    pieces = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            pieces.append(".*" if last else "(?:.*/)?")
            continue
        pieces.append(_component_regex(part) + ("" if last else "/"))
    return "".join(pieces)


def _component_regex(part: str) -> str:
    """``*``, ``?`` and ``[...]`` of one path component, never crossing a ``/``."""
    out, i = [], 0
    while i < len(part):
        char = part[i]
        close = part.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif close > 0:
            inside = part[i + 1 : close]
            negate = inside.startswith("!")
            inside = re.sub(r"([\\^\]])", r"\\\1", inside[1:] if negate else inside)
            out.append(f"[{'^' if negate else ''}{inside}]")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _is_event_file(path: Path) -> bool:
    return path.name.lower().endswith(EVENT_SUFFIXES)


def _event_file(path: Path, display: str | None = None) -> EventFile:
    shown = display or str(path)
    if not os.access(path, os.R_OK):
        raise DataError(f"{shown}: permission denied; make the file readable (chmod +r)")
    with path.open("rb") as handle:
        head = handle.read(4)
    if not head:
        raise DataError(
            f"{shown}: the file is empty; an event file needs at least a header row "
            "(time, user_id, category)"
        )
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        fmt = "parquet"
    elif name.endswith(EVENT_SUFFIXES):
        fmt = "csv"
    else:  # no known suffix: tell by the magic bytes
        fmt = "parquet" if head == b"PAR1" else "csv"
    if fmt == "csv" and head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(
            f"{shown}: the file is UTF-16 text; convert it to UTF-8 "
            "(iconv -f utf-16 -t utf-8 FILE > FILE.utf8.csv)"
        )
    return EventFile(path=_readable_name(path), display=shown, fmt=fmt)


def _readable_name(path: Path) -> str:
    """A name DuckDB reads as this very file.

    DuckDB globs every path, and its glob takes a backslash for a folder
    separator, so a name with both (``back\\slash[1].csv``) matches nothing
    however it is escaped. Such a file is read through a link of a plain name
    in a private temporary folder, removed when the run ends.
    """
    text = str(path)
    if "\\" not in text or not glob.has_magic(text):
        return text
    folder = tempfile.mkdtemp(prefix="activity-report-link-")
    _TEMP_FILES.append(folder)
    suffix = "".join(path.suffixes[-2:]) if path.name.lower().endswith(".gz") else path.suffix
    link = os.path.join(folder, "events" + re.sub(r"[*?\[\]\\]", "_", suffix))
    os.symlink(os.path.abspath(text), link)
    _TEMP_FILES.append(link)
    return link


def _spool_stdin(stream: IO[bytes]) -> EventFile:
    """Copy CSV from stdin to a temporary file so DuckDB can sniff and scan it."""
    return _spool(stream, display="<stdin>", name="stdin.csv")


def _spool(stream: IO[bytes], *, display: str, name: str) -> EventFile:
    """Copy a stream (stdin, a FIFO, a process substitution) to a temporary file.

    DuckDB reads a file more than once, and a stream can be read only once.
    The copy keeps ``name``'s event suffix, else the format is told by the
    magic bytes.
    """
    lower = name.lower()
    suffix = next(
        (s for s in sorted(EVENT_SUFFIXES, key=len, reverse=True) if lower.endswith(s)), ""
    )
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives until the process ends
        prefix="activity-report-stdin-", suffix=suffix, delete=False
    )
    with handle:
        _TEMP_FILES.append(handle.name)
        shutil.copyfileobj(stream, handle)
    return _event_file(Path(handle.name), display=display)


_TEMP_FILES: list[str] = []


def cleanup_temp_files() -> None:
    """Remove the run's temporary files and folders, the newest first."""
    while _TEMP_FILES:
        name = _TEMP_FILES.pop()
        try:
            if os.path.isdir(name) and not os.path.islink(name):
                os.rmdir(name)
            else:
                os.unlink(name)
        except OSError:
            pass


# --------------------------------------------------------------------------- schemas


def _relation(
    con: duckdb.DuckDBPyConnection, files: Sequence[EventFile], *, rejects: str | None = None
) -> duckdb.DuckDBPyRelation:
    """One scan: Parquet files by name-union; CSV files with malformed lines set aside.

    ``rejects`` names the tables where DuckDB records the CSV lines it could not
    parse (``{rejects}`` and ``{rejects}_scans``); :func:`diagnose` counts them.
    """
    paths = [f.pattern for f in files]
    if files[0].fmt == "parquet":
        return con.read_parquet(paths, union_by_name=True, filename=True, file_row_number=True)
    options: dict[str, Any] = {}
    if rejects is not None:
        options = {
            "store_rejects": True,
            "rejects_table": rejects,
            "rejects_scan": f"{rejects}_scans",
        }
    return con.read_csv(
        paths,
        header=True,
        all_varchar=True,
        filename=True,
        ignore_errors=True,
        **csv_dialect(files[0]),
        **options,
    )


#: The longest CSV line DuckDB reads; a longer one is rejected as "line too long".
MAX_LINE_BYTES = 2 * 1024 * 1024
#: DuckDB's read buffer. A line longer than the buffer can vanish from DuckDB's
#: scan without a trace, so :func:`check_line_lengths` refuses the file first.
CSV_BUFFER_BYTES = 16 * MAX_LINE_BYTES
#: Every window of this size must hold a line break: then no line is longer
#: than twice it, which is far below the buffer.
_LINE_WINDOW = 4 * 1024 * 1024
_DELIMITERS = (",", "\t", ";", "|")


def csv_dialect(file: EventFile) -> dict[str, Any]:
    """How to read one CSV file, fixed in full so DuckDB guesses nothing.

    DuckDB's sniffer looks at a sample of the first rows only: a quoted
    ``"u3,x"`` past the sample, or a line that starts with ``#`` (taken for a
    comment and dropped), would be read wrong without a word. So the dialect
    is RFC 4180 (``"`` quotes, ``""`` escapes a quote, no comments, no skipped
    lines) with the delimiter found in the file's own header line. Files share
    one scan only when their header lines are identical, so they share this
    dialect too.
    """
    line = _header_line(file)
    header = line.decode("utf-8", "replace").removeprefix("\ufeff").rstrip("\r\n")
    delimiter = ","
    names: list[str] = []
    if header:
        fields = {d: next(csv.reader([header], delimiter=d), []) for d in _DELIMITERS}
        preferred = ("\t", *_DELIMITERS) if ".tsv" in file.path.lower() else _DELIMITERS
        delimiter = max(preferred, key=lambda d: len(fields[d]))  # first of the widest
        names = fields[delimiter]
    dialect: dict[str, Any] = {}
    if line.endswith(b"\n") and header.count('"') % 2 == 0:
        # The header is whole: name the columns, and DuckDB reads no sample at
        # all (its sniffer fails on a long line near the top as "line 1").
        dialect = {"auto_detect": False, "columns": _column_names(names)}
    return dialect | {
        "delimiter": delimiter,
        "quotechar": '"',
        "escapechar": '"',
        "comment": "",
        "skiprows": 0,
        "max_line_size": MAX_LINE_BYTES,
        "buffer_size": CSV_BUFFER_BYTES,
    }


def _column_names(header: Sequence[str]) -> dict[str, str]:
    """The header's names as DuckDB would make them: blanks named, repeats numbered."""
    columns: dict[str, str] = {}
    for index, name in enumerate(header):
        base = name if name.strip() else f"column{index}"
        unique, n = base, 0
        while unique in columns:
            n += 1
            unique = f"{base}_{n}"
        columns[unique] = "VARCHAR"
    return columns


def check_line_lengths(file: EventFile) -> None:
    """Refuse a CSV file with a line DuckDB could lose (longer than its buffer).

    Each window of ``_LINE_WINDOW`` bytes must hold a line break; a plain file
    is memory-mapped and only the bytes up to each window's first break are
    touched, so this costs next to nothing. A compressed file is read through.
    """
    try:
        if file.path.lower().endswith(".gz"):
            offset = _gzip_long_line(file.path)
        else:
            offset = _plain_long_line(file.path)
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"{file.display}: cannot read it: {exc}") from exc
    if offset is not None:
        raise DataError(
            f"{file.display}: line {_line_at(file.path, offset)} is longer than "
            f"{_LINE_WINDOW // 1024 // 1024} MiB; no event takes that much, so the file is "
            "damaged or not an event log: fix or remove that line"
        )


def _plain_long_line(path: str) -> int | None:
    import mmap

    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size <= _LINE_WINDOW:
            return None
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for start in range(0, size, _LINE_WINDOW):
                end = min(start + _LINE_WINDOW, size)
                if end - start == _LINE_WINDOW and data.find(b"\n", start, end) < 0:
                    return start
    return None


def _gzip_long_line(path: str) -> int | None:
    with gzip.open(path, "rb") as handle:
        start = 0
        while chunk := handle.read(_LINE_WINDOW):
            if len(chunk) == _LINE_WINDOW and b"\n" not in chunk:
                return start
            start += len(chunk)
    return None


def _line_at(path: str, offset: int) -> int:
    """The 1-based line holding byte ``offset`` (read only on the error path)."""
    opener = gzip.open if path.lower().endswith(".gz") else open
    lines, done = 1, 0
    with opener(path, "rb") as handle:
        while done < offset and (chunk := handle.read(min(_LINE_WINDOW, offset - done))):
            lines += chunk.count(b"\n")
            done += len(chunk)
    return lines


def describe(con: duckdb.DuckDBPyConnection, file: EventFile) -> list[Column]:
    """The columns of one file, as DuckDB sees them; a read failure names the file."""
    return _columns(_open(con, [file]))


def _open(
    con: duckdb.DuckDBPyConnection, files: Sequence[EventFile], *, rejects: str | None = None
) -> duckdb.DuckDBPyRelation:
    import duckdb

    try:
        return _relation(con, files, rejects=rejects)
    except duckdb.InterruptException:
        raise KeyboardInterrupt from None
    except duckdb.Error as exc:
        shown = files[0].display if len(files) == 1 else _failing_file(exc, files)
        raise DataError(
            f"{shown}: cannot read it as {files[0].fmt.upper()}: {_first_line(exc)}"
        ) from exc


def _failing_file(exc: Exception, files: Sequence[EventFile]) -> str:
    """The file a multi-file scan's error names, else all of them."""
    text = str(exc)
    named = [f.display for f in files if f.path in text]
    return named[0] if named else ", ".join(f.display for f in files)


def _columns(rel: duckdb.DuckDBPyRelation) -> list[Column]:
    return [Column(name, str(kind)) for name, kind in zip(rel.columns, rel.types, strict=True)]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


_READER_COLUMNS = {"filename", "file_row_number"}  # added by the reader, not the file's own


def map_columns(file: EventFile, columns: Sequence[Column]) -> Mapping:
    """Apply the column aliases to one file's columns; refuse what cannot be read.

    Names match case-insensitively and ignoring surrounding blanks.
    """
    own = [c for c in columns if c.name.lower() not in _READER_COLUMNS]
    by_name: dict[str, Column] = {}
    for column in own:
        by_name.setdefault(column.name.strip().lower(), column)

    def pick(field: str) -> Column | None:
        return next((by_name[a] for a in ALIASES[field] if a in by_name), None)

    found = ", ".join(c.name for c in own)
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
                "it must hold timestamps or ISO 8601 text (convert epoch numbers to "
                "timestamps first)"
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
    """One timestamp, date or text per row: not a list (``TIMESTAMP[]``) of them."""
    return kind.startswith(("TIMESTAMP", "DATE", "VARCHAR")) and not kind.endswith("]")


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


def _present(column: Column | None) -> str:
    """Whether the row holds a value in ``column`` (blank text is no value)."""
    if column is None:
        return "false"
    if column.type == "VARCHAR":
        return f"(nullif(trim({column.sql}), '') IS NOT NULL)"
    return f"({column.sql} IS NOT NULL)"


def _timestamp_us(column: Column) -> str:
    """An expression giving the column as epoch microseconds, NULL if unparseable."""
    if column.type == "VARCHAR":
        text = f"trim({column.sql})"
        offset = f"regexp_extract({text}, '{_OFFSET}', 1)"
        return (
            f"CASE WHEN regexp_matches({text}, '{_DATE_FIRST}') "
            f"AND ({offset} = '' OR regexp_full_match({offset}, '{_SANE_OFFSET}')) "
            f"THEN epoch_us(try_cast({text} AS TIMESTAMPTZ)) END"
        )
    if column.type.startswith("DATE"):
        return f"epoch_us(try_cast({column.sql} AS TIMESTAMP))"
    if column.type.endswith("_NS"):
        # Nanoseconds (pandas' default unit, zoned or not): floored to the
        # microsecond in integers, as epoch_us floors every other unit.
        # epoch_us itself rejects TIMESTAMPTZ_NS, and a cast would round.
        ns = f"epoch_ns({column.sql})"
        return f"(({ns} - (({ns} % 1000) + 1000) % 1000) // 1000)"
    return f"epoch_us({column.sql})"


#: A time in text starts with its date: DuckDB's words ('epoch', 'infinity') are no time.
_DATE_FIRST = "^-?[0-9]{4,}-[0-9]{1,2}-[0-9]{1,2}"
#: The numeric UTC offset after a clock time, if any ...
_OFFSET = "[0-9]:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)? ?([+-][0-9:]+)$"
#: ... must be one a clock can have (DuckDB takes +25:00 and -99 too).
_SANE_OFFSET = "[+-](?:0[0-9]|1[0-8])(?::?[0-5][0-9])?"


def _duration_us(mapping: Mapping) -> str:
    """The duration in microseconds as a DOUBLE (checked before it becomes a BIGINT)."""
    column = mapping.duration
    if column is None:
        return "CAST(NULL AS DOUBLE)"
    if column.type == "INTERVAL":
        return f"(epoch({column.sql}) * 1e6)"
    value = f"try_cast({column.sql} AS DOUBLE)"
    if column.type == "VARCHAR":
        value = f"try_cast(nullif(trim({column.sql}), '') AS DOUBLE)"
    return f"({value} * {mapping.duration_micros!r})"


def _text(column: Column | None) -> str:
    if column is None:
        return "CAST(NULL AS VARCHAR)"
    return f"nullif(trim(CAST({column.sql} AS VARCHAR)), '')"


def canonical_select(mapping: Mapping, relation: str, fmt: str, *, numbered: bool = False) -> str:
    """The SELECT that turns one relation's rows into the canonical columns.

    The checks run in order and each row gets the first problem found. Every
    arithmetic on a time happens only on rows whose values passed the range
    checks, so no input can make the query overflow.

    ``source_row`` of a CSV row is NULL, unless ``numbered``: then it is the
    row's position in the scan (a streaming ``row_number() OVER ()``, which
    keeps the files' order): the row number itself when the scan reads one
    file, else a position from which :func:`diagnose` subtracts that of the
    file's first row.
    """
    end_time = _timestamp_us(mapping.end_time) if mapping.end_time else "CAST(NULL AS BIGINT)"
    row = "file_row_number + 1"
    if fmt == "csv":
        row = "row_number() OVER ()" if numbered else "NULL"
    return f"""
        SELECT
            ts,
            CASE WHEN problem IS NULL
                THEN coalesce(end_time_us, ts + CAST(round(duration_us) AS BIGINT))
            END AS end_us,
            user_id, category, org, event_id, problem, source_file, source_row
        FROM (
            SELECT *,
                CASE
                    WHEN NOT has_time THEN 'missing time'
                    WHEN ts IS NULL THEN 'unparseable time'
                    WHEN ts < {MIN_TIME_US} OR ts >= {MAX_TIME_US}
                        THEN 'time out of range'
                    WHEN user_id IS NULL THEN 'missing user_id'
                    WHEN category IS NULL THEN 'missing category'
                    WHEN has_end AND end_time_us IS NULL THEN 'unparseable end_time'
                    WHEN end_time_us < ts THEN 'end_time before time'
                    WHEN end_time_us > ts + {MAX_COVERAGE_US}
                        THEN 'coverage longer than a year'
                    WHEN has_duration AND (duration_us IS NULL OR NOT isfinite(duration_us))
                        THEN 'unparseable duration'
                    WHEN duration_us < 0 THEN 'negative duration'
                    WHEN duration_us > {MAX_COVERAGE_US}
                        THEN 'coverage longer than a year'
                END AS problem
            FROM (
                SELECT
                    {_timestamp_us(mapping.time)} AS ts,
                    {_present(mapping.time)} AS has_time,
                    {end_time} AS end_time_us,
                    {_present(mapping.end_time)} AS has_end,
                    {_duration_us(mapping)} AS duration_us,
                    {_present(mapping.duration)} AS has_duration,
                    {_text(mapping.user_id)} AS user_id,
                    regexp_replace(lower({_text(mapping.category)}), '[\\s-]+', '_', 'g')
                        AS category,
                    {_text(mapping.organization_id)} AS org,
                    {_text(mapping.event_id)} AS event_id,
                    filename AS source_file,
                    CAST({row} AS BIGINT) AS source_row
                FROM {relation}
            )
        )
    """


def load_events(
    con: duckdb.DuckDBPyConnection, files: Sequence[EventFile], *, view: str = VIEW
) -> LoadedEvents:
    """Register ``view`` on ``con``: the canonical rows of every file.

    Nothing is read yet but the files' schemas: every query on the view scans
    the files again, in DuckDB. Also registered: ``{view}_located``, the same
    rows with CSV row numbers, which :func:`diagnose` reads to place invalid
    rows, and the rejects tables ``{view}_rejects`` and ``{view}_rejects_scans``
    where DuckDB records the malformed CSV lines.
    """
    if not files:
        raise DataError("no event files given; pass --events PATH or --db PATH")
    rejects = f"{view}_rejects"
    for table in (rejects, f"{rejects}_scans"):
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
    scans = _scans(con, files, rejects)
    plain, located = [], []
    for index, (mapping, fmt, relation, count) in enumerate(scans):
        name = quote_ident(f"{view}_raw_{index}")
        # TEMP: nothing of a load outlives the connection, nor lands in a store's file
        # (the relation's create_view would make a persistent view). The scan's SQL is
        # DuckDB's own rendering of the read_csv/read_parquet call, paths quoted by it.
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {relation.sql_query()}")
        plain.append(canonical_select(mapping, name, fmt, numbered=count == 1))
        located.append(canonical_select(mapping, name, fmt, numbered=True))
    # Messages name the file as the user gave it (stdin's temp file is "<stdin>").
    names = quote_ident(f"{view}_names")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {names} (path VARCHAR, display VARCHAR)")
    con.executemany(f"INSERT INTO {names} VALUES (?, ?)", [[f.path, f.display] for f in files])
    for target, selects in ((view, plain), (f"{view}_located", located)):
        body = "\nUNION ALL\n".join(selects)
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {quote_ident(target)} AS
                SELECT f.* REPLACE (coalesce(n.display, f.source_file) AS source_file)
                FROM ({body}) f LEFT JOIN {names} n ON n.path = f.source_file"""
        )
    return LoadedEvents(
        view=view,
        files=list(files),
        has_coverage=any(mapping.has_coverage for mapping, _, _, _ in scans),
        has_ids=any(mapping.event_id is not None for mapping, _, _, _ in scans),
    )


def counted_view(con: duckdb.DuckDBPyConnection, loaded: LoadedEvents) -> str:
    """Register ``{view}_counted``: the rows of ``loaded`` that a report counts.

    The rule the store keeps too: rows sharing an id are one event (the first
    file's, its first row); id-less rows with equal content are copies, and
    each content counts as many times as the file that holds it most often.
    One file without ids is counted as it is, at no cost. Invalid rows pass
    through unchanged.
    """
    view = loaded.view
    several = len(loaded.files) > 1
    if not loaded.has_ids and not several:
        return view
    source = quote_ident(view)
    order = quote_ident(f"{view}_file_order")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {order} (display VARCHAR, idx BIGINT)")
    con.executemany(
        f"INSERT INTO {order} VALUES (?, ?)", [[f.display, i] for i, f in enumerate(loaded.files)]
    )
    columns = "ts, end_us, user_id, category, org, event_id, problem, source_file, source_row"
    parts = [f"SELECT {columns} FROM {source} WHERE problem IS NOT NULL"]
    if loaded.has_ids:
        parts.append(
            f"""SELECT unnest(arg_min(
                       struct_pack({columns}),
                       o.idx * 4294967296 + coalesce(v.source_row, 0)))
                FROM {source} v LEFT JOIN {order} o ON o.display = v.source_file
                WHERE problem IS NULL AND event_id IS NOT NULL
                GROUP BY event_id"""
        )
    if several:
        parts.append(
            f"""SELECT ts, end_us, user_id, category, org, event_id, problem,
                       NULL AS source_file, CAST(NULL AS BIGINT) AS source_row
                FROM (SELECT ts, end_us, user_id, category, org, event_id, problem,
                             unnest(range(copies)) AS copy
                      FROM (SELECT ts, end_us, user_id, category, org, event_id, problem,
                                   max(n) AS copies
                            FROM (SELECT ts, end_us, user_id, category, org, event_id, problem,
                                         count(*) AS n
                                  FROM {source}
                                  WHERE problem IS NULL AND event_id IS NULL
                                  GROUP BY ts, end_us, user_id, category, org, event_id,
                                           problem, source_file)
                            GROUP BY ALL))"""
        )
    else:
        parts.append(f"SELECT {columns} FROM {source} WHERE problem IS NULL AND event_id IS NULL")
    counted = f"{view}_counted"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(counted)} AS "
        + "\nUNION ALL\n".join(f"({part})" for part in parts)
    )
    return counted


def _scans(
    con: duckdb.DuckDBPyConnection, files: Sequence[EventFile], rejects: str
) -> list[tuple[Mapping, str, duckdb.DuckDBPyRelation, int]]:
    """One scan per group of files that read alike, with its number of files.

    Parquet files group by their column mapping (the scan unions by name).
    CSV files group by their header line, byte for byte: a multi-file CSV scan
    takes every file's columns by position, so only files whose headers are
    identical may share one (hundreds of daily exports are then one scan, not
    hundreds).
    """
    parquet: dict[Mapping, list[EventFile]] = {}
    by_header: dict[tuple[str, bytes], list[EventFile]] = {}
    for file in files:
        if file.fmt == "parquet":
            parquet.setdefault(map_columns(file, describe(con, file)), []).append(file)
        else:
            check_line_lengths(file)
            by_header.setdefault(_header_key(file), []).append(file)
    scans: list[tuple[Mapping, str, duckdb.DuckDBPyRelation, int]] = []
    for mapping, members in parquet.items():
        scans.append((mapping, "parquet", _open(con, members), len(members)))
    for members in by_header.values():
        relation = _open(con, members, rejects=rejects)
        mapping = map_columns(members[0], _columns(relation))
        scans.append((mapping, "csv", relation, len(members)))
    return scans


def _header_line(file: EventFile) -> bytes:
    """The first line of a CSV file (at most 64 KiB), b"" if it cannot be read."""
    try:
        if file.path.lower().endswith(".gz"):
            with gzip.open(file.path, "rb") as handle:
                return handle.readline(65_536)
        with open(file.path, "rb") as handle:
            return handle.readline(65_536)
    except (OSError, EOFError):
        return b""


def _header_key(file: EventFile) -> tuple[str, bytes]:
    """What a CSV file must share with others to be read in the same scan."""
    compressed = file.path.lower().endswith(".gz")
    line = _header_line(file)
    if not line.endswith(b"\n") or b'"' in line:  # unusual: read the file on its own
        return ("alone", file.path.encode("utf-8", "surrogateescape"))
    return ("gzip" if compressed else "plain", line)


# --------------------------------------------------------------------------- diagnostics


@dataclass(frozen=True)
class Diagnostics:
    """What the input held that no report counts.

    Invalid rows include the CSV lines DuckDB could not parse; their
    ``invalid_examples`` row is the data row they would have been (line - 1).
    """

    total_rows: int
    invalid_rows: int
    invalid_reasons: list[tuple[str, int]]
    invalid_examples: list[tuple[str, int | None, str]]  # file, row, reason
    unknown_rows: int
    unknown_values: list[tuple[str, int]]
    #: What the report's engine can use, collected in the same pass when asked
    #: for (None otherwise): the categories of the valid rows with an end time
    #: or a duration (the others cover the heartbeat), and the distinct user
    #: ids of the valid rows, both sorted.
    covered_categories: tuple[str, ...] | None = None
    user_ids: tuple[str, ...] | None = None

    def describe(self) -> str:
        """``'3 unparseable time, 1 missing user_id; first in a.csv row 4'``"""
        text = ", ".join(f"{n} {reason}" for reason, n in self.invalid_reasons)
        if self.invalid_examples:
            file, row, _ = self.invalid_examples[0]
            text += f"; first in {file} row {row}" if row is not None else f"; first in {file}"
        return text


def diagnose(
    con: duckdb.DuckDBPyConnection,
    view: str = VIEW,
    *,
    every_column: bool = True,
    covered: bool = False,
    users: bool = False,
) -> Diagnostics:
    """Count invalid rows and unknown categories (one pass over ``view``).

    The same pass also collects, when asked, the categories with explicit
    coverage (``covered``) and the distinct valid user ids (``users``); see
    :class:`Diagnostics`. A report uses them to pick its plan and to name its
    users without scanning the events again.

    With ``every_column`` the pass reads every canonical column, so every
    malformed CSV line any later query could meet is in the rejects tables
    when this returns. A CSV line that is not UTF-8 is an error: the file is
    in another encoding, and its other rows cannot be trusted either. Only
    CSV needs it: reading the optional text columns of 20 million Parquet
    rows would triple the pass's cost for nothing.
    """
    import duckdb

    try:
        return _diagnose(con, view, every_column, covered, users)
    except duckdb.InterruptException:
        raise KeyboardInterrupt from None
    except duckdb.Error as exc:  # a file damaged past its schema, found by the scan
        raise DataError(f"cannot read {_which_files(con, view)}: {_first_line(exc)}") from exc


def _which_files(con: duckdb.DuckDBPyConnection, view: str) -> str:
    """The files a failing scan of ``view`` read, for its message."""
    import duckdb

    try:
        shown = [
            str(name)
            for (name,) in con.execute(
                f"SELECT display FROM {quote_ident(view + '_names')} ORDER BY display"
            ).fetchall()
        ]
    except duckdb.Error:
        return "the events"
    if len(shown) == 1:
        return shown[0]
    listed = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    return f"the events (one of {listed})"


def _diagnose(
    con: duckdb.DuckDBPyConnection, view: str, every_column: bool, covered: bool, users: bool
) -> Diagnostics:
    source = quote_ident(view)
    known = {"known": list(CATEGORIES)}
    touched = "count(org) + count(event_id) + count(end_us) + count(source_row)"
    # coalesce: an aggregate over no rows is NULL, which would read as "not asked"
    covering = "list(DISTINCT category) FILTER (problem IS NULL AND end_us IS NOT NULL)"
    covering = f"coalesce({covering}, [])"
    user_list = "coalesce(list(DISTINCT user_id) FILTER (problem IS NULL), [])"
    rows = con.execute(
        f"""
        SELECT
            count(*) AS total,
            count(*) FILTER (problem IS NOT NULL) AS invalid,
            count(*) FILTER (problem IS NULL AND NOT list_contains($known, category)) AS unknown,
            {touched if every_column else "0"} AS touched,
            {covering if covered else "NULL"} AS covered,
            {user_list if users else "NULL"} AS users
        FROM {source}
        """,
        known,
    ).fetchall()
    total, invalid, unknown, _ = (int(v) for v in rows[0][:4])
    covered_categories = None if rows[0][4] is None else tuple(sorted(map(str, rows[0][4])))
    user_ids = None if rows[0][5] is None else tuple(sorted(map(str, rows[0][5])))
    rejected = _rejected_lines(con, view)
    reasons: list[tuple[str, int]] = []
    examples: list[tuple[str, int | None, str]] = []
    unknown_values: list[tuple[str, int]] = []
    if invalid:
        reasons = [
            (str(r), int(n))
            for r, n in con.execute(
                f"SELECT problem, count(*) FROM {source} WHERE problem IS NOT NULL "
                "GROUP BY problem ORDER BY count(*) DESC, problem"
            ).fetchall()
        ]
        examples = _invalid_examples(con, view)
    if rejected is not None:
        reject_reasons, reject_examples = rejected
        examples = [(f, data_row(con, view, f, r), p) for f, r, p in examples]
        merged: dict[str, int] = dict(reasons)
        for reason, n in reject_reasons:
            merged[reason] = merged.get(reason, 0) + n
        reasons = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
        examples = sorted(examples + reject_examples, key=lambda e: (e[0], e[1] or 0))[:3]
        rejected_count = sum(n for _, n in reject_reasons)
        total += rejected_count
        invalid += rejected_count
    if unknown:
        unknown_values = [
            (str(c), int(n))
            for c, n in con.execute(
                f"SELECT category, count(*) FROM {source} "
                "WHERE problem IS NULL AND NOT list_contains($known, category) "
                "GROUP BY category ORDER BY count(*) DESC, category LIMIT 5",
                known,
            ).fetchall()
        ]
    return Diagnostics(
        total, invalid, reasons, examples, unknown, unknown_values, covered_categories, user_ids
    )


def _invalid_examples(
    con: duckdb.DuckDBPyConnection, view: str
) -> list[tuple[str, int | None, str]]:
    """The first three invalid rows, in file order, with their row numbers.

    Read from ``{view}_located`` when :func:`load_events` made it: one more
    streaming scan, taken only when there are invalid rows. A row's number in
    its file is its position in the scan minus that of the file's first row.
    """
    located = f"{view}_located"
    exists = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = $name", {"name": located}
    ).fetchall()
    if not int(exists[0][0]):
        return [
            (str(f), None if r is None else int(r), str(p))
            for f, r, p in con.execute(
                f"SELECT source_file, source_row, problem FROM {quote_ident(view)} "
                "WHERE problem IS NOT NULL ORDER BY source_file, source_row LIMIT 3"
            ).fetchall()
        ]
    per_file = con.execute(
        f"""
        SELECT source_file, min(source_row),
               min_by({{'row': source_row, 'problem': problem}}, source_row, 3)
                   FILTER (problem IS NOT NULL)
        FROM {quote_ident(located)}
        GROUP BY source_file
        """
    ).fetchall()
    examples: list[tuple[str, int | None, str]] = []
    for file, first, bad in per_file:
        for item in bad or []:
            examples.append((str(file), int(item["row"]) - int(first) + 1, str(item["problem"])))
    return sorted(examples, key=lambda e: (e[0], e[1] or 0))[:3]


def _rejected_lines(
    con: duckdb.DuckDBPyConnection, view: str
) -> tuple[list[tuple[str, int]], list[tuple[str, int | None, str]]] | None:
    """The malformed CSV lines DuckDB set aside: counts by reason, the first three.

    Every scan of the view appends its rejects again, so lines are counted
    once per (file, line). None when no CSV line was rejected.
    """
    lines = _reject_lines_sql(con, view)
    if lines is None:
        return None
    not_utf8 = con.execute(
        f"SELECT file, line FROM ({lines}) WHERE not_utf8 ORDER BY file, line LIMIT 1"
    ).fetchall()
    if not_utf8:
        file, line = not_utf8[0]
        raise DataError(
            f"{file}: line {line} is not UTF-8 text; convert the file to UTF-8 "
            "(iconv -f latin1 -t utf-8 FILE > FILE.utf8.csv, with the file's real encoding)"
        )
    counts = con.execute(
        f"SELECT kind, count(*) FROM ({lines}) GROUP BY kind ORDER BY count(*) DESC, kind"
    ).fetchall()
    if not counts:
        return None
    first = con.execute(f"SELECT file, line, kind FROM ({lines}) ORDER BY file, line LIMIT 3")
    return (
        [(_reject_reason(str(kind)), int(n)) for kind, n in counts],
        [(str(f), int(line) - 1, _reject_reason(str(k))) for f, line, k in first.fetchall()],
    )


def has_rejects(con: duckdb.DuckDBPyConnection, view: str) -> bool:
    """Whether loading ``view`` set malformed CSV lines aside (DuckDB's two tables)."""
    rejects = f"{view}_rejects"
    present = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name IN ($errors, $scans)",
        {"errors": rejects, "scans": f"{rejects}_scans"},
    ).fetchall()
    return int(present[0][0]) == 2


def _reject_lines_sql(con: duckdb.DuckDBPyConnection, view: str) -> str | None:
    """A query of the rejected CSV lines, one row per (file, line); None if none."""
    if not has_rejects(con, view):
        return None
    rejects = f"{view}_rejects"
    return f"""
        SELECT coalesce(n.display, s.file_path) AS file, e.line AS line,
               min(e.error_type) AS kind,
               bool_or(e.error_type = '{_NOT_UTF8}') AS not_utf8
        FROM {quote_ident(rejects)} e
        JOIN {quote_ident(rejects + "_scans")} s USING (scan_id, file_id)
        LEFT JOIN {quote_ident(view + "_names")} n ON n.path = s.file_path
        GROUP BY ALL
    """


def data_row(
    con: duckdb.DuckDBPyConnection, view: str, file: str, parsed: int | None
) -> int | None:
    """The data row of the ``parsed``-th row DuckDB parsed in ``file`` (its display name).

    Malformed lines are not in the scan, so each one at or before the row
    moves it down by one (a rejected line N is data row N - 1, assuming no
    multi-line field before it).
    """
    lines = _reject_lines_sql(con, view)
    if parsed is None or lines is None:
        return parsed
    rejected = con.execute(
        f"""SELECT line - 1 FROM ({lines}) WHERE file = $file
            AND line - 1 <= $parsed + (SELECT count(*) FROM ({lines}) WHERE file = $file)
            ORDER BY line""",
        {"file": file, "parsed": parsed},
    ).fetchall()
    row = parsed
    for (skipped,) in rejected:
        if skipped > row:
            break
        row += 1
    return row


def _reject_reason(kind: str) -> str:
    return REJECT_REASONS.get(kind, kind.lower())


def normalise_category(value: str) -> str:
    """The Python twin of the SQL normalisation, for ``--category`` values."""
    return re.sub(r"[\s-]+", "_", value.strip().lower())


__all__ = [
    "CATEGORIES",
    "Diagnostics",
    "EventFile",
    "LoadedEvents",
    "cleanup_temp_files",
    "diagnose",
    "data_row",
    "expand_paths",
    "glob_escape",
    "load_events",
    "normalise_category",
]


def unknown_in_range(
    con: duckdb.DuckDBPyConnection,
    view: str,
    diagnostics: Diagnostics,
    start_us: int,
    end_us: int,
) -> Diagnostics:
    """``diagnostics`` with only the unknown categories of events in ``[start, end)``."""
    rows = con.execute(
        f"""SELECT category, count(*) FROM {view}
            WHERE problem IS NULL AND NOT list_contains($known, category)
              AND ts >= $start AND ts < $end
            GROUP BY category ORDER BY count(*) DESC, category""",
        {"known": list(CATEGORIES), "start": start_us, "end": end_us},
    ).fetchall()
    values = [(str(c), int(n)) for c, n in rows]
    return dataclasses.replace(
        diagnostics, unknown_rows=sum(n for _, n in values), unknown_values=values[:5]
    )


def refuse_files_without_valid_rows(
    con: duckdb.DuckDBPyConnection, view: str, diagnostics: Diagnostics
) -> None:
    """A file none of whose rows is valid is an error, not an empty report.

    Such a file is in a form the tool does not read (epoch numbers as times,
    another export's columns): a cron job must not mail an empty report as
    a success. A file whose every line is malformed CSV has no rows in the
    view; it is caught when it is the only source.
    """
    rows = con.execute(
        f"""WITH bad AS (
                SELECT source_file FROM {view} GROUP BY source_file
                HAVING count(*) FILTER (problem IS NULL) = 0
                ORDER BY source_file LIMIT 1)
            SELECT source_file, problem, count(*) FROM {view}
            WHERE source_file IN (SELECT source_file FROM bad)
            GROUP BY ALL ORDER BY count(*) DESC, problem"""
    ).fetchall()
    if rows:
        total = sum(int(n) for _, _, n in rows)
        reasons = ", ".join(f"{n} {problem}" for _, problem, n in rows)
        file = str(rows[0][0])
        many = f"none of its {total:,} rows is"
        subject = f"{file}: {'its only row is not' if total == 1 else many}"
    elif diagnostics.total_rows and diagnostics.invalid_rows == diagnostics.total_rows:
        reasons, subject = diagnostics.describe(), "no row of the events is"
    else:
        return
    hint = ""
    if "unparseable time" in reasons:
        hint = "; times must be ISO 8601 text such as 2022-08-01T09:00:00Z"
    raise DataError(f"{subject} valid ({reasons}){hint}; fix the file or leave it out")
