"""Event files -> DuckDB scans, one per group of files that read alike, with their mappings.

Files are read by DuckDB; Python only looks at their schemas and, for CSV, their
header line. A Parquet file whose footer says a time may lie beyond what
microseconds hold is read through Arrow instead (:func:`_far_relation`), so
that such a time is one invalid row rather than a failed scan. Parquet files
with the same column mapping are read by one scan
(``union_by_name``: columns may come in any order, extra ones are ignored).
CSV files are read by one scan per distinct header line: a multi-file CSV scan
takes columns by position, so only files with byte-identical headers share one.
DuckDB guesses nothing about a CSV file (:mod:`.csv` fixes its dialect and
refuses a line longer than DuckDB's read buffer). CSV scans set malformed
lines aside (too few or too many fields, bad quoting, bytes that are not
UTF-8) in rejects tables; :func:`.diagnostics.diagnose` counts them as invalid
rows with their line numbers, and a CSV file that is not UTF-8 is an error
that names the file and the line.

:mod:`.loading` turns the scans into the view ``events_input``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import DataError, first_line
from .canonical import canonical_select
from .columns import Column, Mapping, far_timestamps, map_columns, quote_ident
from .csv import check_line_lengths, csv_dialect, header_key
from .jsonl import json_scan
from .mapping import Reading, check_time_format
from .paths import EventFile

if TYPE_CHECKING:
    import duckdb


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
            f"{shown}: cannot read it as {files[0].fmt.upper()}: {first_line(exc)}"
        ) from exc


def _failing_file(exc: Exception, files: Sequence[EventFile]) -> str:
    """The file a multi-file scan's error names, else all of them."""
    text = str(exc)
    named = [f.display for f in files if f.path in text]
    return named[0] if named else ", ".join(f.display for f in files)


def _columns(
    rel: duckdb.DuckDBPyRelation, epoch_units: dict[str, str] | None = None
) -> list[Column]:
    units = epoch_units or {}
    return [
        Column(name, str(kind), units.get(name))
        for name, kind in zip(rel.columns, rel.types, strict=True)
    ]


def _far_relation(
    con: duckdb.DuckDBPyConnection, file: EventFile, far: dict[str, str], name: str
) -> tuple[duckdb.DuckDBPyRelation, dict[str, str]]:
    """One Parquet file whose times may lie beyond microseconds, read through Arrow.

    DuckDB's reader would fail the whole file on one such time (see
    :func:`~.columns.far_timestamps`): Arrow reads the ``far`` columns as the
    integers they store, and the canonical SQL bounds them. Arrow durations
    are read as integers too, as DuckDB reads them. The scan stays lazy (an
    Arrow dataset, registered on ``con`` as ``name``); its streaming
    ``row_number()`` keeps the file's order, which gives the row numbers.
    Returns the relation and the unit of each integer time column.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    schema = ds.dataset(file.path, format="parquet").schema
    # Text stays dictionary-encoded, as DuckDB's reader keeps it: the canonical
    # SQL then trims and normalises each distinct value once, not every row.
    texts = {f.name for f in schema if pa.types.is_string(f.type)}
    fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=texts))
    units: dict[str, str] = {}
    for index, field in enumerate(schema):
        if field.name in texts:
            schema = schema.set(index, pa.field(field.name, pa.dictionary(pa.int32(), pa.string())))
            continue
        if field.name in far and pa.types.is_timestamp(field.type):
            units[field.name] = str(field.type.unit)  # Arrow's unit, which the integers count
        elif not pa.types.is_duration(field.type):
            continue
        schema = schema.set(index, pa.field(field.name, pa.int64()))
    con.register(name, ds.dataset(file.path, format=fmt, schema=schema))
    # The file's name rides in a variable: a join with a one-row table would
    # have DuckDB hold the whole file in memory for a cross product.
    assert name.isidentifier()  # made by the code, so it is also a plain SQL string
    con.execute(f"SET VARIABLE {name} = $path", {"path": file.path})
    relation = con.sql(
        f"""SELECT *, CAST(getvariable('{name}') AS VARCHAR) AS filename,
                   row_number() OVER () - 1 AS file_row_number
            FROM {quote_ident(name)}"""
    )
    return relation, units


def file_scans(
    con: duckdb.DuckDBPyConnection, files: Sequence[EventFile], rejects: str, reading: Reading
) -> list[tuple[Mapping, str, duckdb.DuckDBPyRelation, list[EventFile]]]:
    """One scan per group of files that read alike, with its files.

    Parquet files group by their column mapping (the scan unions by name).
    CSV files group by their header line, byte for byte: a multi-file CSV scan
    takes every file's columns by position, so only files whose headers are
    identical may share one (hundreds of daily exports are then one scan, not
    hundreds).
    """
    parquet: dict[Mapping, list[EventFile]] = {}
    by_header: dict[tuple[str, bytes], list[EventFile]] = {}
    scans: list[tuple[Mapping, str, duckdb.DuckDBPyRelation, list[EventFile]]] = []
    far_files = far_timestamps(files, con)
    for file in files:
        if file.fmt == "parquet":
            far = far_files.get(file.path)
            if far:
                relation, units = _far_relation(con, file, far, f"{rejects}_far_{len(scans)}")
                mapping = map_columns(file, _columns(relation, units), reading)
                scans.append((mapping, "parquet", relation, [file]))
            else:
                mapping = map_columns(file, describe(con, file), reading)
                parquet.setdefault(mapping, []).append(file)
        elif file.fmt == "json":
            scans.append(json_scan(con, file, reading, f"{rejects}_json_{len(scans)}"))
        else:
            check_line_lengths(file)
            by_header.setdefault(header_key(file), []).append(file)
    for mapping, members in parquet.items():
        scans.append((mapping, "parquet", _open(con, members), members))
    for members in by_header.values():
        relation = _open(con, members, rejects=rejects)
        mapping = map_columns(members[0], _columns(relation), reading)
        scans.append((mapping, "csv", relation, members))
    if reading.time_format != "iso":
        for mapping, fmt, relation, members in scans:
            # The raw time rides along under a name no file column has.
            relation_sql = (
                f"(SELECT *, {mapping.time.sql} AS _raw_time FROM ({relation.sql_query()}))"
            )
            select = canonical_select(mapping, relation_sql, fmt, carry="_raw_time")
            check_time_format(con, select, "_raw_time", members[0].display, reading)
    return scans
