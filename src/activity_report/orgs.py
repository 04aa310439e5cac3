"""The organization directory: an organization's name, for the reports' scope and for ``org``.

A directory file (CSV, JSON or Parquet) has an ``id`` column (or
``organization_id``, ``org_id``) and a ``name``. Reports show the names
of the organizations they are limited to, and an ``org`` filter may be
given by name as well as by id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DataError
from .sources import glob_escape

if TYPE_CHECKING:
    import duckdb

ID_NAMES = ("id", "organization_id", "org_id")


def read_orgs_file(con: duckdb.DuckDBPyConnection, path: str) -> dict[str, str]:
    """The ``id -> name`` rows of a CSV, Parquet or JSON file, read with DuckDB."""
    import duckdb

    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"{path}: no such organizations file")
    lower = file.name.lower()
    literal = glob_escape(str(file))
    try:
        if lower.endswith((".parquet", ".pq")):
            rel = con.read_parquet(literal)
        elif lower.endswith((".json", ".jsonl", ".ndjson")):
            rel = con.read_json(literal)
        else:
            rel = con.read_csv(literal, header=True, all_varchar=True)
        columns = {c.strip().lower(): c for c in rel.columns}
        key = next((columns[n] for n in ID_NAMES if n in columns), None)
        if key is None or "name" not in columns:
            raise DataError(
                f"{path}: an organizations file needs an id column (accepted names: "
                f"{', '.join(ID_NAMES)}) and a name column; columns found: "
                f"{', '.join(rel.columns)}"
            )
        rows = rel.select(
            duckdb.ColumnExpression(key).cast("VARCHAR"),
            duckdb.ColumnExpression(columns["name"]).cast("VARCHAR"),
        ).fetchall()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read the organizations file: {first}") from exc
    found: dict[str, str] = {}
    for oid, name in rows:
        oid, name = (oid or "").strip(), (name or "").strip()
        if oid and name:
            found[oid] = name
    return found


def resolve(values: Sequence[str], names: Mapping[str, str]) -> list[str]:
    """``org`` values as ids: an id is kept, a name (ignoring case) becomes its id."""
    by_name: dict[str, str] = {}
    for oid, name in sorted(names.items()):
        by_name.setdefault(name.strip().lower(), oid)
    return [v if v in names else by_name.get(v.strip().lower(), v) for v in values]


def labels(ids: Sequence[str], names: Mapping[str, str]) -> tuple[str, ...]:
    """How a report names organizations: by name where the directory has one."""
    return tuple(names.get(oid, oid) for oid in ids)
