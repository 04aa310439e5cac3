"""Rollups, first part: the slots of a refresh's users, computed from the events near them.

:func:`compute` fills ``rollup_computed`` (``uid``, ``cid``, ``oid``, ``slot``,
``n``, ``duration``), with ``rollup_orgs`` and ``rollup_plans`` (each user's one
category and organization, if any), for the users and ranges of
``rollup_scope``: DuckDB
gathers the events (and pieces of runs of minutes) that meet each user's
range into ``rollup_hits``, sorts a part of the users at a time, and NumPy
(:mod:`.coverage`) sums each slot's events and the union of their coverage.
:mod:`.rollups` turns those rows into the stored tables.
"""

from __future__ import annotations

import collections
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from .. import sources
from ..backends.protocol import HEARTBEAT_US
from .minute_runs import MINUTE_US

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

SLOT_US = 15 * 60 * 1_000_000
DAY_US = 24 * 60 * 60 * 1_000_000

#: At most about this many events are fetched from DuckDB at once, sorted.
_PART_ROWS = 4_000_000

#: Past this many parts, ``rollup_hits`` is sorted by user once (see :func:`_parts`).
_SCANNED_PARTS = 8

#: NumPy computes a part in pieces of about this many events at most, two at a time
#: (a part of fewer in two pieces, so that both threads work).
_PIECE_ROWS = 1_000_000


def floor(x: str, unit: int = SLOT_US) -> str:
    """SQL: ``x`` floored to its slot's (or ``unit``'s) start, also before 1970."""
    return f"({x} - ((({x}) % {unit}) + {unit}) % {unit})"


def compute(
    con: duckdb.DuckDBPyConnection,
    after: int,
    before: int,
    relation: str = "events",
    runs: str | None = None,
) -> None:
    """Insert the slots of ``rollup_scope`` computed from the events that meet it.

    ``after`` and ``before``: every slot of the scope lies between them.
    ``relation``: the events (the store's, or those and an ingest's new ones);
    ``runs``: the runs of minutes (see :func:`.rollups.prepare`), if any. Each row of
    ``rollup_hits`` weighs ``w`` events: an event 1, a run its minutes (see
    :func:`.coverage.slot_sums`).
    """
    params = {"known": list(sources.CATEGORIES), "heartbeat": HEARTBEAT_US}
    near = f"SELECT *, 1 AS w FROM ({_near(relation, after, before)})"
    # The organizations: those of the runs that meet the range, each a piece or more.
    orgs = f"SELECT user_id, org FROM ({_near(relation, after, before)})"
    if runs is not None:
        near += f" UNION ALL {_runs_near(runs, after, before)}"
        orgs += f""" UNION ALL SELECT user_id, org FROM ({runs})
                     WHERE ts < {before} AND end_us > {after}"""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rollup_orgs AS
            SELECT org, CAST(row_number() OVER () AS INTEGER) AS oid
            FROM (SELECT DISTINCT e.org FROM ({orgs}) e SEMI JOIN rollup_scope s USING (user_id)
                  WHERE e.org IS NOT NULL)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rollup_hits AS
            SELECT s.uid, CAST(list_position($known, e.category) AS TINYINT) AS cid,
                   o.oid, e.ts, e.end_us, CAST(e.w AS INTEGER) AS w
            FROM ({near}) e JOIN rollup_scope s USING (user_id)
            LEFT JOIN rollup_orgs o ON o.org = e.org
            WHERE list_contains($known, e.category)
              AND e.ts < s.hi AND (coalesce(e.end_us, e.ts + $heartbeat) > s.lo OR e.ts >= s.lo)""",
        params,
    )
    # Per user: one category or organization throughout (else 0).
    con.execute(
        """CREATE OR REPLACE TEMP TABLE rollup_plans AS
           SELECT uid, CASE WHEN min(cid) = max(cid) THEN min(cid) ELSE 0 END AS one_cid,
                  CASE WHEN count(oid) = count(*) AND min(oid) = max(oid) THEN min(oid)
                       ELSE 0 END AS one_oid
           FROM rollup_hits GROUP BY uid"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE rollup_computed (
               uid INTEGER, cid TINYINT, oid INTEGER, slot BIGINT, n BIGINT, duration BIGINT)"""
    )
    from . import coverage

    users = coverage.Users(
        con.execute(
            """SELECT p.uid, p.one_cid, p.one_oid, s.lo, s.hi
               FROM rollup_plans p JOIN rollup_scope s USING (uid)"""
        ).fetchnumpy()
    )
    events = int(con.execute("SELECT count(*) FROM rollup_hits").fetchall()[0][0])
    # The users in parts of about _PART_ROWS events, each sorted by DuckDB and
    # fetched at once; NumPy computes a part in pieces, in two threads (it
    # lets go of the GIL), while DuckDB fetches the next part and stores
    # what is done.
    parts = _parts(con, events)
    running: collections.deque[Future[pa.Table]] = collections.deque()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="rollups") as pool:
        try:
            for part in parts:
                hits = con.execute(
                    f"""SELECT uid, cid, coalesce(oid, 0) AS oid, ts,
                               greatest(coalesce(end_us, ts + {HEARTBEAT_US}), ts) AS te, w
                        FROM rollup_hits WHERE {part} ORDER BY uid, ts"""
                ).fetchnumpy()
                rows = len(hits["uid"])
                for piece in coverage.chunks(hits, min(_PIECE_ROWS, -(-rows // 2))):
                    running.append(pool.submit(users.slots, piece, SLOT_US))
                while len(running) > 2 or (running and running[0].done()):
                    _store_computed(con, running.popleft().result())
            while running:
                _store_computed(con, running.popleft().result())
        finally:
            for future in running:
                future.cancel()
    con.execute("DROP TABLE rollup_hits")


def _parts(con: duckdb.DuckDBPyConnection, events: int) -> list[str]:
    """SQL conditions on ``rollup_hits``: its users in parts of about :data:`_PART_ROWS` events.

    Each part is a scan of the table. Up to :data:`_SCANNED_PARTS` parts, the
    users are taken by their number modulo the parts; past it (the table
    then outgrows DuckDB's memory for the refresh, and each scan would read
    back what spilled: parts x events, growing as the square of a bulk load)
    the table is sorted by user once, and each part is a range of user
    numbers, whose scan skips the row groups of the others.
    """
    parts = max(-(-events // _PART_ROWS), 1)
    if parts <= _SCANNED_PARTS:
        return [f"uid % {parts} = {part}" for part in range(parts)]
    con.execute(
        """CREATE OR REPLACE TEMP TABLE rollup_hits_by_user AS
           SELECT * FROM rollup_hits ORDER BY uid"""
    )
    con.execute("DROP TABLE rollup_hits")
    con.execute("ALTER TABLE rollup_hits_by_user RENAME TO rollup_hits")
    counts = con.execute(
        "SELECT uid, count(*) AS n FROM rollup_hits GROUP BY uid ORDER BY uid"
    ).fetchnumpy()
    ranges, first, taken = [], None, 0
    for uid, n in zip(counts["uid"].tolist(), counts["n"].tolist(), strict=True):
        if first is None:
            first = uid
        taken += n
        if taken >= _PART_ROWS:
            ranges.append(f"uid BETWEEN {first} AND {uid}")
            first, taken = None, 0
    if first is not None:
        ranges.append(f"uid >= {first}")
    return ranges


def _near(relation: str, after: int, before: int) -> str:
    """SQL: the events of ``relation`` that may meet a slot between ``after`` and ``before``.

    Those that start in it or a heartbeat before, and those that start
    earlier with an end time past ``after``: two scans with constant bounds,
    so DuckDB skips every row group of a store whose times (or end times) lie
    before them. A nightly ingest then reads the stored events of the last
    days, not of every day the store holds (their blocks would stay in
    DuckDB's cache: its memory would grow with the store).
    """
    columns = "user_id, category, org, ts, end_us"
    edge = after - HEARTBEAT_US
    return f"""SELECT {columns} FROM {relation} WHERE ts >= {edge} AND ts < {before}
               UNION ALL
               SELECT {columns} FROM {relation} WHERE ts < {edge} AND end_us > {after}"""


def _runs_near(runs: str, after: int, before: int) -> str:
    """SQL: the runs of ``runs`` (columns ``user_id``, ``category``, ``org``, ``ts``,
    ``end_us``) that meet ``[after, before)``, whole, each with its minutes ``w``: the
    columns of :func:`_near` and ``w``. NumPy counts each minute in its slot, and
    clips the runs to each user's scope (:func:`.coverage.slot_sums`)."""
    return f"""
        SELECT user_id, category, org, ts, end_us, (end_us - ts) // {MINUTE_US} AS w
        FROM ({runs}) WHERE ts < {before} AND end_us > {after}"""


def _store_computed(con: duckdb.DuckDBPyConnection, computed: pa.Table) -> None:
    """Add the rows of :meth:`.coverage.Users.slots` (one per user, filter and slot) to
    ``rollup_computed``."""
    # A relation, not a registered view: inside a transaction, a dropped view keeps
    # its Python object until the commit. Nor a view of the relation: the default
    # catalog is the store attached read-only while an ingest prepares.
    con.from_arrow(computed).insert_into("rollup_computed")
