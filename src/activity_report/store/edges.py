"""Any range from the rollups: whole slots from them, the slots an edge cuts from the events.

A report's buckets need not start on a slot edge ("the last 7 days" from
now). Its range is cut at every bucket edge and at both ends of every slot
an edge falls inside, into pieces of three kinds:

* runs of whole UTC days, summed from ``rollups_daily``;
* runs of whole slots, summed from ``rollups``;
* a piece of one slot (an edge cuts the slot), computed from the events.

A piece lies in one bucket, and the pieces of a bucket are disjoint, so a
user's count and active time in the bucket are the sums over its pieces:
the union of the user's coverages cut by disjoint pieces adds up, the count
of events by the piece their time lies in. A whole slot's rollup is the
union of the user's coverages inside that slot; a cut piece ``[a, b)``
sorts the events that meet its slot by start and adds, for each, the part of
``[max(ts, a), min(end, b))`` past the furthest end before it (the union
without islands, as :mod:`.engine` does). The events read are those near
the cut slots: a scan whose time bounds skip every other row group (events
are stored in about the order they happened), and the sessions that reach
into a cut slot from before it.

Used where :func:`.rollups.answerable` accepts the filter and heartbeat;
with more cut slots than :data:`MAX_CUT_SLOTS` (buckets shorter than a slot,
off its edges) the events answer the whole report.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .. import engine
from ..backends.protocol import Cell, Filters
from .rollups import DAY_US, HEARTBEAT_US, SLOT_US, filter_sql

if TYPE_CHECKING:
    import duckdb

#: More slots cut by an edge than this: the report is left to the events.
MAX_CUT_SLOTS = 200


def _floor(x: int, unit: int) -> int:
    return x - x % unit  # Python's % floors, also before 1970


def _ceil(x: int, unit: int) -> int:
    return -_floor(-x, unit)


@dataclass
class Plan:
    """The pieces of a range: each ``(lo, hi, bucket)``."""

    days: list[tuple[int, int, int]] = field(default_factory=list)
    slots: list[tuple[int, int, int]] = field(default_factory=list)
    cut: list[tuple[int, int, int]] = field(default_factory=list)  # inside one slot

    @property
    def cut_slots(self) -> list[int]:
        """The slots an edge cuts (their starts), in order."""
        return sorted({_floor(lo, SLOT_US) for lo, _, _ in self.cut})


def plan(edges: Sequence[int]) -> Plan | None:
    """The pieces of the buckets ``edges`` bound, or None past :data:`MAX_CUT_SLOTS`."""
    lo, hi = edges[0], edges[-1]
    cuts = set(edges)
    for edge in edges:
        if edge % SLOT_US:
            first = _floor(edge, SLOT_US)
            cuts.add(max(first, lo))
            cuts.add(min(first + SLOT_US, hi))
    ordered = sorted(cuts)
    result = Plan()
    for a, b in zip(ordered, ordered[1:], strict=False):
        bucket = bisect_right(edges, a) - 1
        if a % SLOT_US or b % SLOT_US:
            result.cut.append((a, b, bucket))
            continue
        first_day, last_day = _ceil(a, DAY_US), _floor(b, DAY_US)
        if first_day >= last_day:
            result.slots.append((a, b, bucket))
            continue
        if a < first_day:
            result.slots.append((a, first_day, bucket))
        result.days.append((first_day, last_day, bucket))
        if last_day < b:
            result.slots.append((last_day, b, bucket))
    if len(result.cut_slots) > MAX_CUT_SLOTS:
        return None
    return result


def cells(con: duckdb.DuckDBPyConnection, pieces: Plan, filters: Filters) -> list[Cell]:
    """Counts and durations per bucket and user: whole slots and days from the rollups,
    cut slots from the events (see the module's docstring)."""
    sums: dict[tuple[int, str], list[int]] = {}
    for rows in (_rolled(con, pieces, filters), _from_events(con, pieces, filters)):
        for bucket, user, n, duration in rows:
            total = sums.setdefault((int(bucket), str(user)), [0, 0])
            total[0] += int(n)
            total[1] += int(duration)
    return [Cell(b, u, n, d) for (b, u), (n, d) in sorted(sums.items()) if n or d]


def _keys(runs: list[tuple[int, int, int]], column: str, unit: int) -> str:
    """SQL: a relation of (``column``, ``bucket``): every slot or day of ``runs``."""
    values = ", ".join(f"({lo}, {hi}, {bucket})" for lo, hi, bucket in runs)
    return f"""SELECT bucket, unnest(range(lo, hi, {unit})) AS {column}
               FROM (VALUES {values}) v(lo, hi, bucket)"""


def _rolled(
    con: duckdb.DuckDBPyConnection, pieces: Plan, filters: Filters
) -> list[tuple[int, str, int, int]]:
    params: dict[str, object] = {}
    where = filter_sql(filters, params)
    parts = []
    for runs, table, column, unit in (
        (pieces.days, "rollups_daily", "day", DAY_US),
        (pieces.slots, "rollups", "slot", SLOT_US),
    ):
        if not runs:
            continue
        # Literal bounds: the scan skips the row groups outside them by their statistics.
        low, high = min(r[0] for r in runs), max(r[1] for r in runs)
        parts.append(
            f"""SELECT k.bucket, r.uid, r.count, r.duration
                FROM {table} r JOIN ({_keys(runs, column, unit)}) k USING ({column})
                WHERE {where} AND r.{column} >= {low} AND r.{column} < {high}"""
        )
    if not parts:
        return []
    union = " UNION ALL ".join(parts)
    return [
        (int(b), str(u), int(n), int(d))
        for b, u, n, d in con.execute(
            f"""SELECT g.bucket, k.user_id, g.n, g.duration
                FROM (SELECT bucket, uid, sum(count) AS n, sum(duration) AS duration
                      FROM ({union}) GROUP BY ALL) g
                JOIN rollup_users k USING (uid)""",
            params,
        ).fetchall()
    ]


def _from_events(
    con: duckdb.DuckDBPyConnection, pieces: Plan, filters: Filters
) -> list[tuple[int, str, int, int]]:
    """Per bucket and user, the counts and union of the cut pieces, from the events."""
    if not pieces.cut:
        return []
    where, params = engine.filter_sql(filters, valid_only=False)
    slots = pieces.cut_slots
    first, last = slots[0], slots[-1] + SLOT_US
    # The times an event must start in to meet a cut slot as a heartbeat
    # (or as a session starting there), merged into disjoint windows.
    windows: list[list[int]] = []
    for slot in slots:
        if windows and slot - HEARTBEAT_US <= windows[-1][1]:
            windows[-1][1] = slot + SLOT_US
        else:
            windows.append([slot - HEARTBEAT_US, slot + SLOT_US])
    near = " OR ".join(f"(ts >= {lo} AND ts < {hi})" for lo, hi in windows)
    values = ", ".join(f"({i}, {a}, {b}, {bucket})" for i, (a, b, bucket) in enumerate(pieces.cut))
    rows = con.execute(
        f"""WITH near AS (
                SELECT user_id, ts, greatest(coalesce(end_us, ts + $heartbeat), ts) AS te
                FROM events WHERE {where} AND ({near})
                UNION ALL
                -- Sessions that reach into a cut slot from before its window.
                SELECT user_id, ts, end_us AS te
                FROM events
                WHERE {where} AND end_us > {first} AND ts < {last} AND NOT ({near})
            ),
            met AS (
                SELECT user_id, ts, te,
                       unnest(range(greatest(ts - ((ts % {SLOT_US}) + {SLOT_US}) % {SLOT_US},
                                             {first}),
                                    least(greatest(te, ts + 1), {last}), {SLOT_US})) AS slot
                FROM near
            ),
            pieces AS (
                SELECT piece, a, b, bucket, a - ((a % {SLOT_US}) + {SLOT_US}) % {SLOT_US} AS slot
                FROM (VALUES {values}) v(piece, a, b, bucket)
            ),
            meeting AS (
                SELECT p.piece, p.bucket, p.a, p.b, m.user_id, m.ts, m.te
                FROM met m JOIN pieces p USING (slot)
                WHERE m.ts < p.b AND (m.te > p.a OR m.ts >= p.a)
            ),
            added AS (
                SELECT bucket, user_id, ts >= a AS counted,
                       greatest(least(te, b) - greatest(ts, a, coalesce(max(te) OVER (
                           PARTITION BY piece, user_id ORDER BY ts, te
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), a)), 0) AS duration
                FROM meeting
            )
            SELECT bucket, user_id, count(*) FILTER (counted), sum(duration)
            FROM added GROUP BY ALL""",
        params | {"heartbeat": HEARTBEAT_US},
    ).fetchall()
    return [(int(b), str(u), int(n), int(d)) for b, u, n, d in rows]


def active_users(con: duckdb.DuckDBPyConnection, start: int, end: int, filters: Filters) -> int:
    """How many users the rollups show active in the slots that meet ``[start, end)``.

    Exactly the users with an event or coverage in the range when both ends
    are slot edges; else also those active only in the cut slots' parts
    outside it (at most a slot at each end): a bound, read from a day's row
    per user for whole days and a slot's row for the rest.
    """
    lo, hi = _floor(start, SLOT_US), _ceil(end, SLOT_US)
    params: dict[str, object] = {}
    where = filter_sql(filters, params)
    first_day, last_day = _ceil(lo, DAY_US), _floor(hi, DAY_US)
    if first_day >= last_day:
        parts = [f"SELECT uid FROM rollups WHERE {where} AND slot >= {lo} AND slot < {hi}"]
    else:
        parts = [
            f"SELECT uid FROM rollups_daily WHERE {where} "
            f"AND day >= {first_day} AND day < {last_day}",
            f"SELECT uid FROM rollups WHERE {where} AND slot >= {lo} AND slot < {first_day}",
            f"SELECT uid FROM rollups WHERE {where} AND slot >= {last_day} AND slot < {hi}",
        ]
    union = " UNION ALL ".join(parts)
    return int(con.execute(f"SELECT count(DISTINCT uid) FROM ({union})", params).fetchall()[0][0])
