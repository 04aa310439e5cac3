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

from .directory import relation_of_file
from .errors import DataError, UsageError, first_line

if TYPE_CHECKING:
    import duckdb

ID_NAMES = ("id", "organization_id", "org_id")


def read_orgs_file(con: duckdb.DuckDBPyConnection, path: str) -> dict[str, str]:
    """The ``id -> name`` rows of a CSV, Parquet or JSON file, read with DuckDB."""
    import duckdb

    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"{path}: no such organizations file")
    try:
        rel = relation_of_file(con, file)
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
        raise DataError(f"{path}: cannot read the organizations file: {first_line(exc)}") from exc
    found: dict[str, str] = {}
    for oid, name in rows:
        oid, name = (oid or "").strip(), (name or "").strip()
        if oid and name:
            found[oid] = name
    return found


def resolve(values: Sequence[str], names: Mapping[str, str]) -> list[str]:
    """``org`` values as ids: an id is kept, a name (ignoring case) becomes its id.

    A name that several organizations share is an error that lists their ids:
    picking one would report the wrong organization.
    """
    by_name: dict[str, list[str]] = {}
    for oid, name in sorted(names.items()):
        by_name.setdefault(name.strip().lower(), []).append(oid)
    resolved = []
    for value in values:
        ids = [value] if value in names else by_name.get(value.strip().lower(), [value])
        if len(ids) > 1:
            raise UsageError(
                "{org} {value!r}: {n} organizations have this name (ids: {ids}); "
                "give the id instead",
                params=("org",),
                value=value,
                n=len(ids),
                ids=", ".join(ids),
            )
        resolved.append(ids[0])
    return resolved


def labels(ids: Sequence[str], names: Mapping[str, str]) -> tuple[str, ...]:
    """How a report names organizations: by name where the directory has one."""
    return tuple(names.get(oid, oid) for oid in ids)
