"""The store's tables, and the ordered steps that build and upgrade them.

To change the schema, append a :class:`Migration` to :data:`MIGRATIONS`
(see the comment there); :class:`~.core.Store` applies what a store lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import __version__
from . import rollups

if TYPE_CHECKING:
    import duckdb

_SCHEMA = (
    "CREATE TABLE meta (key VARCHAR NOT NULL, value VARCHAR NOT NULL)",
    """CREATE TABLE events (
        ts BIGINT NOT NULL,
        end_us BIGINT,
        user_id VARCHAR NOT NULL,
        category VARCHAR NOT NULL,
        org VARCHAR,
        event_id VARCHAR,
        ingest_file BIGINT NOT NULL
    )""",
    """CREATE TABLE rejects (
        ingest_file BIGINT NOT NULL,
        source_file VARCHAR NOT NULL,
        source_row BIGINT,
        problem VARCHAR NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL,
        ts BIGINT,
        end_us BIGINT,
        user_id VARCHAR,
        category VARCHAR,
        org VARCHAR,
        event_id VARCHAR,
        raw VARCHAR
    )""",
    """CREATE TABLE users (
        id VARCHAR NOT NULL,
        name VARCHAR,
        username VARCHAR,
        roles VARCHAR[] NOT NULL,
        avatar_hash VARCHAR
    )""",
    """CREATE TABLE ingests (
        id BIGINT NOT NULL,
        file VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        new BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        rejected BIGINT NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL
    )""",
)


@dataclass(frozen=True)
class Migration:
    """One named step of the schema; :data:`MIGRATIONS` lists them in order."""

    name: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


def _initial(con: duckdb.DuckDBPyConnection) -> None:
    """The tables of the first release (0.1.0)."""
    for statement in _SCHEMA:
        con.execute(statement)
    con.execute(
        "INSERT INTO meta VALUES ('schema_version', '1'), ('created_by', $by)",
        {"by": f"activity-report {__version__}"},
    )


def _add_rollups(con: duckdb.DuckDBPyConnection) -> None:
    """Rollups per 15-minute slot, keyed by user id: their first shape, left empty.

    Step 0004 replaces this table and fills its successors, so a store is
    not made to compute the rollups twice on its way up.
    """
    con.execute(
        """CREATE TABLE rollups (
            slot BIGINT NOT NULL,
            category VARCHAR,
            org VARCHAR,
            user_id VARCHAR NOT NULL,
            count BIGINT NOT NULL,
            duration BIGINT NOT NULL
        )"""
    )


def _add_tokens(con: duckdb.DuckDBPyConnection) -> None:
    """API tokens for ``serve`` (:mod:`..tokens`): names, hashes, expiry, revocation."""
    from .. import tokens

    tokens.ensure_table(con)


def _rollup_levels(con: duckdb.DuckDBPyConnection) -> None:
    """Rollups with numbered users, in filter order, and a daily level (:mod:`.rollups`).

    Computed again from the stored events (the slots' definition is unchanged).
    """
    con.execute("DROP TABLE rollups")
    rollups.create(con)
    rollups.refresh(con, scope("SELECT * FROM events"))


def _add_orgs(con: duckdb.DuckDBPyConnection) -> None:
    """The organization directory: names for the ids events carry (``orgs import``)."""
    con.execute("CREATE TABLE orgs (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL)")


#: The schema, step by step. To change it, append a step (never edit or
#: reorder one that has shipped): a name that sorts after the last one and a
#: function that takes the connection, inside the step's transaction, and
#: brings the tables from the previous step's shape to the new one, data
#: included. :attr:`Store.open` applies the missing steps, oldest first, each
#: in its own transaction, when a writer opens the store; readers read a
#: store whose steps are pending as it is. A new step must therefore leave
#: every table a reader of an older shape queries (``events``, ``users``)
#: readable, or reads must check :attr:`Store.applied`.
MIGRATIONS: tuple[Migration, ...] = (
    Migration("0001_initial", _initial),
    Migration("0002_rollups", _add_rollups),
    Migration("0003_tokens", _add_tokens),
    Migration("0004_rollup_levels", _rollup_levels),
    Migration("0005_orgs", _add_orgs),
)

SCHEMA_VERSION = len(MIGRATIONS)


def scope(events: str) -> str:
    """The users and time ranges whose rollups the events of ``events`` touch."""
    return f"""SELECT user_id, ts AS lo,
                      greatest(coalesce(end_us, ts + {rollups.HEARTBEAT_US}), ts + 1) AS hi
               FROM ({events})"""


def is_interrupt(exc: BaseException) -> bool:
    """A Ctrl-C: Python's, or DuckDB's ("Query interrupted", raised as a RuntimeError)."""
    import duckdb

    if isinstance(exc, KeyboardInterrupt | duckdb.InterruptException):
        return True
    return isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower()
