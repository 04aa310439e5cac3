"""The rollups' arithmetic in NumPy: counts and covered time per slot, against a plain loop."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from activity_report import partitions
from activity_report.store import coverage

UNIT = 100
#: A minute, for rows that are runs of minutes: slots and the scopes below are whole minutes.
MINUTE = 10

#: (partition, start, length) of an interval; the partition's scope is (lo, length).
intervals = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(-500, 500),
        st.sampled_from([0, 1, 7, 60, 99, 100, 101, 250, 1000]),
    ),
    min_size=1,
    max_size=60,
)
scopes = st.lists(st.tuples(st.integers(-600, 400), st.integers(1, 1200)), min_size=4, max_size=4)


def expected(
    rows: list[tuple[int, int, int]], scope: list[tuple[int, int]]
) -> dict[Any, list[int]]:
    """Per (partition, slot): events whose time is in the scope, and the union's length there."""
    sums: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for key in {k for k, _, _ in rows}:
        lo, hi = scope[key][0], scope[key][0] + scope[key][1]
        covered: set[int] = set()
        for k, ts, length in rows:
            if k != key:
                continue
            if lo <= ts < hi:
                sums[key, ts // UNIT * UNIT][0] += 1
            covered.update(range(max(ts, lo), min(ts + length, hi)))
        for moment in covered:
            sums[key, moment // UNIT * UNIT][1] += 1
    return {k: v for k, v in sums.items() if v != [0, 0]}


def computed(
    rows: list[tuple[int, int, int]],
    scope: list[tuple[int, int]] | None,
    weights: list[int] | None = None,
) -> dict[Any, list[int]]:
    """What :func:`coverage.slot_sums` gives; a scope of None says that every row is inside.

    ``weights``: each row's (a row of weight w > 1 is w minutes of :data:`MINUTE`).
    """
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1]))
    key = np.array([rows[i][0] for i in order], np.int64)
    ts = np.array([rows[i][1] for i in order], np.int64)
    te = ts + np.array([rows[i][2] for i in order], np.int64)
    weight = None if weights is None else np.array([weights[i] for i in order], np.int64)
    if scope is None:
        sums = coverage.slot_sums(key, ts, te, None, None, UNIT, weight, MINUTE)
    else:
        lo = np.array([scope[k][0] for k in key], np.int64)
        hi = lo + np.array([scope[k][1] for k in key], np.int64)
        sums = coverage.slot_sums(key, ts, te, lo, hi, UNIT, weight, MINUTE)
    # One row per partition and slot, in that order.
    pairs = [(int(key[row]), int(slot)) for row, slot in zip(sums.row, sums.slot, strict=True)]
    assert pairs == sorted(set(pairs))
    out: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for row, slot, n, duration in zip(*sums, strict=True):
        total = out[int(key[row]), int(slot)]
        total[0] += int(n)
        total[1] += int(duration)
    return {k: v for k, v in out.items() if v != [0, 0]}


@settings(max_examples=300, deadline=None)
@given(rows=intervals, scope=scopes)
def test_the_sums_per_slot_are_those_of_the_union_of_each_partition(
    rows: list[tuple[int, int, int]], scope: list[tuple[int, int]]
) -> None:
    assert computed(rows, scope) == expected(rows, scope)


@settings(max_examples=50, deadline=None)
@given(rows=intervals, scope=scopes)
def test_partitions_too_far_apart_for_one_running_maximum_give_the_same_sums(
    rows: list[tuple[int, int, int]], scope: list[tuple[int, int]]
) -> None:
    # Shifting every partition above the ones before it would overflow 63
    # bits: each partition gets its own running maximum.
    with mock.patch.object(coverage, "_FITS", 0.0):
        assert computed(rows, scope) == expected(rows, scope)


@settings(max_examples=100, deadline=None)
@given(rows=intervals)
def test_rows_inside_their_scope_give_the_same_sums_unclipped(
    rows: list[tuple[int, int, int]],
) -> None:
    assert computed(rows, None) == expected(rows, [(-10_000, 20_000)] * 4)


#: (partition, start, length, run): a run starts on a minute and lasts ``length`` minutes.
mixed_rows = st.lists(
    st.tuples(st.integers(0, 3), st.integers(-60, 60), st.integers(1, 35), st.booleans()),
    min_size=1,
    max_size=40,
)
minute_scopes = st.lists(
    st.tuples(st.integers(-60, 40), st.integers(1, 120)).map(
        lambda s: (s[0] * MINUTE, s[1] * MINUTE)
    ),
    min_size=4,
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(rows=mixed_rows, scope=st.one_of(st.none(), minute_scopes))
def test_a_run_of_minutes_counts_each_minute_in_its_own_slot(
    rows: list[tuple[int, int, int, bool]], scope: list[tuple[int, int]] | None
) -> None:
    # A run weighs its minutes and is given whole; the same minutes as events
    # one minute long are the answer. Events among them weigh one.
    given_rows, weights, as_events = [], [], []
    for key, start, length, run in rows:
        if run:
            ts = start * MINUTE
            given_rows.append((key, ts, length * MINUTE))
            weights.append(length)
            as_events += [(key, ts + i * MINUTE, MINUTE) for i in range(length)]
        else:
            given_rows.append((key, start * 7, length * 3))
            weights.append(1)
            as_events.append((key, start * 7, length * 3))
    everywhere = [(-10_000, 20_000)] * 4
    assert computed(given_rows, scope, weights) == expected(as_events, scope or everywhere)


def test_a_session_over_many_slots_is_cut_at_each_edge() -> None:
    rows = [(0, 50, 320), (0, 60, 10), (0, 420, 30)]
    assert computed(rows, [(0, 10_000)] * 4) == {
        (0, 0): [2, 50],
        (0, 100): [0, 100],
        (0, 200): [0, 100],
        (0, 300): [0, 70],
        (0, 400): [1, 30],
    }


def test_no_rows_give_no_sums() -> None:
    empty = np.empty(0, np.int64)
    sums = coverage.slot_sums(empty, empty, empty, empty, empty, UNIT)
    assert all(len(column) == 0 for column in sums)


def test_pieces_split_no_user() -> None:
    uid = np.array([1, 1, 1, 2, 3, 3, 3, 3, 4], np.int32)
    hits = {"uid": uid, "ts": np.arange(len(uid))}
    pieces = coverage.chunks(hits, 2)
    assert [list(p["uid"]) for p in pieces] == [[1, 1, 1], [2], [3, 3, 3, 3], [4]]
    assert np.concatenate([p["ts"] for p in pieces]).tolist() == list(range(len(uid)))


def test_partitions_whose_spans_add_up_past_64_bits_keep_their_own_running_maximum() -> None:
    # Four partitions, each two events 2**61 apart: their spans sum past what
    # an int64 holds, so no shift can stack them; each starts its own maximum.
    step = 2**61
    key = np.repeat(np.arange(4, dtype=np.int64), 2)
    ts = np.tile(np.array([0, step], np.int64), 4)
    te = ts + np.tile(np.array([step + 5, 10], np.int64), 4)
    reach = partitions.reach_before(partitions.starts(key), ts, te)
    assert reach.tolist() == [0, step + 5] * 4
