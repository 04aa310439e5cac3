"""Rollups: the store's counts and active time per 15-minute UTC slot and user.

A report over months of a store need not walk every event: per slot, user
and filter, the table ``rollups`` holds

* ``count``: the events whose time lies in the slot;
* ``duration``: the length of the union of the user's coverages inside the
  slot, in microseconds, at the default heartbeat.

Durations add up over disjoint slots but not across categories or
organizations, so each row is keyed by the filter it was computed for:
``category`` one of the five known categories, or NULL for any of them;
``org`` one organization, or NULL for all (events without an organization
are only in the NULL rows). A user's slot whose events are all of one
category and one organization has the same numbers under the four filters
it meets, and none under the others: it is one row, ``single`` true, of its
category and organization, that stands for all four (see :func:`_share`).
Every other slot has a row per filter, ``single`` false. A 15-minute UTC
slot lines up with every time zone offset in use, so calendar buckets in any
zone are whole slots.

Users are numbered (``rollup_users``: ``uid``, ``user_id``; a number is never
reused), so the rollups group integers and names are joined to the few
result rows at the end. ``rollups_daily`` holds the same sums per UTC day
(a day is single when all its slots are, of one category and organization):
a report whose bucket edges are all UTC midnights (days, weeks and months in
UTC) reads a 96th of the rows. Both tables are written in slot (day)
order, so a report's time range reads a contiguous run of row groups and
skips the others by their min/max statistics, and picks its filter's rows
there: a single row answers every filter, so grouped by filter they would
be spread over every group (the daily rows of a day in user order; the slot
rows of a slot in any order, which spares a part of their sort).

A report is answered from the rollups when its bucket edges are all slot
edges, the heartbeat is the default, the category is one or any, at most one
organization is asked for, and (any) user filter; else from the events.
Both give the same numbers: the tests hold them equal.

Ingest keeps the tables current in its own transaction: for each user with
new events, the slots their coverage touches are computed again from every
stored event of that user that meets them (so coverage crossing a slot edge,
and earlier events next to the new ones, are accounted for), then the days
of those slots are summed again. The store's runs of minutes
(:mod:`.minute_runs`) count as their minutes: each run is cut at the slot
edges, and a piece counts its minutes in its slot and covers its span.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from .. import sources
from ..backends.protocol import HEARTBEAT_US as HEARTBEAT_US  # the rollups hold this heartbeat
from .rollup_slots import DAY_US as DAY_US
from .rollup_slots import SLOT_US as SLOT_US
from .rollup_slots import compute, floor

if TYPE_CHECKING:
    import duckdb

TABLES = (
    "CREATE TABLE rollup_users (uid INTEGER NOT NULL, user_id VARCHAR NOT NULL)",
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

#: The migration step that made these tables (:mod:`.schema`): a store without it
#: is answered from its events.
STEP = "0010_shared_rollups"

#: The order rows are written in (see the module's docstring).
_DAY_ORDER = "day, uid"
_SLOT_ORDER = "slot"

#: DuckDB's memory for an ingest's refresh without ``--memory-limit``.
MEMORY_LIMIT = "1GiB"


def create(con: duckdb.DuckDBPyConnection) -> None:
    """The empty rollup tables (:mod:`.schema` fills them with :func:`refresh`)."""
    for statement in TABLES:
        con.execute(statement)


def refresh(
    con: duckdb.DuckDBPyConnection,
    scope: str,
    memory_limit: str | None = None,
    runs: str | None = None,
) -> None:
    """Compute again the rollup rows of the users and time ranges in ``scope``.

    ``scope`` is a relation with columns ``user_id``, ``lo`` and ``hi``
    (microseconds): every slot of the user that meets ``[lo, hi)`` is
    replaced, then every day of those slots. Runs inside the caller's
    transaction. An empty scope changes nothing. The same as :func:`prepare`
    then :func:`apply`.
    """
    prepare(con, scope, memory_limit, runs=runs)
    apply(con)


def prepare(
    con: duckdb.DuckDBPyConnection,
    scope: str,
    memory_limit: str | None = None,
    events: str = "events",
    runs: str | None = None,
) -> None:
    """Compute the rollup rows that :func:`apply` writes, into temporary tables only.

    It reads the store and writes nothing to it, so it may run while the
    store is attached read-only: an ingest prepares its rollups before it
    holds the store, over ``events`` (a relation: the stored events and
    the new ones) and ``runs`` (a relation of runs of minutes, see
    :mod:`.minute_runs`, or None for none), and applies them in its short merge.
    A run counts as its minutes: it is cut at the slot edges, and each piece
    counts its minutes in its slot and covers its span.

    The events that meet the scope are copied once into a narrow temporary
    table keyed by integers (user, category and organization numbers).
    DuckDB sorts a part of the users at a time (:mod:`.rollup_slots`: about 4M
    events) by user and time, and NumPy computes every filter's counts and
    union per slot from it (:mod:`.coverage`), into a narrow temporary
    table. A user whose events there all share one organization has the
    same union for that organization as for all of them, and likewise for
    one category: those rows are copies, not computed again. The daily sums
    and the labelled slot rows are made from it at the end.

    ``memory_limit``: DuckDB's memory for the work, on a connection with
    DuckDB's default limit, which is put back after it (beyond it, DuckDB
    spills to the connection's temporary folder).
    """
    # Without runs, the call of a store that has none.
    args = (con, scope, events) if runs is None else (con, scope, events, runs)
    if memory_limit is None:
        _prepare(*args)
        return
    con.execute("SET memory_limit = $limit", {"limit": memory_limit})
    try:
        _prepare(*args)
    except BaseException:
        # The error, not this: in a failed transaction DuckDB refuses every statement.
        with contextlib.suppress(Exception):
            con.execute("RESET memory_limit")
        raise
    con.execute("RESET memory_limit")


#: The temporary tables :func:`prepare` leaves for :func:`apply`.
PREPARED = ("rollup_scope", "rollup_new_users", "rollup_days_ready", "rollup_slots_ready")


def _prepare(
    con: duckdb.DuckDBPyConnection, scope: str, events: str, runs: str | None = None
) -> None:
    """:func:`prepare` within the connection's memory limit."""
    for table in PREPARED:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rollup_ranges AS
            SELECT user_id, {floor("min(lo)")} AS lo, {floor("max(hi) - 1")} + {SLOT_US} AS hi
            FROM ({scope}) GROUP BY user_id"""
    )
    span = con.execute("SELECT min(lo), max(hi) FROM rollup_ranges").fetchall()[0]
    if span[0] is None:
        con.execute("DROP TABLE rollup_ranges")
        return
    # Users new to the rollups take the next numbers.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE rollup_new_users AS
           SELECT (SELECT coalesce(max(uid), 0) FROM rollup_users)
                  + CAST(row_number() OVER (ORDER BY user_id) AS INTEGER) AS uid, user_id
           FROM rollup_ranges ANTI JOIN rollup_users USING (user_id)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rollup_scope AS
            SELECT k.uid, s.user_id, s.lo, s.hi,
                   {floor("s.lo", DAY_US)} AS day_lo, {floor("s.hi - 1", DAY_US)} + {DAY_US}
                       AS day_hi
            FROM rollup_ranges s
            JOIN (SELECT uid, user_id FROM rollup_users
                  UNION ALL SELECT uid, user_id FROM rollup_new_users) k USING (user_id)"""
    )
    con.execute("DROP TABLE rollup_ranges")
    compute(con, int(span[0]), int(span[1]), events, runs)
    # The days of the slots replaced: the new slots, and the day's other slots as stored.
    day_lo, day_hi = (
        int(x)
        for x in con.execute("SELECT min(day_lo), max(day_hi) FROM rollup_scope").fetchall()[0]
    )
    _share(con)
    # The day's other slots as stored, in the numbers of this refresh: their
    # organizations that it has not met take the next numbers.
    others = f"""r.slot >= {day_lo} AND r.slot < {day_hi}
                 AND r.slot >= s.day_lo AND r.slot < s.day_hi
                 AND (r.slot < s.lo OR r.slot >= s.hi)"""
    con.execute(
        f"""INSERT INTO rollup_orgs
            SELECT org, CAST((SELECT coalesce(max(oid), 0) FROM rollup_orgs)
                             + row_number() OVER (ORDER BY org) AS INTEGER)
            FROM (SELECT DISTINCT r.org FROM rollups r JOIN rollup_scope s USING (uid)
                  WHERE {others} AND r.org IS NOT NULL)
            ANTI JOIN rollup_orgs USING (org)"""
    )
    stored = f"""SELECT r.uid, coalesce(list_position($known, r.category), 0) AS cid,
                        coalesce(o.oid, 0) AS oid, {floor("r.slot", DAY_US)} AS day, r.single,
                        r.count AS n, r.duration
                 FROM rollups r JOIN rollup_scope s USING (uid)
                 LEFT JOIN rollup_orgs o ON o.org = r.org
                 WHERE {others}"""
    # Inlined, the bounds let the scan skip row groups of other slots. Summed by the
    # numbers, the names looked up on the day rows only; the slots are read twice
    # rather than kept (a day of several kinds reads its slots again).
    slots = f"""(SELECT uid, cid, oid, {floor("slot", DAY_US)} AS day, single, n, duration
                 FROM rollup_shared
                 UNION ALL {stored})"""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rollup_days_ready AS
            WITH days AS (
                SELECT uid, day,
                       bool_and(single) AND min(cid) = max(cid) AND min(oid) = max(oid) AS one,
                       min(cid) AS cid, min(oid) AS oid, sum(n) AS count, sum(duration) AS duration
                FROM {slots} GROUP BY uid, day
            ),
            ready AS (
                SELECT day, cid, oid, uid, count, duration, true AS single FROM days WHERE one
                UNION ALL
                SELECT day, CASE WHEN copy % 2 = 0 THEN cid ELSE 0 END AS cid,
                       CASE WHEN copy < 2 THEN oid ELSE 0 END AS oid, uid,
                       sum(n) AS count, sum(duration) AS duration, false AS single
                FROM (SELECT p.*,
                             unnest(CASE WHEN p.single THEN [0, 1, 2, 3] ELSE [0] END) AS copy
                      FROM {slots} p
                      SEMI JOIN (SELECT uid, day FROM days WHERE NOT one) USING (uid, day))
                GROUP BY ALL
            )
            SELECT day, {_NAMES}, uid, count, duration, single
            FROM (SELECT * FROM ready ORDER BY {_DAY_ORDER})""",
        _names(con),
    )
    # Sorted by the numbers, the names looked up after: the sort moves no text.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rollup_slots_ready AS
            SELECT slot, {_NAMES}, uid, n AS count, duration, single
            FROM (SELECT * FROM rollup_shared ORDER BY {_SLOT_ORDER})""",
        _names(con),
    )
    for table in ("rollup_computed", "rollup_shared", "rollup_plans", "rollup_orgs"):
        con.execute(f"DROP TABLE {table}")


def apply(con: duckdb.DuckDBPyConnection) -> None:
    """Write what :func:`prepare` computed: replace the slots and days of its scope.

    Runs inside the caller's transaction, on the store open for writing; the
    store must not have changed since :func:`prepare` read it.
    """
    prepared = {
        str(name)
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'temp'"
        ).fetchall()
    }
    if "rollup_scope" not in prepared:
        return  # an empty scope
    con.execute("INSERT INTO rollup_users SELECT uid, user_id FROM rollup_new_users")
    # Constant bounds too: the scans skip the row groups of other times.
    lo, hi, day_lo, day_hi = con.execute(
        "SELECT min(lo), max(hi), min(day_lo), max(day_hi) FROM rollup_scope"
    ).fetchall()[0]
    con.execute(
        f"""DELETE FROM rollups r USING rollup_scope s
            WHERE r.uid = s.uid AND r.slot >= s.lo AND r.slot < s.hi
              AND r.slot >= {int(lo)} AND r.slot < {int(hi)}"""
    )
    con.execute(
        f"""DELETE FROM rollups_daily d USING rollup_scope s
            WHERE d.uid = s.uid AND d.day >= s.day_lo AND d.day < s.day_hi
              AND d.day >= {int(day_lo)} AND d.day < {int(day_hi)}"""
    )
    con.execute("INSERT INTO rollups_daily SELECT * FROM rollup_days_ready")
    con.execute("INSERT INTO rollups SELECT * FROM rollup_slots_ready")
    for table in PREPARED:
        con.execute(f"DROP TABLE {table}")


def _names(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The parameters of :data:`_NAMES`: the known categories and the refresh's organizations."""
    return {
        "known": list(sources.CATEGORIES),
        "orgs": [
            row[0] for row in con.execute("SELECT org FROM rollup_orgs ORDER BY oid").fetchall()
        ],
    }


def _share(con: duckdb.DuckDBPyConnection) -> None:
    """``rollup_shared``: the computed slots, one row where it stands for every filter.

    A user's slot whose rows under the four filters it meets (any category
    or its one, all organizations or its one) are equal, and that has no
    other category or organization, is one row: its category, organization
    and ``single`` true. Any other slot is its rows under each filter,
    ``single`` false. Which it is follows from the slot's numbers only, so
    a store's rows do not depend on how its events were ingested.

    Columns: ``slot``, ``cid``, ``oid``, ``uid``, ``n``, ``duration``, ``single``.
    A user with one category and one organization throughout the refresh
    has only single slots; for another, the rows computed for a slot are
    (0, 0), and (c, 0) for each category unless one, (0, o) for each
    organization unless one, (c, o) unless either is one (see
    :func:`_labelled`): the slot is single when there are that many, equal,
    of one category and one organization.
    """
    slots = """SELECT c.*, p.one_cid, p.one_oid
               FROM rollup_computed c JOIN rollup_plans p USING (uid)
               WHERE c.n > 0 OR c.duration > 0"""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rollup_kinds AS
            SELECT uid, slot, max(n) AS n, max(duration) AS duration,
                   CASE WHEN one_cid > 0 THEN one_cid ELSE max(cid) END AS cid,
                   CASE WHEN one_oid > 0 THEN one_oid ELSE max(oid) END AS oid,
                   count(*) = (CASE WHEN one_cid > 0 THEN 1 ELSE 2 END)
                              * (CASE WHEN one_oid > 0 THEN 1 ELSE 2 END)
                   AND min(n) = max(n) AND min(duration) = max(duration)
                   AND (one_cid > 0 OR (max(cid) > 0 AND min(cid) FILTER (cid > 0) = max(cid)))
                   AND (one_oid > 0 OR (max(oid) > 0 AND min(oid) FILTER (oid > 0) = max(oid)))
                       AS single
            FROM ({slots}) WHERE one_cid = 0 OR one_oid = 0
            GROUP BY uid, slot, one_cid, one_oid"""
    )
    mixed = """SELECT c.* FROM rollup_computed c
               SEMI JOIN (SELECT uid, slot FROM rollup_kinds WHERE NOT single) k USING (uid, slot)
               WHERE c.n > 0 OR c.duration > 0"""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rollup_shared AS
            SELECT slot, one_cid AS cid, one_oid AS oid, uid, n, duration, true AS single
            FROM ({slots}) WHERE one_cid > 0 AND one_oid > 0
            UNION ALL
            SELECT slot, cid, oid, uid, n, duration, true FROM rollup_kinds WHERE single
            UNION ALL
            SELECT slot, cid, oid, uid, n, duration, false FROM ({_labelled(mixed)})"""
    )
    con.execute("DROP TABLE rollup_kinds")


#: SQL: the names of the keys ``cid`` and ``oid`` (parameters ``$known`` and ``$orgs``).
_NAMES = """CASE WHEN cid > 0 THEN $known[cid] END AS category,
            CASE WHEN oid > 0 THEN $orgs[oid] END AS org"""


def _labelled(computed: str) -> str:
    """SQL: the rows of ``computed`` under every filter they stand for.

    ``computed`` has the columns of ``rollup_computed``. Rows of (any
    category) stand for the user's one category too, if any; rows of (all
    orgs) for the user's one organization. Columns: ``slot``, ``uid``,
    ``n``, ``duration``, and the keys ``cid``, ``oid`` (see :data:`_NAMES`).
    """
    return f"""
        WITH computed AS ({computed}),
        by_category AS (
            SELECT c.* EXCLUDE (cid),
                   unnest(CASE WHEN c.cid = 0 AND u.one_cid > 0 THEN [0, u.one_cid]
                               ELSE [c.cid] END) AS cid,
                   u.one_oid
            FROM computed c JOIN rollup_plans u USING (uid)
        )
        SELECT slot, uid, n, duration, cid,
               unnest(CASE WHEN oid = 0 AND one_oid > 0 THEN [0, one_oid] ELSE [oid] END) AS oid
        FROM by_category"""
