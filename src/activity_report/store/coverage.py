"""Counts and covered time per slot, in one sorted pass over NumPy arrays.

The rollups' arithmetic (:mod:`.rollups`), away from SQL: a window function
sorts its rows once per partitioning, and the refresh needs up to four
(any, per category, per organization, both). Here the events arrive sorted
once, by user and time; a filter that splits a user's events (by category,
organization) reorders them with one stable sort of a nearly sorted key,
and each filter is then a handful of linear passes.

A partition's coverage is the union of its events' intervals ``[ts, te)``.
In time order, an event adds what lies past the furthest end before it (a
running maximum that starts again with each partition), clipped to the
partition's scope ``[lo, hi)``; each added piece lies in one slot or is cut
at slot edges. An event counts in the slot of its time, when that time is
inside the scope.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from .. import partitions
from .minute_runs import MINUTE_US

Ints = npt.NDArray[np.int64]

#: Below this, integers are packed into one to sort them (a test lowers it).
_FITS = partitions.FITS


class SlotSums(NamedTuple):
    """Per partition and slot: a row of the partition, the slot's start, events, covered time.

    ``row`` indexes the input arrays (any row of the partition: the caller
    reads its keys there). One row per partition and slot, in that order.
    """

    row: Ints
    slot: Ints
    n: Ints
    duration: Ints


def slot_sums(
    key: Ints,
    ts: Ints,
    te: Ints,
    lo: Ints | None,
    hi: Ints | None,
    unit: int,
    weight: Ints | None = None,
    minute: int = MINUTE_US,
) -> SlotSums:
    """The counts and covered time per slot of ``unit`` microseconds, per partition.

    ``key`` names each row's partition; rows are sorted by ``key``, then
    ``ts``. ``te >= ts`` ends each row's interval; ``lo`` and ``hi`` are its
    partition's scope (the same on all of its rows), or None when every
    row lies inside its scope (``lo <= ts`` and ``te <= hi``, ``ts < hi``).
    A row counts once, in the slot of its ``ts``. ``weight`` (None: 1 each):
    a row of weight ``w > 1`` is a run of ``w`` whole minutes (``minute``
    long, ``te = ts + w * minute``, on minute edges, as slot edges and scopes
    are): each of its minutes that starts in the scope counts once, in its
    own slot.
    """
    if not len(key):
        empty = np.empty(0, np.int64)
        return SlotSums(empty, empty, empty, empty)
    a = partitions.reach_before(partitions.starts(key), ts, te, _FITS)
    np.maximum(a, ts, out=a)
    if lo is None or hi is None:
        b = te
        counted = np.arange(len(ts))
    else:
        np.maximum(a, lo, out=a)
        b = np.minimum(te, hi)
        counted = np.flatnonzero((ts >= lo) & (ts < hi))
    kept = np.flatnonzero(b > a)
    times = _cut(key, kept, a[kept], b[kept], unit)
    del a, b, kept
    runs = _minutes(key, ts, te, lo, hi, unit, weight, minute)
    if weight is not None:
        counted = counted[weight[counted] <= 1]  # the others are runs of minutes
    counts = _runs(key[counted], np.floor_divide(ts[counted], unit) * unit)
    return _summed(
        key,
        SlotSums(
            row=np.concatenate([counted[counts[0]], times.row, runs.row]),
            slot=np.concatenate([counts[1], times.slot, runs.slot]),
            n=np.concatenate([counts[2], np.zeros(len(times.row), np.int64), runs.n]),
            duration=np.concatenate(
                [
                    np.zeros(len(counts[0]), np.int64),
                    times.duration,
                    np.zeros(len(runs.row), np.int64),
                ]
            ),
        ),
        unit,
    )


def _minutes(
    key: Ints,
    ts: Ints,
    te: Ints,
    lo: Ints | None,
    hi: Ints | None,
    unit: int,
    weight: Ints | None,
    minute: int,
) -> SlotSums:
    """The counts per slot of the minutes of the rows that weigh more than one (runs of
    minutes), in the scope: each run cut at slot edges, a piece counting its minutes."""
    rows = np.empty(0, np.int64) if weight is None else np.flatnonzero(weight > 1)
    if not len(rows):
        empty = np.empty(0, np.int64)
        return SlotSums(empty, empty, empty, empty)
    a, b = ts[rows], te[rows]
    if lo is not None and hi is not None:
        a, b = np.maximum(a, lo[rows]), np.minimum(b, hi[rows])
        inside = b > a
        rows, a, b = rows[inside], a[inside], b[inside]
    pieces = _cut(key, rows, a, b, unit)
    return pieces._replace(n=pieces.duration // minute, duration=np.zeros_like(pieces.duration))


def _summed(key: Ints, sums: SlotSums, unit: int) -> SlotSums:
    """``sums`` added up per partition and slot, in that order.

    Its rows come as a few runs already in that order (the counts; the
    covered time of each piece's first slot; the slots past it), which a
    stable sort merges in about linear time.
    """
    if not len(sums.row):
        return sums
    part = key[sums.row]
    step = np.floor_divide(sums.slot - int(sums.slot.min()), unit)
    order = partitions.order(part, step, _FITS, stable=True)
    starts = np.flatnonzero(partitions.starts(part[order], step[order]))
    return SlotSums(
        row=sums.row[order[starts]],
        slot=sums.slot[order[starts]],
        n=np.add.reduceat(sums.n[order], starts),
        duration=np.add.reduceat(sums.duration[order], starts),
    )


def _cut(key: Ints, rows: Ints, a: Ints, b: Ints, unit: int) -> SlotSums:
    """The disjoint pieces ``[a, b)`` of ``rows``, cut at slot edges and summed per slot.

    Each piece adds its first slot's share to that slot (summed over the
    runs of equal partition and slot); the few pieces that reach past it
    add the rest slot by slot. Those shares are each the only one of the
    piece's partition in their slot but for the next piece's start, which
    the caller's sum takes care of.
    """
    first_slot = np.floor_divide(a, unit) * unit
    next_edge = first_slot + unit
    key_of = key[rows]
    starts, slot, _ = _runs(key_of, first_slot)
    head = np.add.reduceat(np.minimum(b, next_edge) - a, starts) if len(starts) else a[:0]
    long = np.flatnonzero(b > next_edge)
    if not len(long):
        return SlotSums(rows[starts], slot, np.zeros(len(starts), np.int64), head)
    edge, end = next_edge[long], b[long]
    pieces = (end - edge + unit - 1) // unit
    index = np.repeat(long, pieces)
    offset = np.arange(len(index)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    tail_slot = np.repeat(edge, pieces) + offset * unit
    tail = np.minimum(b[index], tail_slot + unit) - tail_slot
    return SlotSums(
        np.concatenate([rows[starts], rows[index]]),
        np.concatenate([slot, tail_slot]),
        np.zeros(len(starts) + len(index), np.int64),
        np.concatenate([head, tail]),
    )


def _runs(key: Ints, slot: Ints) -> tuple[Ints, Ints, Ints]:
    """The runs of equal (key, slot) in sorted arrays: their first index, slot, and length."""
    if not len(key):
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(partitions.starts(key, slot))
    return starts, slot[starts], np.diff(np.append(starts, len(key)))


class Users:
    """The users of a refresh, by number: their one category and organization, their scope.

    Made from columns ``uid``, ``one_cid``, ``one_oid`` (0 when the user has
    several), ``lo`` and ``hi``. :meth:`slots` computes some of them.
    """

    def __init__(self, columns: dict[str, Any]) -> None:
        uid = columns["uid"]
        size = int(uid.max()) + 1 if len(uid) else 1
        self.one_cid, self.one_oid, self.lo, self.hi = (np.zeros(size, np.int64) for _ in range(4))
        self.one_cid[uid] = columns["one_cid"]
        self.one_oid[uid] = columns["one_oid"]
        self.lo[uid] = columns["lo"]
        self.hi[uid] = columns["hi"]

    def slots(self, hits: dict[str, Any], unit: int) -> pa.Table:
        """Counts and covered time per filter, user and slot of ``hits``.

        ``hits``: columns ``uid``, ``cid``, ``oid`` (0 for none), ``ts``,
        ``te``, sorted by user, then time, and perhaps ``w``: how many events a
        row counts for (see :func:`slot_sums`). The filters are (any category,
        all organizations), (each category, all), (any, each organization),
        (each, each); a user with one category or organization throughout
        is computed for the broader filter only (its rows stand for both).
        Columns: ``uid``, ``cid``, ``oid`` (0 for any, all), ``slot``, ``n``,
        ``duration``, one row per user, filter and slot.
        """
        uid, cid, oid, ts, te = (hits[k] for k in ("uid", "cid", "oid", "ts", "te"))
        weight = hits.get("w")
        lo: Ints | None = self.lo[uid]
        hi: Ints | None = self.hi[uid]
        if bool((ts >= lo).all() and (ts < hi).all() and (te <= hi).all()):
            lo = hi = None  # nothing to clip: the usual case but at a scope's edges
        several_cids = self.one_cid[uid] == 0
        several_oids = (self.one_oid[uid] == 0) & (oid > 0)
        orgs = int(oid.max()) + 1 if len(oid) else 1
        batches = []
        for rows, by_cid, by_oid in (
            (None, False, False),
            (several_cids, True, False),
            (several_oids, False, True),
            (several_cids & several_oids, True, True),
        ):
            if rows is None:  # every row, already in order
                sums = slot_sums(uid, ts, te, lo, hi, unit, weight)
                at = sums.row
            else:
                index = np.flatnonzero(rows)
                if not len(index):
                    continue
                key = uid[index].astype(np.int64) * 8
                if by_cid:
                    key += cid[index]
                key *= orgs
                if by_oid:
                    key += oid[index]
                # Stable: within a partition, the rows stay in time order.
                order = np.argsort(key, kind="stable")
                index = index[order]
                sums = slot_sums(
                    key[order],
                    ts[index],
                    te[index],
                    None if lo is None else lo[index],
                    None if hi is None else hi[index],
                    unit,
                    None if weight is None else weight[index],
                )
                at = index[sums.row]
            batches.append(
                pa.record_batch(
                    {
                        "uid": uid[at],
                        "cid": cid[at] if by_cid else np.zeros(len(at), cid.dtype),
                        "oid": oid[at] if by_oid else np.zeros(len(at), oid.dtype),
                        "slot": sums.slot,
                        "n": sums.n.astype(np.int32),
                        "duration": sums.duration,
                    }
                )
            )
            del sums, at
        return pa.Table.from_batches(batches) if batches else _EMPTY


_EMPTY = pa.table(
    {
        "uid": pa.array([], pa.int32()),
        "cid": pa.array([], pa.int8()),
        "oid": pa.array([], pa.int32()),
        "slot": pa.array([], pa.int64()),
        "n": pa.array([], pa.int32()),
        "duration": pa.array([], pa.int64()),
    }
)


def chunks(hits: dict[str, Any], rows: int) -> list[dict[str, Any]]:
    """``hits`` (sorted by user) in pieces of about ``rows`` rows that split no user (views)."""
    uid = hits["uid"]
    cuts = [0]
    while len(uid) - cuts[-1] > rows:
        # The first row of the user after the piece's nominal end.
        cut = int(np.searchsorted(uid, uid[cuts[-1] + rows], side="left"))
        if cut <= cuts[-1]:
            cut = int(np.searchsorted(uid, uid[cuts[-1] + rows], side="right"))
        cuts.append(cut)
    cuts.append(len(uid))
    return [
        {name: column[a:b] for name, column in hits.items()}
        for a, b in zip(cuts[:-1], cuts[1:], strict=False)
        if b > a
    ]
