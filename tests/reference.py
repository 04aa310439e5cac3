"""A deliberately simple model of the counting rules, for checking the engine.

Everything is brute force over plain Python lists of integers (microseconds):
no windows, no bucket arithmetic, nothing clever. Each user's coverages are
merged into disjoint intervals, and each merged interval is intersected with
every bucket in turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One valid event: ``end_us`` is None when it has no duration (heartbeat coverage)."""

    ts_us: int
    end_us: int | None
    user: str
    category: str
    org: str | None = None


@dataclass(frozen=True)
class RefFilters:
    categories: Sequence[str]
    orgs: Sequence[str] | None = None
    users: Sequence[str] | None = None


def passes(event: Event, filters: RefFilters) -> bool:
    """The filters of the counting rules (the range test is separate)."""
    if event.category not in filters.categories:
        return False
    if filters.orgs is not None and event.org not in filters.orgs:
        return False
    return filters.users is None or event.user in filters.users


def coverage(event: Event, heartbeat_us: int) -> tuple[int, int]:
    """``[time, time + d)``: end_time, else the heartbeat."""
    end = event.end_us if event.end_us is not None else event.ts_us + heartbeat_us
    return event.ts_us, end


def merge(intervals: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of half-open intervals as sorted, disjoint, non-empty intervals."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def bucket_index(edges: Sequence[int], instant: int) -> int | None:
    """The bucket holding ``instant`` by a linear scan, or None outside the range."""
    for k in range(len(edges) - 1):
        if edges[k] <= instant < edges[k + 1]:
            return k
    return None


def compute(
    events: Sequence[Event],
    edges: Sequence[int],
    filters: RefFilters,
    heartbeat_us: int,
) -> dict[tuple[int, str], tuple[int, int]]:
    """``{(bucket, user): (count, duration_us)}`` for every pair with either above zero."""
    matching = [e for e in events if passes(e, filters)]
    counts: dict[tuple[int, str], int] = {}
    for event in matching:
        k = bucket_index(edges, event.ts_us)
        if k is not None:
            counts[(k, event.user)] = counts.get((k, event.user), 0) + 1
    durations: dict[tuple[int, str], int] = {}
    for user in {e.user for e in matching}:
        union = merge([coverage(e, heartbeat_us) for e in matching if e.user == user])
        for k in range(len(edges) - 1):
            bucket = (edges[k], edges[k + 1])
            total = sum(overlap(piece, bucket) for piece in union)
            if total:
                durations[(k, user)] = total
    return {
        key: (counts.get(key, 0), durations.get(key, 0))
        for key in sorted(counts.keys() | durations.keys())
    }


def union_length_in(
    events: Sequence[Event], user: str, start: int, end: int, heartbeat_us: int
) -> int:
    """The length of the union of one user's coverages clipped to ``[start, end)``."""
    union = merge([coverage(e, heartbeat_us) for e in events if e.user == user])
    return sum(overlap(piece, (start, end)) for piece in union)
