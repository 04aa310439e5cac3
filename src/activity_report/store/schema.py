"""The store's tables, and the ordered steps that build and upgrade them.

To change the schema, append a :class:`Migration` to :data:`MIGRATIONS`
(see the comment there); :class:`~.core.Store` applies what a store lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..version import __version__
from . import rollups

if TYPE_CHECKING:
    import duckdb

#: 0001: the tables of the first release (0.1.0).
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
    """One named step of the schema, as it shipped: its SQL, run in order.

    ``refills_rollups``: the step made the rollup tables anew, so the stored
    events' rollups are computed (by this release: they are derived data,
    defined by what they count, not by the step) in the step's transaction,
    unless a later step of the same upgrade makes them anew again (this
    release writes the last shape only).
    """

    name: str
    statements: tuple[str, ...]
    refills_rollups: bool = False

    def apply(self, con: duckdb.DuckDBPyConnection, refill: bool = True) -> None:
        """Run the step's SQL on ``con``, inside the caller's transaction.

        ``refill``: compute the rollups, if the step refills them.
        """
        for statement in self.statements:
            if "$by" in statement:
                con.execute(statement, {"by": f"activity-report {__version__}"})
            else:
                con.execute(statement)
        if self.refills_rollups and refill:
            tables = {
                str(name)
                for (name,) in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                    "AND database_name = current_database()"
                ).fetchall()
            }
            if (
                "minute_runs" not in tables
                or not con.execute("SELECT EXISTS (SELECT 1 FROM minute_runs)").fetchall()[0][0]
            ):
                rollups.refresh(con, scope("SELECT * FROM events"))
                return
            # The runs of minutes count too (step 0009).
            rollups.refresh(
                con,
                scope(
                    "SELECT ts, end_us, user_id FROM events "
                    "UNION ALL SELECT ts, end_us, user_id FROM minute_runs"
                ),
                runs="SELECT user_id, category, org, ts, end_us FROM minute_runs",
            )


#: 0002: rollups per 15-minute slot, keyed by user id: their first shape, left
#: empty (step 0004 replaces the table and fills its successors, so a store is
#: not made to compute the rollups twice on its way up).
_ROLLUPS_0002 = """CREATE TABLE rollups (
            slot BIGINT NOT NULL,
            category VARCHAR,
            org VARCHAR,
            user_id VARCHAR NOT NULL,
            count BIGINT NOT NULL,
            duration BIGINT NOT NULL
        )"""

#: 0003: API tokens for ``serve``: names, hashes of secrets, expiry, revocation.
_TOKENS_0003 = """
CREATE TABLE IF NOT EXISTS tokens (
    id VARCHAR PRIMARY KEY,          -- public: the part of the token before the secret
    name VARCHAR NOT NULL UNIQUE,
    secret_sha256 VARCHAR NOT NULL,  -- hex SHA-256 of the secret; the secret is never kept
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,          -- NULL: never
    revoked_at TIMESTAMPTZ           -- NULL: in force
)
"""

#: 0004: rollups with numbered users, in filter order, and a daily level.
_ROLLUP_LEVELS_0004 = (
    "DROP TABLE rollups",
    "CREATE TABLE rollup_users (uid INTEGER NOT NULL, user_id VARCHAR NOT NULL)",
    """CREATE TABLE rollups (
        slot BIGINT NOT NULL,
        category VARCHAR,
        org VARCHAR,
        uid INTEGER NOT NULL,
        count BIGINT NOT NULL,
        duration BIGINT NOT NULL
    )""",
    """CREATE TABLE rollups_daily (
        day BIGINT NOT NULL,
        category VARCHAR,
        org VARCHAR,
        uid INTEGER NOT NULL,
        count BIGINT NOT NULL,
        duration BIGINT NOT NULL
    )""",
)


#: 0005: the pseudonym key's table, empty: the key is made when first needed.
_PSEUDONYM_KEY_0005 = """
CREATE TABLE IF NOT EXISTS pseudonym_key (
    key_hex VARCHAR NOT NULL,          -- the HMAC key of the pseudonyms; never printed
    created_at TIMESTAMPTZ NOT NULL
)
"""

#: 0006: each token's scope: ``full``, or ``pseudonymous`` (answers name no one).
_TOKEN_SCOPE_0006 = "ALTER TABLE tokens ADD COLUMN IF NOT EXISTS scope VARCHAR DEFAULT 'full'"


#: 0007: the organization directory: names for the ids events carry (``orgs import``).
_ORGS_0007 = "CREATE TABLE orgs (id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL)"


#: 0008: one version record: the ``migrations`` table says which steps a store has
#: had (and so its schema version); ``meta`` keeps who made and last wrote the store.
_ONE_VERSION_RECORD_0008 = "DELETE FROM meta WHERE key = 'schema_version'"


#: 0009: runs of active minutes (``ingest --coder``): one row per maximal run of a
#: user's contiguous minutes in a category and organization, each minute one event
#: (see :mod:`.minute_runs`); ``ingest_file`` is the ingest that last wrote the run.
_MINUTE_RUNS_0009 = """CREATE TABLE minute_runs (
    ts BIGINT NOT NULL,              -- the start of the first minute, in microseconds
    end_us BIGINT NOT NULL,          -- the end of the last minute
    user_id VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    org VARCHAR,
    ingest_file BIGINT NOT NULL
)"""


#: 0010: rollups whose user-slot (user-day) of one category and one organization is
#: one row, ``single``, that stands for every filter; the others keep a row per filter.
#: The step makes the tables anew, and this release computes their rows.
_SHARED_ROLLUPS_0010 = (
    "DROP TABLE rollups",
    "DROP TABLE rollups_daily",
    """CREATE TABLE rollups (
        slot BIGINT NOT NULL,
        category VARCHAR,
        org VARCHAR,
        uid INTEGER NOT NULL,
        count BIGINT NOT NULL,
        duration BIGINT NOT NULL,
        single BOOLEAN NOT NULL
    )""",
    """CREATE TABLE rollups_daily (
        day BIGINT NOT NULL,
        category VARCHAR,
        org VARCHAR,
        uid INTEGER NOT NULL,
        count BIGINT NOT NULL,
        duration BIGINT NOT NULL,
        single BOOLEAN NOT NULL
    )""",
)


#: The schema, step by step. To change it, append a step (never edit or
#: reorder one that has shipped): a name that sorts after the last one and the
#: SQL, written out in the step and calling no code that may change later,
#: that brings the tables from the previous step's shape to the new one, data
#: included. :attr:`Store.open` applies the missing steps, oldest first, each
#: in its own transaction, when a writer opens the store; readers read a
#: store whose steps are pending as it is. A new step must therefore leave
#: every table a reader of an older shape queries (``events``, ``users``)
#: readable, or reads must check :attr:`Store.applied`.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_initial",
        (*_SCHEMA, "INSERT INTO meta VALUES ('schema_version', '1'), ('created_by', $by)"),
    ),
    Migration("0002_rollups", (_ROLLUPS_0002,)),
    Migration("0003_tokens", (_TOKENS_0003,)),
    Migration("0004_rollup_levels", _ROLLUP_LEVELS_0004, refills_rollups=True),
    Migration("0005_pseudonym_key", (_PSEUDONYM_KEY_0005,)),
    Migration("0006_token_scope", (_TOKEN_SCOPE_0006,)),
    Migration("0007_orgs", (_ORGS_0007,)),
    Migration("0008_one_version_record", (_ONE_VERSION_RECORD_0008,)),
    Migration("0009_minute_runs", (_MINUTE_RUNS_0009,)),
    Migration("0010_shared_rollups", _SHARED_ROLLUPS_0010, refills_rollups=True),
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


def refills_rollups(pending: tuple[str, ...]) -> bool:
    """Whether a store lacking the ``pending`` steps is answered from its events until then.

    Such a step makes the rollup tables anew: until a writer applies it, the
    tables are not the ones this release reads.
    """
    return any(m.refills_rollups for m in MIGRATIONS if m.name in pending)
