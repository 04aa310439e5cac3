"""The store's pseudonym key: made at random when first needed, never shown.

One row in ``pseudonym_key``: 32 random bytes, as hex. :func:`ensure` makes
it in a store open for writing; :func:`rotate` replaces it, after which the
pseudonyms of earlier reports no longer match the new ones. A reader uses
:func:`read`, which finds nothing in a store that has no key yet.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

KEY_DDL = """
CREATE TABLE IF NOT EXISTS pseudonym_key (
    key_hex VARCHAR NOT NULL,          -- the HMAC key of the pseudonyms; never printed
    created_at TIMESTAMPTZ NOT NULL
)
"""
KEY_BYTES = 32


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(KEY_DDL)


def read(con: duckdb.DuckDBPyConnection) -> bytes | None:
    """The store's key, or None when it has none yet (or predates the key's table)."""
    has_table = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "AND table_name = 'pseudonym_key'"
    ).fetchall()[0][0]
    if not has_table:
        return None
    rows = con.execute(
        "SELECT key_hex FROM pseudonym_key ORDER BY created_at DESC LIMIT 1"
    ).fetchall()
    return bytes.fromhex(rows[0][0]) if rows else None


def ensure(con: duckdb.DuckDBPyConnection) -> bytes:
    """The store's key, made now if it has none (the store is open for writing)."""
    ensure_table(con)
    found = read(con)
    return found if found is not None else rotate(con)


def rotate(con: duckdb.DuckDBPyConnection, *, now: datetime | None = None) -> bytes:
    """A new random key in place of the old one (the store is open for writing)."""
    ensure_table(con)
    key = secrets.token_bytes(KEY_BYTES)
    con.execute("DELETE FROM pseudonym_key")
    con.execute(
        "INSERT INTO pseudonym_key VALUES ($key, $at)",
        {"key": key.hex(), "at": now or datetime.now(UTC)},
    )
    return key
