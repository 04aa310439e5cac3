"""JSON event files: JSON Lines (``.jsonl``, ``.ndjson``) and arrays (``.json``), gzipped too.

DuckDB's JSON reader reads each line (or array element) as one JSON value;
the value's keys become text columns, as a CSV file's fields do, so the
canonical SQL reads both alike. A field may sit in a nested object: a
column named with a dotted path (``actor.id``) is taken from there.

Nothing is lost without a word: a line that is not JSON is an invalid row
(``malformed JSON``), and one that holds no object is one too (``not a JSON
object``), each with its line number. The reader skips blank lines, so the
lines before a row that are blank are counted back in (:func:`_blank_lines`).
A file whose first line is not JSON at all is refused with one line.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from ..errors import DataError, first_line
from .columns import Column, Mapping, map_columns, quote_ident, quote_literal
from .mapping import Reading
from .paths import EventFile

if TYPE_CHECKING:
    import duckdb

#: The column of a JSON scan that says why a line is no event, before any field is read.
PROBLEM = "_json_problem"


def json_format(file: EventFile) -> Literal["array", "newline_delimited"]:
    """``array`` for a file that opens with ``[``, else ``newline_delimited``.

    A file whose first character is neither ``{`` nor ``[`` is not JSON (a
    CSV file with the wrong name, say): refused here, in one line.
    """
    head = _head(file).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        return "array"
    if head.startswith(b"{"):
        return "newline_delimited"
    shown = head.split(b"\n", 1)[0][:40].decode("utf-8", "replace")
    raise DataError(
        f"{file.display}: is not JSON (it starts with {shown!r}); a JSON Lines file holds "
        "one object per line, a .json file an array of objects"
    )


def _head(file: EventFile) -> bytes:
    try:
        if file.path.lower().endswith(".gz"):
            with gzip.open(file.path, "rb") as handle:
                return handle.read(4096)
        with open(file.path, "rb") as handle:
            return handle.read(4096)
    except (OSError, EOFError) as exc:
        raise DataError(f"{file.display}: cannot read it: {exc}") from exc


def _blank_lines(file: EventFile) -> list[int]:
    """The 1-based numbers of the blank lines (only blanks) before the file's last line."""
    opener: Any = gzip.open if file.path.lower().endswith(".gz") else open
    found: list[int] = []
    try:
        with opener(file.path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    found.append(number)
    except (OSError, EOFError) as exc:
        raise DataError(f"{file.display}: cannot read it: {exc}") from exc
    return found


def json_relation(
    con: duckdb.DuckDBPyConnection, file: EventFile, reading: Reading, name: str
) -> tuple[duckdb.DuckDBPyRelation, list[Column]]:
    """One JSON file as rows of text columns, one per key, plus the reader's columns.

    Registers the raw values as the temporary view ``name`` (one JSON value
    per row, with its line), and returns the relation of their fields: every
    top-level key any object has, every key one level down as a dotted path
    (``actor.id``), and each deeper dotted path ``reading`` names.
    """
    import duckdb

    fmt = json_format(file)
    try:
        raw = con.read_json(
            file.pattern,
            format=fmt,
            records="false",
            columns={"j": "JSON"},
            ignore_errors=fmt == "newline_delimited",
            filename=True,
        )
        rows = "row_number() OVER ()"
        blanks = _blank_lines(file) if fmt == "newline_delimited" else []
        # A row's line: its number among the values, plus the blank lines before it.
        shifts = [line - index for index, line in enumerate(blanks)]
        line = f"({rows} + len(list_filter({shifts!r}, lambda s: s <= {rows})))"
        if not shifts:
            line = rows
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS
                SELECT j, filename, CAST({line} AS BIGINT) AS line
                FROM ({raw.sql_query()})"""
        )
        keys = _keys(con, name)
    except duckdb.InterruptException:
        raise KeyboardInterrupt from None
    except duckdb.Error as exc:
        raise DataError(f"{file.display}: cannot read it as JSON: {first_line(exc)}") from exc
    paths = column_paths(keys, reading, lambda parts: _path_exists(con, name, parts))
    names = list(paths)
    fields = ", ".join(quote_literal(_json_path(parts)) for parts in paths.values())
    values = ", ".join(f"v[{i + 1}] AS {quote_ident(key)}" for i, key in enumerate(names))
    select = f"{values}, " if values else ""
    relation = con.sql(
        f"""SELECT {select}filename, line - 1 AS file_row_number,
                   CASE WHEN j IS NULL THEN 'malformed JSON'
                        WHEN json_type(j) <> 'OBJECT' THEN 'not a JSON object' END
                       AS {quote_ident(PROBLEM)}
            FROM (SELECT j, filename, line,
                         {f"json_extract_string(j, [{fields}])" if fields else "NULL"} AS v
                  FROM {quote_ident(name)})"""
    )
    return relation, [Column(key, "VARCHAR") for key in names]


def column_paths(
    keys: Sequence[Sequence[str]], reading: Reading, exists: Callable[[list[str]], bool]
) -> dict[str, list[str]]:
    """The columns of a JSON file, by name: each key path (:func:`_keys`), named by its
    dotted path, a top-level key winning over a path of the same name; then each deeper
    dotted path that ``reading`` names and ``exists`` finds in the file."""
    paths = {".".join(parts): list(parts) for parts in reversed(keys)}
    paths = dict(reversed(paths.items()))
    for _, given in reading.columns:
        if given not in paths and "." in given:
            parts = given.split(".")
            if exists(parts):
                paths[given] = parts
    return paths


def _keys(con: duckdb.DuckDBPyConnection, name: str) -> list[list[str]]:
    """Every top-level key of the file's objects, then every key of an object one level
    down (``actor.id``), by the line each first appears on, then by name: as the keys
    of its path."""
    top = f"""SELECT j, line, unnest(json_keys(j)) AS key FROM {quote_ident(name)}
              WHERE json_type(j) = 'OBJECT'"""
    path = "'$.\"' || replace(replace(key, '\\', '\\\\'), '\"', '\\\"') || '\"'"
    rows = con.execute(
        f"""WITH top AS ({top})
            SELECT [key], min(line) AS first, 0 AS depth FROM top GROUP BY key
            UNION ALL
            SELECT [key, sub], min(line), 1 FROM (
                SELECT key, line, unnest(json_keys(j, {path})) AS sub FROM top
                WHERE json_type(j, {path}) = 'OBJECT')
            GROUP BY key, sub
            ORDER BY depth, first, 1"""
    ).fetchall()
    return [[str(part) for part in parts] for parts, _, _ in rows]


def _path_exists(con: duckdb.DuckDBPyConnection, name: str, parts: Sequence[str]) -> bool:
    found = con.execute(
        f"SELECT bool_or(json_exists(j, $path)) FROM {quote_ident(name)}",
        {"path": _json_path(parts)},
    ).fetchall()
    return bool(found[0][0])


def _json_path(parts: Sequence[str]) -> str:
    """``$."a"."b"``: keys quoted, so a key may hold any character."""
    return "$" + "".join('."' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in parts)


def json_scan(
    con: duckdb.DuckDBPyConnection, file: EventFile, reading: Reading, name: str
) -> tuple[Mapping, str, duckdb.DuckDBPyRelation, list[EventFile]]:
    """One JSON file's scan, as :func:`.loading.load_events` groups them: mapping, format,
    relation, files."""
    relation, columns = json_relation(con, file, reading, name)
    mapping = map_columns(file, columns, reading)
    return replace(mapping, problem=Column(PROBLEM, "VARCHAR")), "json", relation, [file]
