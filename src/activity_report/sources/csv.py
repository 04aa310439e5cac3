"""CSV as DuckDB must read it: the dialect, line lengths, and the lines set aside.

DuckDB guesses nothing about a CSV file: the dialect is RFC 4180 with the
delimiter and the column names of the file's own header line
(:func:`csv_dialect`), and a file with a line longer than DuckDB's read buffer
is refused (:func:`check_line_lengths`), since DuckDB may lose such a line.
The malformed lines a scan sets aside are in its rejects tables
(:func:`has_rejects`, :func:`reject_lines_sql`): reports count them, ingest
keeps them, and both refuse a file that is not UTF-8 (:func:`refuse_not_utf8`).
:func:`data_row` adds them back to the streaming row count.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from .columns import quote_ident
from .paths import EventFile

if TYPE_CHECKING:
    import duckdb

#: DuckDB's names for malformed CSV lines, as the reasons :func:`diagnose` gives.
REJECT_REASONS = {
    "MISSING COLUMNS": "too few fields",
    "TOO MANY COLUMNS": "too many fields",
    "UNQUOTED VALUE": "bad quoting",
    "LINE SIZE OVER MAXIMUM": "line too long",
    "INVALID ENCODING": "not UTF-8",
}
_NOT_UTF8 = "INVALID ENCODING"

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


def header_key(file: EventFile) -> tuple[str, bytes]:
    """What a CSV file must share with others to be read in the same scan."""
    compressed = file.path.lower().endswith(".gz")
    line = _header_line(file)
    if not line.endswith(b"\n") or b'"' in line:  # unusual: read the file on its own
        return ("alone", file.path.encode("utf-8", "surrogateescape"))
    return ("gzip" if compressed else "plain", line)


# --------------------------------------------------------------------------- diagnostics


def has_rejects(con: duckdb.DuckDBPyConnection, view: str) -> bool:
    """Whether loading ``view`` set malformed CSV lines aside (DuckDB's two tables)."""
    rejects = f"{view}_rejects"
    present = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name IN ($errors, $scans)",
        {"errors": rejects, "scans": f"{rejects}_scans"},
    ).fetchall()
    return int(present[0][0]) == 2


def reject_lines_sql(con: duckdb.DuckDBPyConnection, view: str) -> str | None:
    """A query of the CSV lines loading ``view`` set aside, one row per (file, line); None if none.

    DuckDB lists a line once per error, and again at every scan. The columns:
    ``path`` (the file as read), ``file`` (as messages name it), ``line``,
    ``reason`` (DuckDB's error in the words of :data:`REJECT_REASONS`), ``raw``
    (the line's text) and ``not_utf8``.
    """
    if not has_rejects(con, view):
        return None
    rejects = f"{view}_rejects"
    kind = "CAST(min(e.error_type) AS VARCHAR)"
    reason = " ".join(f"WHEN '{k}' THEN '{r}'" for k, r in REJECT_REASONS.items())
    return f"""
        SELECT s.file_path AS path, coalesce(n.display, s.file_path) AS file, e.line AS line,
               CASE {kind} {reason} ELSE lower({kind}) END AS reason,
               any_value(e.csv_line) AS raw,
               bool_or(e.error_type = '{_NOT_UTF8}') AS not_utf8
        FROM {quote_ident(rejects)} e
        JOIN {quote_ident(rejects + "_scans")} s USING (scan_id, file_id)
        LEFT JOIN {quote_ident(view + "_names")} n ON n.path = s.file_path
        GROUP BY ALL
    """


def refuse_not_utf8(
    con: duckdb.DuckDBPyConnection, lines: str, *, order: str = "file, line"
) -> None:
    """Refuse the events if a set-aside line is not UTF-8: that file is in another encoding.

    ``lines`` is :func:`reject_lines_sql`'s query (or one with its columns);
    the error names the first such line in ``order``.
    """
    bad = con.execute(
        f"SELECT file, line FROM ({lines}) WHERE not_utf8 ORDER BY {order} LIMIT 1"
    ).fetchall()
    if bad:
        raise not_utf8_error(str(bad[0][0]), int(bad[0][1]))


def not_utf8_error(file: str, line: int) -> DataError:
    """The error for line ``line`` of ``file``, which is not UTF-8 text."""
    return DataError(
        f"{file}: line {line} is not UTF-8 text; convert the file to UTF-8 "
        "(iconv -f latin1 -t utf-8 FILE > FILE.utf8.csv, with the file's real encoding)"
    )


def data_row(
    con: duckdb.DuckDBPyConnection, view: str, file: str, parsed: int | None
) -> int | None:
    """The data row of the ``parsed``-th row DuckDB parsed in ``file`` (its display name).

    Malformed lines are not in the scan, so each one at or before the row
    moves it down by one (a rejected line N is data row N - 1, assuming no
    multi-line field before it).
    """
    lines = reject_lines_sql(con, view)
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
