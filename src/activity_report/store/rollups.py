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
are only in the NULL rows). A 15-minute UTC slot lines up with every time
zone offset in use, so calendar buckets in any zone are whole slots.

A report is answered from the rollups when its bucket edges are all slot
edges, the heartbeat is the default, the category is one or any, at most one
organization is asked for, and (any) user filter; else from the events.
Both give the same numbers: the tests hold them equal.

Ingest keeps the table current in its own transaction: for each user with
new events, the slots their coverage touches are computed again from every
stored event of that user that meets them (so coverage crossing a slot edge,
and earlier events next to the new ones, are accounted for).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import sources
from ..engine import Cell, Filters

if TYPE_CHECKING:
    import duckdb

SLOT_US = 15 * 60 * 1_000_000
HEARTBEAT_US = 60 * 1_000_000

TABLE = """CREATE TABLE rollups (
    slot BIGINT NOT NULL,
    category VARCHAR,
    org VARCHAR,
    user_id VARCHAR NOT NULL,
    count BIGINT NOT NULL,
    duration BIGINT NOT NULL
)"""


def _floor(x: str) -> str:
    """SQL: ``x`` floored to its slot's start (also for times before 1970)."""
    return f"({x} - ((({x}) % {SLOT_US}) + {SLOT_US}) % {SLOT_US})"


def refresh(con: duckdb.DuckDBPyConnection, scope: str) -> None:
    """Compute again the rollup rows of the users and time ranges in ``scope``.

    ``scope`` is a relation with columns ``user_id``, ``lo`` and ``hi``
    (microseconds): every slot of the user that meets ``[lo, hi)`` is
    replaced. Runs inside the caller's transaction.
    """
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE rollup_scope AS
            SELECT user_id, row_number() OVER () AS uid, {_floor("min(lo)")} AS lo,
                   {_floor("max(hi) - 1")} + {SLOT_US} AS hi
            FROM ({scope}) GROUP BY user_id"""
    )
    con.execute(
        """DELETE FROM rollups r USING rollup_scope s
           WHERE r.user_id = s.user_id AND r.slot >= s.lo AND r.slot < s.hi"""
    )
    known = {"known": list(sources.CATEGORIES), "heartbeat": HEARTBEAT_US}
    con.execute(
        f"""INSERT INTO rollups
        WITH hits AS (
            SELECT e.user_id, s.uid, e.ts, coalesce(e.end_us, e.ts + $heartbeat) AS te,
                   e.category, list_position($known, e.category) AS cid, e.org, s.lo, s.hi
            FROM events e JOIN rollup_scope s USING (user_id)
            WHERE list_contains($known, e.category)
              AND e.ts < s.hi AND (coalesce(e.end_us, e.ts + $heartbeat) > s.lo OR e.ts >= s.lo)
        ),
        -- Integer keys for the window's partitions: sorting them is far cheaper than text.
        orgs AS (
            SELECT org, row_number() OVER () AS oid
            FROM (SELECT DISTINCT org FROM hits WHERE org IS NOT NULL)
        ),
        by_category AS (
            SELECT * EXCLUDE (category, cid),
                   unnest([NULL, category]) AS category, unnest([0, cid]) AS cid
            FROM hits
        ),
        keyed AS (
            SELECT k.* EXCLUDE (org),
                   unnest(CASE WHEN k.org IS NULL THEN [NULL] ELSE [NULL, k.org] END) AS org,
                   unnest(CASE WHEN k.org IS NULL THEN [0] ELSE [0, o.oid] END) AS oid
            FROM by_category k LEFT JOIN orgs o ON o.org = k.org
        ),
        pieces AS (
            SELECT user_id, category, org, lo, hi, ts, te,
                   max(te) OVER (PARTITION BY uid, cid, oid ORDER BY ts, te
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
            FROM keyed
        ),
        spans AS (
            SELECT user_id, category, org,
                   greatest(ts, coalesce(reach, ts), lo) AS a, least(te, hi) AS b
            FROM pieces
        ),
        spans_in_slots AS (
            SELECT user_id, category, org, a, b,
                   {_floor("a")} AS first_slot, {_floor("b - 1")} AS last_slot
            FROM spans WHERE b > a
        ),
        -- Most pieces lie inside one slot; only the others are cut at slot edges.
        durations AS (
            SELECT first_slot AS slot, user_id, category, org, sum(b - a) AS duration
            FROM spans_in_slots WHERE first_slot = last_slot
            GROUP BY ALL
            UNION ALL
            SELECT slot, user_id, category, org,
                   sum(least(b, slot + {SLOT_US}) - greatest(a, slot)) AS duration
            FROM (SELECT user_id, category, org, a, b,
                         unnest(range(first_slot, b, {SLOT_US})) AS slot
                  FROM spans_in_slots WHERE first_slot < last_slot)
            GROUP BY ALL
        ),
        counts AS (
            SELECT {_floor("ts")} AS slot, user_id, category, org, count(*) AS n
            FROM keyed WHERE ts >= lo AND ts < hi
            GROUP BY ALL
        )
        SELECT slot, category, org, user_id, sum(n), sum(duration)
        FROM (SELECT slot, user_id, category, org, n, 0 AS duration FROM counts
              UNION ALL
              SELECT slot, user_id, category, org, 0 AS n, duration FROM durations)
        GROUP BY ALL""",
        known,
    )
    con.execute("DROP TABLE rollup_scope")


def answerable(edges: Sequence[int], filters: Filters, heartbeat_us: int) -> bool:
    """Whether the rollups give exactly what the events would."""
    categories = set(filters.categories)
    return (
        heartbeat_us == HEARTBEAT_US
        and all(edge % SLOT_US == 0 for edge in edges)
        and (categories == set(sources.CATEGORIES) or len(categories) == 1)
        and (filters.orgs is None or len(filters.orgs) == 1)
    )


def cells(con: duckdb.DuckDBPyConnection, edges: Sequence[int], filters: Filters) -> list[Cell]:
    """Counts and durations per bucket and user, from the rollups (see :func:`answerable`)."""
    categories = list(filters.categories)
    params: dict[str, object] = {
        "edges": list(edges),
        "category": None if set(categories) == set(sources.CATEGORIES) else categories[0],
        "org": None if filters.orgs is None else filters.orgs[0],
        "start": edges[0],
        "end": edges[-1],
    }
    users = ""
    if filters.users is not None:
        users = "AND list_contains($users, r.user_id)"
        params["users"] = list(filters.users)
    rows = con.execute(
        f"""WITH buckets AS (
                SELECT i - 1 AS bucket, $edges[i] AS lo, $edges[i + 1] AS hi
                FROM range(1, len($edges)) t(i)
            )
            SELECT k.bucket, r.user_id, sum(r.count), sum(r.duration)
            FROM rollups r JOIN buckets k ON r.slot >= k.lo AND r.slot < k.hi
            WHERE r.category IS NOT DISTINCT FROM $category
              AND r.org IS NOT DISTINCT FROM $org
              AND r.slot >= $start AND r.slot < $end {users}
            GROUP BY ALL
            ORDER BY 1, 2""",
        params,
    ).fetchall()
    return [Cell(int(b), str(u), int(n), int(d)) for b, u, n, d in rows if n or d]
