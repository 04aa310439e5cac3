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

Used where :func:`.rollup_answers.answerable` accepts the filter and heartbeat;
with more cut slots than :data:`MAX_CUT_SLOTS` (buckets shorter than a slot,
off its edges) the events answer the whole report.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.compute as pc

from .. import engine, sources
from ..backends.protocol import Filters
from ..model import CellColumns
from . import minute_runs
from .rollup_answers import columns, filter_sql
from .rollups import DAY_US, HEARTBEAT_US, SLOT_US

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


def cells(
    con: duckdb.DuckDBPyConnection,
    pieces: Plan,
    filters: Filters,
    *,
    known: bool = False,
    runs: bool = False,
    spans: bool = True,
) -> CellColumns:
    """Counts and durations per bucket and user: whole slots and days from the rollups,
    cut slots from the events (see the module's docstring), added up as arrays.

    ``known``: every stored event is of a known category, so a report of every
    category tests no event's category. ``runs``: the store has runs of minutes,
    whose minutes near the cut slots are events too. ``spans``: some stored
    event has an end (a session); without, an event meets a slot only from
    its window, and no scan looks for sessions from before it.
    """
    any_category = known and set(filters.categories) == set(sources.CATEGORIES)
    rolled = _rolled(con, pieces, filters)
    cut = _from_events(con, pieces, filters, any_category=any_category, runs=runs, spans=spans)
    if not len(cut):
        return rolled
    users = [*rolled.user_id, *cut.user_id]
    names = sorted(set(users))
    rank = {name: i for i, name in enumerate(names)}
    codes = np.fromiter(map(rank.__getitem__, users), dtype=np.int64, count=len(users))
    keys = np.concatenate([rolled.bucket, cut.bucket]) * len(names) + codes
    # One cell per (bucket, user): the sums of its pieces.
    cell_keys, cell_of = np.unique(keys, return_inverse=True)
    count = np.zeros(len(cell_keys), dtype=np.int64)
    micros = np.zeros(len(cell_keys), dtype=np.int64)
    np.add.at(count, cell_of, np.concatenate([rolled.count, cut.count]))
    np.add.at(micros, cell_of, np.concatenate([rolled.duration_us, cut.duration_us]))
    shown = (count > 0) | (micros > 0)  # a cell with neither events nor time is none
    cell_keys, count, micros = cell_keys[shown], count[shown], micros[shown]
    return CellColumns(
        bucket=cell_keys // len(names),
        user_id=[names[i] for i in (cell_keys % len(names)).tolist()],
        count=count,
        duration_us=micros,
    )


def _keys(runs: list[tuple[int, int, int]], column: str, unit: int) -> str:
    """SQL: a relation of (``column``, ``bucket``): every slot or day of ``runs``."""
    values = ", ".join(f"({lo}, {hi}, {bucket})" for lo, hi, bucket in runs)
    return f"""SELECT bucket, unnest(range(lo, hi, {unit})) AS {column}
               FROM (VALUES {values}) v(lo, hi, bucket)"""


def _rolled(con: duckdb.DuckDBPyConnection, pieces: Plan, filters: Filters) -> CellColumns:
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
        return CellColumns.of(())
    union = " UNION ALL ".join(parts)
    found = con.execute(
        f"""SELECT g.bucket, k.user_id, CAST(g.n AS BIGINT) AS n,
                   CAST(g.duration AS BIGINT) AS duration
            FROM (SELECT bucket, uid, sum(count) AS n, sum(duration) AS duration
                  FROM ({union}) GROUP BY ALL) g
            JOIN rollup_users k USING (uid)""",
        params,
    ).fetchnumpy()
    return columns(found)


def _from_events(
    con: duckdb.DuckDBPyConnection,
    pieces: Plan,
    filters: Filters,
    *,
    any_category: bool = False,
    runs: bool = False,
    spans: bool = True,
) -> CellColumns:
    """Per bucket and user, the counts and union of the cut pieces, from the events.

    One query reads every event that may meet a cut slot, each once
    (:func:`_near`); NumPy finds the pieces each meets (:func:`_met`), sorts
    them by piece, user and start, and adds up what each adds past the
    furthest end before it, inside the piece. The users come back as Arrow's
    dictionary of their ids: the sort is of integers, and only the few
    cells' ids become Python strings.
    """
    if not pieces.cut:
        return CellColumns.of(())
    where, params = engine.filter_sql(filters, valid_only=False, any_category=any_category)
    sql = _near(pieces.cut_slots, where, runs, spans)
    table = con.sql(sql, params=params | {"heartbeat": HEARTBEAT_US}).to_arrow_table()
    if not table.num_rows:
        return CellColumns.of(())
    ts = table.column("ts").to_numpy().astype(np.int64, copy=False)
    te = table.column("te").to_numpy().astype(np.int64, copy=False)
    users = pc.dictionary_encode(table.column("user_id")).combine_chunks()
    codes = users.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    lo = np.asarray([a for a, _, _ in pieces.cut], dtype=np.int64)
    hi = np.asarray([b for _, b, _ in pieces.cut], dtype=np.int64)
    row, piece = _met(ts, te, lo, hi)
    order = np.lexsort((te[row], ts[row], codes[row], piece))
    row, piece = row[order], piece[order]
    swept = _swept(piece, codes[row], ts[row], te[row], lo[piece], hi[piece])
    if swept is None:
        return CellColumns.of(())
    starts, count, micros = swept
    names = users.dictionary.to_pylist()
    buckets = np.asarray([bucket for _, _, bucket in pieces.cut], dtype=np.int64)
    return CellColumns(
        bucket=buckets[piece[starts]],
        user_id=[str(names[code]) for code in codes[row[starts]].tolist()],
        count=count,
        duration_us=micros,
    )


def _met(
    ts: np.ndarray[Any, Any],
    te: np.ndarray[Any, Any],
    lo: np.ndarray[Any, Any],
    hi: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Each event's row once per piece it meets, and that piece's number.

    The pieces ``[lo, hi)`` are disjoint and in order. An event ``[ts, te)``
    meets one when it starts before the piece ends and ends past its start,
    or starts inside it (a zero-length event): ``ts < hi`` and ``max(te,
    ts + 1) > lo``. So the pieces an event meets are consecutive: from the
    first that ends past its start to the last that starts before its end.
    """
    first = np.searchsorted(hi, ts, side="right")
    stop = np.searchsorted(lo, np.maximum(te, ts + 1), side="left")
    n = np.maximum(stop - first, 0)
    row = np.repeat(np.arange(len(ts)), n)
    # Within an event's run of rows, the pieces first, first + 1, ...
    offsets = np.cumsum(n) - n
    piece = first[row] + (np.arange(len(row)) - offsets[row])
    return row, piece


#: Up to this many cut slots are read by a scan of each slot's window and
#: one of the sessions before it; more by two scans in all.
SCANS = 16


def _near(slots: list[int], where: str, runs: bool = False, spans: bool = True) -> str:
    """SQL: ``(user_id, ts, te)`` of every event matching ``where`` that may meet a cut slot,
    each once (``te``: its end, a heartbeat after its start if it has none).

    An event meets a slot as a heartbeat starting in it or a heartbeat
    before it (the slot's window), or as a session starting earlier that
    ends past its start (only if some event has an end: ``spans``). A few
    slots are read by a scan of each window (the windows of adjacent slots
    joined), and for each slot one of the sessions that start between the
    previous slot's window and its own (a session reaching a later slot
    reaches the first slot after its start); their time bounds skip all but
    a row group or two of the events (stored in about the order they
    happened). More slots are read by one scan of all their windows and one
    of the sessions across them: a few hundred scans would cost more to plan
    than to run. The minutes of the runs of minutes (``runs``) are read from
    the runs that overlap the slots' windows, in one scan of the runs: a
    minute lasts a heartbeat, so one that meets a slot starts in its window.
    """
    te = "greatest(coalesce(end_us, ts + $heartbeat), ts) AS te"
    windows = _merged([(slot - HEARTBEAT_US, slot + SLOT_US) for slot in slots])
    meet = " OR ".join(f"(ts < {hi} AND end_us > {lo})" for lo, hi in windows)

    def minutes(near: str) -> list[str]:
        """The runs' minutes ``near`` a cut slot: those in its window."""
        if not runs:
            return []
        return [
            f"""SELECT user_id, ts, end_us AS te
                FROM ({minute_runs.minutes_sql(windows[0][0], windows[-1][1], runs=meet)})
                WHERE {where} AND ({near})"""
        ]

    if len(slots) <= SCANS:
        parts = [
            f"SELECT user_id, ts, {te} FROM events WHERE {where} AND ts >= {lo} AND ts < {hi}"
            for lo, hi in windows
        ]
        after = None  # the end of the previous slot's window
        for slot in slots if spans else ():
            since = "" if after is None else f"ts >= {after} AND "
            if after is None or after < slot - HEARTBEAT_US:
                parts.append(
                    f"""SELECT user_id, ts, end_us AS te FROM events
                        WHERE {where} AND {since}ts < {slot - HEARTBEAT_US} AND end_us > {slot}"""
                )
            after = slot + SLOT_US
        in_windows = " OR ".join(f"(ts >= {lo} AND ts < {hi})" for lo, hi in windows)
        return " UNION ALL ".join([*parts, *minutes(in_windows)])
    # In a slot's window: in the slot, or a heartbeat before it (a heartbeat is
    # shorter than a slot). A list of constants is a hash look-up.
    cut = ", ".join(map(str, slots))
    floor = f"ts - ((ts % {SLOT_US}) + {SLOT_US}) % {SLOT_US}"
    ahead = f"ts + {HEARTBEAT_US} - ((ts + {HEARTBEAT_US}) % {SLOT_US} + {SLOT_US}) % {SLOT_US}"
    near = f"({floor} IN ({cut}) OR {ahead} IN ({cut}))"
    first, last = slots[0], slots[-1] + SLOT_US
    parts = [
        f"""SELECT user_id, ts, {te} FROM events
            WHERE {where} AND ts >= {first - HEARTBEAT_US} AND ts < {last} AND {near}"""
    ]
    if spans:
        parts.append(
            f"""SELECT user_id, ts, end_us FROM events
                WHERE {where} AND end_us > {first} AND ts < {last} AND NOT {near}"""
        )
    return " UNION ALL ".join([*parts, *minutes(near)])


def _merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of sorted ``windows`` as disjoint ranges (overlapping ones joined)."""
    merged: list[tuple[int, int]] = []
    for lo, hi in windows:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _swept(
    piece: np.ndarray[Any, Any],
    users: np.ndarray[Any, Any],
    ts: np.ndarray[Any, Any],
    te: np.ndarray[Any, Any],
    a: np.ndarray[Any, Any],
    b: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
    """Per (piece, user) group of the rows (sorted by piece, user, start; the pieces
    ``[a, b)`` of each row): the group's first row, its count and its union, or None
    for no rows."""
    if not len(piece):
        return None
    first = np.ones(len(piece), dtype=bool)
    first[1:] = (piece[1:] != piece[:-1]) | (users[1:] != users[:-1])
    group = np.cumsum(first) - 1
    # Inside the piece, as offsets from its start (at most a slot): a running
    # maximum of ends over the whole array stays in each group when each
    # group's values are raised above every earlier group's.
    lo = np.clip(ts, a, b) - a
    hi = np.maximum(np.clip(te, a, b) - a, lo)
    raised = group * (SLOT_US + 1) + hi
    reach = np.maximum.accumulate(raised) - group * (SLOT_US + 1)
    before = np.where(first, 0, np.roll(reach, 1))
    added = np.maximum(hi - np.maximum(lo, before), 0)
    starts = np.flatnonzero(first)
    counts = np.add.reduceat((ts >= a).astype(np.int64), starts)
    durations = np.add.reduceat(added, starts)
    return starts, counts.astype(np.int64), durations.astype(np.int64)


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
