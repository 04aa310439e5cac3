"""Opening a store's file: the paths refused, and the errors of attaching it.

The helpers of :class:`.core.Store`: whether a path is a local DuckDB file,
what a failed ATTACH means (the file lock held by another process, a full
disk, not a database), and the SQL bits its statements need.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from .. import resources
from ..errors import DataError, Kind, UsageError, first_line

if TYPE_CHECKING:
    import duckdb

#: The catalog name the store is attached under, in the store's connection.
CATALOG = "ar_store"


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    import duckdb

    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass  # no transaction left to roll back: DuckDB already ended it


def _literal(text: str) -> str:
    """``text`` as a SQL string literal (DuckDB's: quotes doubled, nothing else escaped)."""
    return "'" + text.replace("'", "''") + "'"


def _is_lock_error(exc: Exception) -> bool:
    message = first_line(exc)
    return (
        "Could not set lock" in message
        or "different configuration" in message
        # the file is attached by another database of this same process (a server's tests)
        or "Unique file handle conflict" in message
    )


def _open_error(path: Path, exc: Exception, waited: float = 0.0) -> DataError:
    full = resources.disk_full(exc)
    if full is not None:
        return full
    message = first_line(exc)
    if _is_lock_error(exc):
        holder = re.search(r"\(PID (\d+)\)", message)
        who = f"process {holder.group(1)}" if holder else "another connection"
        if waited > 0:
            return DataError(
                "{path}: the store is in use by {who}; waited {waited:g} s for it (one "
                "process can write a store, or several read it); try again later, or wait "
                "longer with {wait}",
                kind=Kind.unavailable,
                params=("wait",),
                path=path,
                who=who,
                waited=waited,
            )
        return DataError(
            f"{path}: the store is in use by {who}; try again when it has finished "
            "(one process can write a store, or several read it)",
            kind=Kind.unavailable,
        )
    if "not a valid DuckDB database" in message:
        return _not_a_database(path)
    return DataError(f"{path}: cannot open the store: {message}")


def _is_duckdb_file(path: Path) -> bool:
    """Whether ``path`` starts as a DuckDB database does (``DUCK`` at byte 8).

    An unreadable file passes: opening it then gives the precise error.
    """
    try:
        with path.open("rb") as handle:
            return handle.read(12)[8:12] == b"DUCK"
    except OSError:
        return True


def _not_a_database(path: Path) -> DataError:
    return DataError(
        "{path}: not a DuckDB database; give {db} a store made by `activity-report "
        "ingest`, or a new file name",
        params=("db",),
        path=path,
    )


#: What DuckDB would take for a URL or a special database rather than a file:
#: ``:memory:``, ``md:``, ``s3://bucket/x`` (which becomes ``s3:/bucket/x``).
_NOT_A_FILE = re.compile(r"^(?::|[A-Za-z][A-Za-z0-9+.-]+:)")


def check_store_path(path: str | os.PathLike[str]) -> None:
    """Refuse a --db that DuckDB would not read as a local DuckDB file.

    DuckDB takes ``:memory:`` (nothing kept), ``md:`` and URLs (the network),
    and opens a SQLite file through an extension: none of them is a store.
    """
    text = os.fspath(path)
    if _NOT_A_FILE.match(text):
        raise UsageError(
            "invalid value for {db}: {text!r}; a store is a local DuckDB file "
            "(in-memory databases and URLs are not stores; a file whose name has a colon "
            "needs its full path)",
            params=("db",),
            text=text,
        )
    try:
        with open(text, "rb") as handle:
            head = handle.read(16)
    except OSError:  # missing (a new store) or unreadable: opening it will say
        return
    if head == b"SQLite format 3\x00":
        raise DataError(
            "{text}: is a SQLite database, not a store (a DuckDB file); give another {db}",
            params=("db",),
            text=text,
        )
