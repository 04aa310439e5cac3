"""Seats and trends: daily active users, dormant seats and growth accounting.

The figures come from the report itself: the report with one-day buckets in
the request's time zone (:func:`.reporting.run`) lists, for every calendar day,
the users with counted activity that day (events whose time lies in the day,
or whose coverage overlaps it, under the request's filters). Everything else
is computed here from those per-day sets, in plain Python:

* ``active_1d``, ``active_7d``, ``active_30d``, ``active_90d`` of a day D: the
  users active on at least one of the N calendar days ending with D. The
  windows reach before the range's start: the daily report runs over every
  matching event, and the days before the first one are empty.
* ``stickiness``: sum of ``active_1d`` over the days of the range divided by
  the sum of ``active_30d`` (the mean daily users over the mean 30-day users),
  rounded to 4 decimals; null when nobody was active in any 30-day window.
* ``dormant``: every known user (the directory's, and every user with counted
  activity before the end) with no counted activity in the ``dormant_after``
  days ending with the range's end; ``last_active`` is the last day with
  counted activity before the end, or null. Never seen first, then oldest.
* ``growth``, per bucket of the request's interval (whole days only): each
  active user is ``new`` (first activity ever in this bucket), ``retained``
  (active in the previous bucket too) or ``resurrected`` (active before, not
  in the previous bucket); ``churned`` counts those active in the previous
  bucket and not in this one.

The range is whole days in the zone: a start is floored to its day's
midnight and an end raised to the next midnight. Without them, the range runs
from the first matching event's day to the day after the last covered moment.
What the figures look back over stops at the zone's first midnight of the
year 1: there is no time before it, so no activity. At most a million days
(about 2,700 years) are counted, from the earliest day the figures need.
A store answers the daily report from its rollups when the request lines up
with them (see :mod:`.store.rollups`), which the one-day buckets of any zone
with whole quarter-hour offsets do; files and store give the same figures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from . import directory as directory_mod
from . import sources
from .errors import InvalidValue, Notice, UsageError
from .intervals import (
    Interval,
    bucket_count,
    bucket_edges,
    ceil_to_unit,
    floor_to_unit,
    localise,
    parse_interval,
    step,
)
from .model import UserInfo, indented_json, rfc3339
from .pseudonyms import pseudonym
from .query import Query
from .reporting import run

if TYPE_CHECKING:
    from .backends.protocol import EventSource

WINDOWS = (1, 7, 30, 90)
DEFAULT_DORMANT_DAYS = 90
DAY = parse_interval("1 day")
#: The daily report's own bucket limit: it may run over years of history.
_MAX_DAYS = 1_000_000


@dataclass(frozen=True)
class SeatsQuery:
    """The report's query (range, zone, filters; its interval buckets the growth)."""

    query: Query
    dormant_days: int = DEFAULT_DORMANT_DAYS
    growth: bool = False


@dataclass(frozen=True)
class DayFigures:
    day: date
    active_1d: int
    active_7d: int
    active_30d: int
    active_90d: int


@dataclass(frozen=True)
class DormantUser:
    user_id: str
    username: str | None
    name: str | None
    last_active: date | None


@dataclass(frozen=True)
class GrowthBucket:
    time: datetime  # the bucket's start, in the zone
    active: int
    new: int
    retained: int
    resurrected: int
    churned: int


@dataclass(frozen=True)
class Seats:
    days: tuple[DayFigures, ...]
    stickiness: float | None
    dormant: tuple[DormantUser, ...]
    growth: tuple[GrowthBucket, ...] | None = None


@dataclass
class SeatsResult:
    seats: Seats
    diagnostics: sources.Diagnostics
    notes: list[str] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)
    answered_by: str = "events"

    def to_api(self) -> dict[str, Any]:
        return to_api(self.seats)


def parse_dormant_after(text: str, *, param: str = "dormant_after") -> int:
    """``90d``, ``60 days``, ``8 weeks``, ``P30D`` -> a number of days."""
    interval = parse_interval(text, param=param)
    if interval.months or interval.micros or interval.days < 1:
        raise InvalidValue(param, text, "give whole days or weeks, such as 90d or 8 weeks")
    return interval.days


# ---------------------------------------------------------------- the computation


def window_counts(active: Sequence[set[str]], windows: Sequence[int] = WINDOWS) -> list[list[int]]:
    """For each day i and window N: the users active on one of the days i-N+1 .. i.

    ``active[i]`` holds the users active on day i. A user active on day d is
    counted on days d .. d+N-1; each user's runs are merged, then summed as
    differences, so the cost follows the active user-days, not days x users.
    """
    n = len(active)
    days_of: dict[str, list[int]] = {}
    for i, users in enumerate(active):
        for user in users:
            days_of.setdefault(user, []).append(i)
    result = []
    for width in windows:
        diff = [0] * (n + 1)
        for days in days_of.values():
            run_start, run_end = days[0], days[0] + width  # [start, end) of days counted
            for d in days[1:]:
                if d <= run_end:
                    run_end = d + width
                else:
                    diff[run_start] += 1
                    diff[min(run_end, n)] -= 1
                    run_start, run_end = d, d + width
            diff[run_start] += 1
            diff[min(run_end, n)] -= 1
        counts, total = [], 0
        for i in range(n):
            total += diff[i]
            counts.append(total)
        result.append(counts)
    return result


def stickiness(days: Sequence[DayFigures]) -> float | None:
    """Sum of active_1d over sum of active_30d, 4 decimals; None when the latter is 0."""
    monthly = sum(d.active_30d for d in days)
    return None if monthly == 0 else round(sum(d.active_1d for d in days) / monthly, 4)


def compute(
    history: Sequence[date],
    active: Sequence[set[str]],
    first: int,
    known: Mapping[str, UserInfo],
    dormant_days: int,
    growth_edges: Sequence[int] | None = None,
    growth_times: Sequence[datetime] = (),
) -> Seats:
    """Seats from per-day activity.

    ``history[i]`` is a calendar day and ``active[i]`` its active users; the
    range is ``history[first:]``. ``known`` is the directory (users it lacks
    that were active are known too). ``growth_edges``: indexes into
    ``history`` of the growth buckets' edges (the first is the previous
    bucket's start, the last ``len(history)``).
    """
    counts = window_counts(active)
    days = tuple(
        DayFigures(history[i], *(c[i] for c in counts)) for i in range(first, len(history))
    )
    last: dict[str, int] = {}
    first_seen: dict[str, int] = {}
    for i, users in enumerate(active):
        for user in users:
            last[user] = i
            first_seen.setdefault(user, i)
    cutoff = len(history) - dormant_days  # a day index at or past it is recent
    dormant = [
        DormantUser(
            uid,
            info.username if (info := known.get(uid)) else None,
            info.name if info else None,
            history[last[uid]] if uid in last else None,
        )
        for uid in sorted(set(known) | set(last))
        if uid not in last or last[uid] < cutoff  # cutoff < 0: the history is shorter
    ]
    dormant.sort(key=lambda u: (u.last_active is not None, u.last_active or date.min))
    growth = None
    if growth_edges is not None:
        rows = _growth(active, first_seen, growth_edges)
        growth = tuple(GrowthBucket(t, *row) for t, row in zip(growth_times, rows, strict=True))
    return Seats(days, stickiness(days), tuple(dormant), growth)


def _growth(
    active: Sequence[set[str]], first_seen: Mapping[str, int], edges: Sequence[int]
) -> list[tuple[int, int, int, int, int]]:
    """``(active, new, retained, resurrected, churned)`` per bucket after the first."""
    buckets = [set().union(*active[lo:hi]) for lo, hi in zip(edges, edges[1:], strict=False)]
    rows = []
    for k in range(1, len(buckets)):
        now, before, start = buckets[k], buckets[k - 1], edges[k]
        new = {u for u in now if first_seen[u] >= start}
        retained = (now - new) & before
        rows.append((len(now), len(new), len(retained), len(now - new - before), len(before - now)))
    return rows


# ---------------------------------------------------------------- over a source


def run_seats(request: SeatsQuery, source: EventSource) -> SeatsResult:
    """The seats of ``request`` over ``source`` (open; the caller owns it).

    One daily report over all the matching events (the days from the end on
    are then left out): the windows, the dormancy and "first activity ever"
    all look back from the range, so nothing before it is left out.
    """
    query = request.query
    tz = query.zone.info
    if request.growth:
        _check_growth_interval(query.interval)
    start = None if query.start is None else _first_day(query.start, tz)
    end = None if query.end is None else _end_day(query.end, tz)
    if start is not None and end is not None:
        if end <= start:
            bucket_edges(start, end, DAY, tz)  # raises its usage error
        _check_days(_reach(request, start, end, tz)[0], end, tz)  # before reading the events
    # No bounds: a store then finds the span in its rollups, not by a scan of its events.
    everything = dataclasses.replace(
        query, interval=DAY, start=None, end=None, max_buckets=_MAX_DAYS
    )
    result = run(everything, source)
    directory = source.directory()
    known: Mapping[str, UserInfo] = directory
    if query.users is not None:
        wanted = set(directory_mod.resolve_user_filters(query.users, directory))
        known = {uid: info for uid, info in directory.items() if uid in wanted}
    buckets = [b for b in result.report.activity if end is None or b.time < end]
    meta = result.report.meta
    if not buckets and (start is None or end is None) or meta is None:
        never = tuple(
            DormantUser(uid, u.username, u.name, None) for uid, u in sorted(known.items())
        )
        empty = Seats((), None, never, () if request.growth else None)
        notes = ["no events match the filters; the seats are empty"]
        return SeatsResult(empty, result.diagnostics, notes, result.warnings)
    start = start or meta.start
    end = end or meta.end
    back, previous = _reach(request, start, end, tz)
    first_event = buckets[0].time if buckets else end
    edges = _check_days(min(back, first_event), end, tz, events_from=first_event)
    history = [e.date() for e in edges[:-1]]
    by_day = {b.time.date(): {u.user_id for u in b.user_activity} for b in buckets}
    active = [by_day.get(day, set()) for day in history]
    index = {day: i for i, day in enumerate(history)}
    growth_edges, times = None, []
    if request.growth:
        bounds = bucket_edges(start, end, query.interval, tz, max_buckets=query.max_buckets)
        growth_edges = [index[previous.date()], *(index[e.date()] for e in bounds[:-1])]
        growth_edges.append(len(history))
        times = bounds[:-1]
    seats = compute(
        history, active, index[start.date()], known, request.dormant_days, growth_edges, times
    )
    notes = [] if any(d.active_90d for d in seats.days) else ["no activity in the range"]
    return SeatsResult(seats, result.diagnostics, notes, result.warnings, result.answered_by)


def _first_day(start: datetime, tz: tzinfo) -> datetime:
    """The midnight that starts ``start``'s day in tz; a usage error if that is in the year 0."""
    try:
        return floor_to_unit(start, DAY, tz)
    except OverflowError:  # 0001-01-01 east of UTC
        first = _first_midnight(tz).date().isoformat()
        reason = f"its day starts in the year 0 in UTC; give {first} or later"
        raise InvalidValue("start", start.isoformat(), reason) from None


def _end_day(end: datetime, tz: tzinfo) -> datetime:
    """``end`` raised to the next midnight in tz; a usage error if that is past the year 9999."""
    try:
        return ceil_to_unit(end, DAY, tz)
    except OverflowError:
        reason = (
            "the seats count whole days, and its day ends after the year 9999; "
            "give 9999-12-31 or earlier"
        )
        raise InvalidValue("end", end.isoformat(), reason) from None


def _first_midnight(tz: tzinfo) -> datetime:
    """tz's first midnight that is in the years 1 to 9999 in UTC too.

    1 January of the year 1, or the 2nd east of UTC (the 1st's midnight is in
    the year 0 there).
    """
    try:
        return localise(datetime(1, 1, 1), tz)
    except OverflowError:
        return localise(datetime(1, 1, 2), tz)


def _before(moment: datetime, interval: Interval, k: int, tz: tzinfo) -> datetime:
    """``step(moment, interval, k)`` for k < 0, stopped at tz's first midnight (no time before)."""
    first = _first_midnight(tz)
    try:
        return max(step(moment, interval, k, tz), first)
    except (OverflowError, ValueError):  # before the year 1
        return first


def _reach(
    request: SeatsQuery, start: datetime, end: datetime, tz: tzinfo
) -> tuple[datetime, datetime]:
    """The first day the figures of [start, end) need, and the previous growth bucket's start.

    Far enough back for the first day's windows, the dormancy and (with
    growth) the bucket before the first.
    """
    back = min(
        _before(start, DAY, 1 - max(WINDOWS), tz), _before(end, DAY, -request.dormant_days, tz)
    )
    if not request.growth:
        return back, back
    previous = _before(start, request.query.interval, -1, tz)
    return min(back, previous), previous


def _check_days(
    first: datetime, end: datetime, tz: tzinfo, *, events_from: datetime | None = None
) -> list[datetime]:
    """The midnights from ``first`` to ``end``: a usage error past :data:`_MAX_DAYS`.

    ``events_from``: the first event's day, once known; the days from it on
    are counted whatever the start, so a later start may not be enough.
    """
    count = bucket_count(first, end, DAY, tz)
    if count > _MAX_DAYS:
        later_start = (
            events_from is None
            or events_from >= end
            or bucket_count(events_from, end, DAY, tz) <= _MAX_DAYS
        )
        remedy = "a later {start} or an earlier {end}" if later_start else "an earlier {end}"
        raise UsageError(
            "the seats need {count} days, from {first} to {last}, more than their limit "
            "({limit}); use " + remedy,
            params=("start", "end"),
            count=count,
            first=first.date().isoformat(),
            last=step(end, DAY, -1, tz).date().isoformat(),
            limit=_MAX_DAYS,
        )
    return bucket_edges(first, end, DAY, tz, max_buckets=_MAX_DAYS)


def _check_growth_interval(interval: Interval) -> None:
    if not interval.is_exact and interval.micros == 0:
        return
    raise UsageError(
        "{interval} {value}: growth is counted per whole days; use days, weeks, months, "
        "quarters or years, such as 1 week",
        params=("interval",),
        value=str(interval),
    )


def pseudonymize(seats: Seats, key: bytes) -> Seats:
    """``seats`` naming no one: each dormant user id a pseudonym, names and usernames None.

    The dormant seats keep their order (never seen first, then oldest); those
    of one day are ordered by pseudonym, so the order tells nothing of the ids.
    """
    dormant = sorted(
        (DormantUser(pseudonym(key, u.user_id), None, None, u.last_active) for u in seats.dormant),
        key=lambda u: (u.last_active is not None, u.last_active or date.min, u.user_id),
    )
    return dataclasses.replace(seats, dormant=tuple(dormant))


# ---------------------------------------------------------------- the JSON


def to_api(seats: Seats) -> dict[str, Any]:
    """The seats as JSON: days, stickiness, dormant (and growth when asked)."""
    body: dict[str, Any] = {
        "days": [
            {
                "day": d.day.isoformat(),
                "active_1d": d.active_1d,
                "active_7d": d.active_7d,
                "active_30d": d.active_30d,
                "active_90d": d.active_90d,
            }
            for d in seats.days
        ],
        "stickiness": seats.stickiness,
        "dormant": [
            {
                "user_id": u.user_id,
                "username": u.username,
                "name": u.name,
                "last_active": None if u.last_active is None else u.last_active.isoformat(),
            }
            for u in seats.dormant
        ],
    }
    if seats.growth is not None:
        body["growth"] = [
            {
                "time": rfc3339(g.time),
                "active": g.active,
                "new": g.new,
                "retained": g.retained,
                "resurrected": g.resurrected,
                "churned": g.churned,
            }
            for g in seats.growth
        ]
    return body


def to_json(seats: Seats) -> str:
    """Valid JSON with one trailing newline (floats through ``json``)."""
    return indented_json(to_api(seats)) + "\n"


__all__ = [
    "DEFAULT_DORMANT_DAYS",
    "WINDOWS",
    "DayFigures",
    "DormantUser",
    "GrowthBucket",
    "Seats",
    "SeatsQuery",
    "SeatsResult",
    "compute",
    "parse_dormant_after",
    "pseudonymize",
    "run_seats",
    "stickiness",
    "to_api",
    "to_json",
    "window_counts",
]
