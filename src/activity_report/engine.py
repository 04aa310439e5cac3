"""The SQL that turns canonical events and bucket edges into counts and durations.

All times are integers (microseconds since the epoch, UTC): bucket edges are
computed once in Python, on the report zone's wall clock, and the SQL only
compares and subtracts integers, so a report in Europe/Berlin costs what one
in UTC does.

Counting rules (for users: docs/semantics.md, "Counts and active time"):

* ``count``: matching events whose ``ts`` lies in the bucket;
* ``duration``: the length of the union of the user's coverages
  ``[ts, end)`` intersected with the bucket.

The union is computed without building islands: with a user's events sorted by
start, event *i* adds the part of its coverage past the furthest end of the
events before it, ``[max(ts_i, reach_{i-1}), max(end_i, reach_{i-1}))``. These
pieces are disjoint and their union is the union of the coverages, so their
clipped lengths simply add up.

Two plans compute it:

* the general one (:data:`GENERAL`), for any mix of heartbeats, durations and
  end times: heartbeats' reach is the last heartbeat's end (two ``lag()``
  windows), explicit sessions carry a running maximum of their ends;
* the heartbeat plan (:data:`HEARTBEATS`), when every matching event covers
  exactly the heartbeat ``h`` (a log without end times or durations). Sorted
  by start, event *i* then adds ``[ts_i, min(ts_{i+1}, ts_i + h))``: the part
  of its coverage before the next event starts. Everything of ``[ts_i, ts_i +
  h)`` from ``ts_{i+1}`` on lies in the next coverage, ``[ts_{i+1}, ts_{i+1} +
  h)``, since ``ts_{i+1} >= ts_i``; so these disjoint pieces cover the same
  union, and one ``lead()`` window finds them. Equal starts give empty pieces
  but the last one's, whichever order ties take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .backends.protocol import Cell, Filters

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class BucketLookup:
    """Maps an instant to its bucket index with two list look-ups.

    The range is cut into cells of the narrowest bucket's width. A cell holds
    at most one edge, so a cell's first bucket plus "is the instant past the
    cell's edge" is the bucket. For uniform buckets the cell is the bucket.
    """

    origin: int
    cell: int
    base: list[int]  # bucket index at each cell's start
    split: list[int]  # the edge inside each cell, or a value past every instant

    @property
    def uniform(self) -> bool:
        """Every cell is exactly its bucket: no edge inside a cell and no bucket
        spanning several cells (a 20-minute bucket after a 10-minute one)."""
        return all(s == _NEVER for s in self.split) and all(b == c for c, b in enumerate(self.base))

    @classmethod
    def from_edges(cls, edges: Sequence[int]) -> BucketLookup:
        if len(edges) < 2:
            raise ValueError("a range needs at least two edges")
        widths = [b - a for a, b in zip(edges, edges[1:], strict=False)]
        inner = widths[:-1] or widths
        cell = min(inner)
        origin, end = edges[0], edges[-1]
        cells = -(-(end - origin) // cell)
        base: list[int] = []
        split: list[int] = []
        k = 0
        for c in range(cells):
            start = origin + c * cell
            while k + 1 < len(edges) - 1 and edges[k + 1] <= start:
                k += 1
            base.append(k)
            nxt = edges[k + 1] if k + 1 < len(edges) - 1 else _NEVER
            split.append(nxt if nxt < start + cell else _NEVER)
        return cls(origin, cell, base, split)

    def sql(self, x: str) -> str:
        """A SQL expression giving the bucket of the BIGINT expression ``x``."""
        offset = f"(({x}) - $origin) // $cell"
        if self.uniform:
            return offset
        index = f"{offset} + 1"
        return f"($base[{index}] + CAST(({x}) >= $split[{index}] AS BIGINT))"

    def params(self) -> dict[str, object]:
        params: dict[str, object] = {"origin": self.origin, "cell": self.cell}
        if not self.uniform:
            params |= {"base": self.base, "split": self.split}
        return params

    def bucket_of(self, x: int) -> int:
        """The Python twin of :meth:`sql`, for tests."""
        c = (x - self.origin) // self.cell
        return self.base[c] + (1 if x >= self.split[c] else 0)


_NEVER = 2**62


def filter_sql(
    filters: Filters, *, valid_only: bool = True, any_category: bool = False
) -> tuple[str, dict[str, object]]:
    """SQL over canonical rows: the rows ``filters`` match, and its parameters.

    ``valid_only`` adds ``problem IS NULL``; a store's events are valid by
    construction and have no ``problem`` column. ``any_category`` says that
    every row's category is known to be one of ``filters.categories``, so
    that none is tested.
    """
    clauses = ["problem IS NULL"] if valid_only else []
    params: dict[str, object] = {}
    if not any_category:
        clauses.append("list_contains($categories, category)")
        params["categories"] = list(filters.categories)
    if filters.orgs is not None:
        clauses.append("list_contains($orgs, org)")
        params["orgs"] = list(filters.orgs)
    if filters.users is not None:
        clauses.append("list_contains($users, user_id)")
        params["users"] = list(filters.users)
    return " AND ".join(clauses) or "true", params


#: The view's columns a filter can name, for :func:`values_like`.
FILTER_COLUMNS = ("org", "user_id")


def user_ids(con: duckdb.DuckDBPyConnection, view: str) -> set[str]:
    """Every user id of the events of ``view``."""
    rows = con.execute(f"SELECT DISTINCT user_id FROM {view} WHERE user_id IS NOT NULL")
    return {str(user_id) for (user_id,) in rows.fetchall()}


def values_like(
    con: duckdb.DuckDBPyConnection, view: str, column: str, values: Sequence[str]
) -> set[str]:
    """The values of ``column`` among valid events that equal one of ``values``, ignoring case.

    Tells a filter value that matches nothing from one that differs only in
    case (ids are compared exactly), so a message can name the near miss.
    """
    if column not in FILTER_COLUMNS:
        raise ValueError(f"not a filter column: {column}")
    rows = con.execute(
        f"SELECT DISTINCT {column} FROM {view} "
        f"WHERE problem IS NULL AND list_contains($values, lower({column}))",
        {"values": sorted({v.lower() for v in values})},
    ).fetchall()
    return {str(value) for (value,) in rows}


def data_span(
    con: duckdb.DuckDBPyConnection,
    view: str,
    filters: Filters,
    heartbeat_us: int,
    start_us: int | None = None,
    end_us: int | None = None,
) -> tuple[int, int] | None:
    """The earliest event time and the latest covered moment of matching events.

    The latest moment is at least ``ts + 1`` so that a zero-length event at the
    very end still falls inside ``[start, end)``. A given bound of the range
    narrows "matching" as the counting rules do: with ``start_us`` an event must cover
    or lie past it, with ``end_us`` it must start before it.
    """
    where, params = filter_sql(filters)
    params["heartbeat"] = heartbeat_us
    if start_us is not None:
        where += " AND (coalesce(end_us, ts + $heartbeat) > $start OR ts >= $start)"
        params["start"] = start_us
    if end_us is not None:
        where += " AND ts < $end"
        params["end"] = end_us
    row = con.execute(
        f"""SELECT min(ts), max(greatest(coalesce(end_us, ts + $heartbeat), ts + 1))
            FROM {view} WHERE {where}""",
        params,
    ).fetchall()[0]
    if row[0] is None:
        return None
    return int(row[0]), int(row[1])


#: The plans of :func:`compute` (see the module's docstring).
GENERAL = "general"
HEARTBEATS = "heartbeats"


def compute(
    con: duckdb.DuckDBPyConnection,
    view: str,
    edges: Sequence[int],
    filters: Filters,
    heartbeat_us: int,
    *,
    heartbeats_only: bool | None = None,
    user_ids: Sequence[str] | None = None,
    checked: bool = False,
) -> list[Cell]:
    """Count events and union coverage per bucket and user.

    ``checked`` says that every row of ``view`` is known to be valid and of
    one of ``filters.categories`` (a check of the events found no invalid
    row and no unknown category, and every category is asked for): the
    query then tests neither, which spares it computing each row's problem
    and category.

    ``heartbeats_only`` says whether every matching event covers exactly the
    heartbeat (no end time or duration, or one that equals it): True takes
    the heartbeat plan, which is only right then; False the general plan;
    None (the default) asks the data first, one scan of the matching rows'
    times and ends (:func:`only_heartbeats`).

    The windows partition by a 64-bit hash of the user id: sorting integers
    is several times cheaper than sorting text. Two users whose ids hash
    alike would be merged, so the query also counts such collisions among the
    users it saw, and on any (never seen in practice) the report is computed
    again partitioned by the text itself.
    """
    if heartbeats_only is None:
        heartbeats_only = only_heartbeats(con, view, filters, heartbeat_us)
    plan = HEARTBEATS if heartbeats_only else GENERAL
    names = None if user_ids is None else list(user_ids)
    args = (con, view, edges, filters, heartbeat_us)
    cells, collisions = _compute(*args, USER_KEY, plan, names, checked=checked)
    if collisions:
        cells, _ = _compute(*args, "user_id", plan, names, checked=checked)
    return cells


def only_heartbeats(
    con: duckdb.DuckDBPyConnection, view: str, filters: Filters, heartbeat_us: int
) -> bool:
    """Whether every matching event of ``view`` covers exactly the heartbeat."""
    where, params = filter_sql(filters)
    row = con.execute(
        f"SELECT count(*) FROM {view} WHERE {where} "
        "AND end_us IS NOT NULL AND end_us - ts <> $heartbeat",
        params | {"heartbeat": heartbeat_us},
    ).fetchall()[0]
    return int(row[0]) == 0


#: The expression the windows partition users by (see :func:`compute`).
USER_KEY = "hash(user_id)"


def _compute(
    con: duckdb.DuckDBPyConnection,
    view: str,
    edges: Sequence[int],
    filters: Filters,
    heartbeat_us: int,
    user_key: str,
    plan: str = GENERAL,
    user_ids: list[str] | None = None,
    *,
    checked: bool = False,
) -> tuple[list[Cell], int]:
    lookup = BucketLookup.from_edges(edges)
    where, params = filter_sql(filters, valid_only=not checked, any_category=checked)
    names = f"SELECT DISTINCT user_id FROM {view} WHERE {where}"
    if user_ids is not None:
        names = "SELECT DISTINCT unnest(CAST($user_ids AS VARCHAR[])) AS user_id"
        params["user_ids"] = user_ids
    if plan == HEARTBEATS:
        sql = _heartbeats_sql(view, where, lookup, user_key, names)
    else:
        sql = _general_sql(view, where, lookup, user_key, names)
    params |= lookup.params() | {
        "heartbeat": heartbeat_us,
        "range_start": edges[0],
        "range_end": edges[-1],
        "edges": list(edges),
    }
    rows = con.execute(sql, params).fetchall()
    collisions = int(rows[0][4]) if rows else 0
    return [Cell(int(b), str(u), int(n), int(d)) for b, u, n, d, _ in rows if n or d], collisions


def _heartbeats_sql(view: str, where: str, lookup: BucketLookup, user_key: str, names: str) -> str:
    """The heartbeat plan: one ``lead()`` window feeding one aggregate.

    Rows are grouped by user and by the bucket their piece starts in (a
    piece of an event before the range starts at the range, in bucket 0, and
    that event is not counted). A user's pieces are disjoint, so at most one
    of a group crosses the group's end edge, and it is the one reaching
    furthest: ``max(b)`` past the edge is that piece's overflow, which the
    small second half moves to the buckets it reaches. No row is read twice.
    The names come from ``names`` (a query of ``user_id``s; a narrow scan, or
    the ids the check pass collected): carrying the user id through the
    window would sort text along with every row.
    """
    bucket_a = lookup.sql("a")
    bucket_last = lookup.sql("reach - 1")
    return f"""
        WITH groups AS (
            SELECT {bucket_a} AS bucket, uk,
                   count(*) FILTER (ts >= $range_start) AS n,
                   sum(greatest(b - a, 0)) AS covered,
                   max(b) AS reach
            FROM (
                SELECT uk, ts, greatest(ts, $range_start) AS a,
                       least(ts + $heartbeat, lead(ts) OVER (PARTITION BY uk ORDER BY ts),
                             $range_end) AS b
                FROM (
                    SELECT {user_key} AS uk, ts FROM {view}
                    WHERE {where}
                      AND ts < $range_end
                      AND (ts + $heartbeat > $range_start OR ts >= $range_start)
                )
            )
            GROUP BY ALL
        ),
        cells AS (
            SELECT bucket, uk, n,
                   covered - greatest(reach - $edges[bucket + 2], 0) AS duration
            FROM groups
            UNION ALL
            {_carried("groups", bucket_last)}
        ),
        {_totals_named(user_key, names)}
    """


def _general_sql(view: str, where: str, lookup: BucketLookup, user_key: str, names: str) -> str:
    """The general plan: explicit sessions and heartbeats in any mix.

    Every matching row goes through one window (sorted by user and start)
    and straight into one aggregate, as in the heartbeat plan: rows are
    grouped by user, by the bucket of their start (for ``count``) and by the
    bucket their piece starts in (for ``duration``; a piece starts at or
    after its event). Only the small groups are then regrouped, and the one
    piece of a (bucket, user) that reaches past the bucket's end, the one
    reaching furthest, has its overflow moved on. The rows carry a 64-bit
    user key and integer times only; names come from ``names``.
    """
    bucket_t = lookup.sql("greatest(ts, $range_start)")
    bucket_a = lookup.sql("least(a, b, $range_end - 1)")
    bucket_last = lookup.sql("reach - 1")
    return f"""
        WITH matching AS NOT MATERIALIZED (
            SELECT {user_key} AS uk, ts, end_us
            FROM {view}
            WHERE {where}
              AND ts < $range_end
              AND (coalesce(end_us, ts + $heartbeat) > $range_start OR ts >= $range_start)
        ),
        -- Explicit sessions carry the furthest end among them so far; a
        -- heartbeat carries NULL. Sessions are usually few: a materialised
        -- copy of every matching row would cost more memory than reading
        -- the sessions again costs time.
        coverages AS (
            SELECT uk, ts, ts + $heartbeat AS te, CAST(NULL AS BIGINT) AS reach_so_far
            FROM matching WHERE end_us IS NULL
            UNION ALL
            SELECT uk, ts, end_us AS te, max(end_us) OVER (
                PARTITION BY uk ORDER BY ts, end_us ROWS UNBOUNDED PRECEDING
            ) AS reach_so_far
            FROM matching WHERE end_us IS NOT NULL
        ),
        -- Each coverage adds what lies past the furthest end before it. Among
        -- heartbeats that is the last heartbeat's end (they all last as long);
        -- among sessions, the running maximum carried from the sessions' rows.
        -- Two lag()s are far cheaper than a running max over every row.
        -- Sessions sort by their running maximum, which grows along their own
        -- order: sessions it cannot tell apart start together and either
        -- share their end or lie inside earlier ones, so either order holds.
        pieces AS (
            SELECT uk, ts,
                   greatest(ts, coalesce(reach, ts), $range_start) AS a,
                   least(te, $range_end) AS b
            FROM (
                SELECT uk, ts, te,
                       greatest(
                           lag(CASE WHEN reach_so_far IS NULL THEN ts END IGNORE NULLS)
                               OVER w + $heartbeat,
                           lag(reach_so_far IGNORE NULLS) OVER w
                       ) AS reach
                FROM coverages
                WINDOW w AS (PARTITION BY uk ORDER BY ts, reach_so_far)
            )
        ),
        -- A piece ending before it starts is covered already: it counts its
        -- event, adds nothing, and is placed inside the range so that it never
        -- reads as reaching past its bucket.
        groups AS (
            SELECT {bucket_t} AS counted_in, {bucket_a} AS bucket, uk,
                   count(*) FILTER (ts >= $range_start) AS n,
                   sum(greatest(b - a, 0)) AS covered,
                   max(b) AS reach
            FROM pieces
            GROUP BY ALL
        ),
        spans AS (
            SELECT bucket, uk, sum(covered) AS covered, max(reach) AS reach
            FROM groups GROUP BY ALL
        ),
        cells AS (
            SELECT counted_in AS bucket, uk, n, 0 AS duration FROM groups
            UNION ALL
            SELECT bucket, uk, 0 AS n,
                   covered - greatest(reach - $edges[bucket + 2], 0) AS duration
            FROM spans
            UNION ALL
            {_carried("spans", bucket_last)}
        ),
        {_totals_named(user_key, names)}
    """


def _carried(spans: str, bucket_last: str) -> str:
    """SQL: the overflow of each (bucket, user) span of ``spans`` (columns ``bucket``,
    ``uk``, ``reach``) past its bucket's end, as whole or partial later buckets."""
    return f"""SELECT bucket, uk, 0 AS n,
                   least(reach, $edges[bucket + 2]) - $edges[bucket + 1] AS duration
            FROM (
                SELECT uk, reach, unnest(range(bucket + 1, {bucket_last} + 1)) AS bucket
                FROM {spans} WHERE reach > $edges[bucket + 2]
            )"""


def _totals_named(user_key: str, names: str) -> str:
    """SQL: the end of both plans, from a CTE ``cells``: per bucket and user key, the sums,
    named by ``names``, with the number of user keys that collide."""
    return f"""totals AS (
            SELECT bucket, uk, sum(n) AS n, sum(duration) AS duration FROM cells GROUP BY ALL
        ),
        names AS (
            SELECT {user_key} AS uk, user_id FROM ({names})
        )
        SELECT bucket, user_id, n, duration,
               (SELECT count(*) - count(DISTINCT uk) FROM names) AS collisions
        FROM totals JOIN names USING (uk)
        ORDER BY bucket, user_id"""
