"""Interval expressions and the report's bucket edges.

Pure Python: the CLI parses options with it and the engine receives the edges
as plain aware datetimes, so the calendar rules live in one place that can be
tested without a database. The rules users rely on (calendar and elapsed
units, bucket starts, the short last bucket, clock changes) are stated in
docs/semantics.md, "Buckets and zones".

Datetime arithmetic here always goes through UTC. Python compares and subtracts
two datetimes that share a ``tzinfo`` by their wall clocks, ignoring ``fold``,
so on a fall-back day ``02:30+02:00`` and ``02:30+01:00`` would compare equal.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from dateutil.relativedelta import relativedelta

from activity_report.errors import InvalidValue, Notice, TooManyBuckets, UsageError


class Unit(enum.Enum):
    """The units of the interval grammar, smallest first."""

    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True)
class Interval:
    """A bucket length: calendar months and days on the wall clock plus exact time.

    ``unit`` is the largest unit the expression named; the default range is
    floored to it. ``text`` is the normalised form shown in messages.
    """

    months: int = 0
    days: int = 0
    micros: int = 0
    unit: Unit = Unit.DAY
    text: str = ""

    @property
    def is_exact(self) -> bool:
        """True when the interval is elapsed time only, the same length everywhere."""
        return self.months == 0 and self.days == 0

    def __str__(self) -> str:
        return self.text


_UNIT_ORDER = tuple(Unit)
_SECOND_US = 1_000_000
_DAY_US = 86_400 * _SECOND_US

# (months, days, microseconds) in one of each unit.
_SIZES: dict[Unit, tuple[int, int, int]] = {
    Unit.SECOND: (0, 0, _SECOND_US),
    Unit.MINUTE: (0, 0, 60 * _SECOND_US),
    Unit.HOUR: (0, 0, 3600 * _SECOND_US),
    Unit.DAY: (0, 1, 0),
    Unit.WEEK: (0, 7, 0),
    Unit.MONTH: (1, 0, 0),
    Unit.QUARTER: (3, 0, 0),
    Unit.YEAR: (12, 0, 0),
}

_UNIT_NAMES: dict[str, Unit] = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), Unit.SECOND),
    **dict.fromkeys(("m", "min", "minute", "minutes"), Unit.MINUTE),
    **dict.fromkeys(("h", "hr", "hour", "hours"), Unit.HOUR),
    **dict.fromkeys(("d", "day", "days"), Unit.DAY),
    **dict.fromkeys(("w", "wk", "week", "weeks"), Unit.WEEK),
    **dict.fromkeys(("mon", "month", "months"), Unit.MONTH),
    **dict.fromkeys(("q", "quarter", "quarters"), Unit.QUARTER),
    **dict.fromkeys(("y", "yr", "year", "years"), Unit.YEAR),
}

_KEYWORDS: dict[str, Unit] = {
    "hourly": Unit.HOUR,
    "daily": Unit.DAY,
    "weekly": Unit.WEEK,
    "monthly": Unit.MONTH,
    "quarterly": Unit.QUARTER,
    "yearly": Unit.YEAR,
}

_COUNT_UNIT = re.compile(r"([0-9]*)[ \t]*([a-z]+)", re.ASCII)
_ISO = re.compile(
    r"p(?:([0-9]+)y)?(?:([0-9]+)m)?(?:([0-9]+)w)?(?:([0-9]+)d)?"
    r"(?:(t)(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?)?",
    re.ASCII,
)
_ISO_UNITS = (
    Unit.YEAR,
    Unit.MONTH,
    Unit.WEEK,
    Unit.DAY,
    None,  # the 'T' separator
    Unit.HOUR,
    Unit.MINUTE,
    Unit.SECOND,
)

MAX_YEARS = 10_000
# 400 Gregorian years hold 4800 months and 146097 days; lengths are compared in
# units of 1/(4800 * _DAY_US) day so that an average month is a whole number.
_MAX_SCALED_LENGTH = MAX_YEARS * 12 * 146_097 * _DAY_US
_MAX_DIGITS = 20

_INTERVAL_FORMS = (
    "use N UNIT such as '1 week', '90 day', '2h'; a keyword: hourly, daily, weekly, "
    "monthly, quarterly, yearly; or ISO 8601 such as P1W, PT30M"
)
_HEARTBEAT_FORMS = (
    "a heartbeat takes seconds, minutes or hours, such as '1 minute', '30s', '2h' or PT5M"
)
#: The reasons for a length that reads well but is zero or negative ('0s', '-1 week').
_INTERVAL_POSITIVE = "an interval must be longer than zero, such as '1 week' or PT30M"
_HEARTBEAT_POSITIVE = "a heartbeat must be longer than zero, such as '30s' or '1 minute'"

_Parts = Sequence[tuple[int, Unit]]


_MINUTE_M = re.compile(r"\s*[0-9]*\s*M\s*", re.ASCII)


def capital_m_hint(text: str) -> Notice | None:
    """A hint for ``1M``: case is ignored, so it is one minute, not the month it may mean."""
    if _MINUTE_M.fullmatch(text) is None:
        return None
    return Notice(
        "{interval} {text!r} is minutes (m and M are minutes); for months write "
        "'1 mon', monthly or P1M",
        ("interval",),
        {"text": text.strip()},
    )


def parse_interval(text: str, *, param: str = "interval") -> Interval:
    """Parse any form of the interval grammar; an InvalidValue names the parameter otherwise."""
    return _parse(text, param, _INTERVAL_FORMS, _INTERVAL_POSITIVE)


def parse_heartbeat(text: str, *, param: str = "heartbeat") -> Interval:
    """Parse the grammar restricted to exact units.

    A heartbeat is added to an event's instant to get its end, so a calendar
    length, which depends on the zone and the date, has no meaning there.
    """
    interval = _parse(text, param, _HEARTBEAT_FORMS, _HEARTBEAT_POSITIVE)
    if not interval.is_exact:
        raise InvalidValue(param, text, _HEARTBEAT_FORMS)
    return interval


def parse_count_unit(text: str) -> Interval | None:
    """Parse the 'N UNIT' form alone (for 'N UNIT ago'); None for anything else.

    Zero, and lengths over MAX_YEARS, are None too: the caller reports them
    with its own message.
    """
    parts = _count_unit_parts(text.strip().lower())
    if parts is None:
        return None
    interval = _build(parts)
    if interval is None or not _within_limit(interval):
        return None
    return interval


def _parse(text: str, param: str, forms: str, positive: str) -> Interval:
    """``text`` as an interval; ``forms`` says which forms there are, ``positive`` that
    a length written in one of them must be longer than zero."""
    normal = text.strip().lower()
    parts = _parts(normal)
    interval = None if parts is None else _build(parts)
    if interval is None:
        # '0s' and '-1 week' are in a right form: what is wrong is their length.
        negative = normal.startswith("-") and _parts(normal[1:].lstrip()) is not None
        raise InvalidValue(param, text, positive if parts is not None or negative else forms)
    if not _within_limit(interval):
        raise InvalidValue(param, text, f"longer than {MAX_YEARS} years")
    return interval


def _parts(text: str) -> _Parts | None:
    """The (count, unit) parts of a lower-case form of the grammar, or None for no form."""
    return _keyword_parts(text) or _iso_parts(text) or _count_unit_parts(text)


def _keyword_parts(text: str) -> _Parts | None:
    unit = _KEYWORDS.get(text)
    return None if unit is None else [(1, unit)]


def _iso_parts(text: str) -> _Parts | None:
    """Parts of an ISO 8601 duration: ``M`` is months before ``T`` and minutes after."""
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    groups = match.groups()
    date_given = any(groups[:4])
    time_given = any(groups[5:])
    if not (date_given or time_given) or (groups[4] and not time_given):
        return None  # 'P', 'PT' and 'P1DT' name no amount
    return [
        (_to_int(value), unit)
        for value, unit in zip(groups, _ISO_UNITS, strict=True)
        if value is not None and unit is not None
    ]


def _count_unit_parts(text: str) -> _Parts | None:
    match = _COUNT_UNIT.fullmatch(text)
    if match is None:
        return None
    digits, name = match.groups()
    unit = _UNIT_NAMES.get(name)
    if unit is None:
        return None
    return [(_to_int(digits) if digits else 1, unit)]


def _to_int(digits: str) -> int:
    """The count, capped: int() refuses over 4300 digits, and 20 are over the limit anyway."""
    significant = digits.lstrip("0")
    return 10**_MAX_DIGITS if len(significant) > _MAX_DIGITS else int(significant or "0")


def _build(parts: _Parts) -> Interval | None:
    """The interval of the parts, or None when they add up to nothing."""
    named = [(count, unit) for count, unit in parts if count > 0]
    if not named:
        return None
    months = sum(count * _SIZES[unit][0] for count, unit in named)
    days = sum(count * _SIZES[unit][1] for count, unit in named)
    micros = sum(count * _SIZES[unit][2] for count, unit in named)
    largest = max((unit for _, unit in named), key=_UNIT_ORDER.index)
    text = " ".join(_describe(count, unit) for count, unit in named)
    return Interval(months=months, days=days, micros=micros, unit=largest, text=text)


def _describe(count: int, unit: Unit) -> str:
    return f"{count} {unit.value}" + ("" if count == 1 else "s")


def _within_limit(interval: Interval) -> bool:
    scaled = (
        interval.months * 146_097 * _DAY_US
        + interval.days * 4800 * _DAY_US
        + interval.micros * 4800
    )
    return scaled <= _MAX_SCALED_LENGTH


def localise(wall: datetime, tz: tzinfo) -> datetime:
    """The instant a naive wall-clock time names in tz, by the DST rules.

    With ``fold=0`` PEP 495 zones (zoneinfo, dateutil) give an ambiguous time
    its first occurrence, and give a skipped time the offset from before the
    gap, so that the round trip through UTC moves it forward by the gap.
    """
    return _normalise(wall.replace(tzinfo=tz, fold=0), tz)


def _normalise(aware: datetime, tz: tzinfo) -> datetime:
    """The same instant, with the offset and fold that tz really has then."""
    return aware.astimezone(UTC).astimezone(tz)


def step(start: datetime, interval: Interval, k: int, tz: tzinfo) -> datetime:
    """The start of bucket k: start + k x interval, computed from start itself.

    Months and days are added on tz's wall clock (the day clamped to the end of
    the month, so monthly from Jan 31 gives Feb 29, Mar 31, Apr 30), the result
    is localised, and then the exact part is added as elapsed time. k may be
    negative ('3 days ago'). Raises OverflowError or ValueError past year 9999.
    """
    moved = start.astimezone(tz)
    if k and not interval.is_exact:
        calendar = relativedelta(months=k * interval.months, days=k * interval.days)
        moved = localise(moved.replace(tzinfo=None) + calendar, tz)
    exact = timedelta(microseconds=k * interval.micros)
    return (moved.astimezone(UTC) + exact).astimezone(tz)


def bucket_edges(
    start: datetime,
    end: datetime,
    interval: Interval,
    tz: tzinfo,
    *,
    max_buckets: int = 100_000,
    check: Callable[[], None] | None = None,
) -> list[datetime]:
    """[start, e1, ..., end]: the bucket boundaries of the range [start, end).

    Every edge is aware in tz and the list is strictly increasing; the last
    bucket ends at end and so may be short. The count is checked against
    max_buckets before any edge is made, so a huge range fails fast; the
    error (:class:`.errors.TooManyBuckets`) names no limit to raise: a front
    end that has one offers it.
    ``check`` is called every so often (a cancelled run's raises).
    """
    start_utc, end_utc = _utc(start), _utc(end)
    if end_utc <= start_utc:
        raise UsageError(
            "{end} ({end_at}) must be after {start} ({start_at})",
            params=("end", "start"),
            end_at=end.astimezone(tz).isoformat(),
            start_at=start.astimezone(tz).isoformat(),
        )
    count = bucket_count(start, end, interval, tz)
    if count > max_buckets:
        raise TooManyBuckets(count, str(interval), max_buckets)
    edges: list[datetime] = []
    for k in range(count):
        if check is not None and not k % 1024:
            check()
        edge = step(start, interval, k, tz)
        # A day that a zone skips entirely (Pacific/Apia, 2011-12-30) makes two
        # daily steps land on the same instant; that empty bucket is dropped.
        if not edges or _utc(edge) > _utc(edges[-1]):
            edges.append(edge)
    edges.append(end.astimezone(tz))
    return edges


def skipped_buckets(edges: list[datetime], interval: Interval, tz: tzinfo) -> list[datetime]:
    """The wall-clock starts (naive) of the buckets that :func:`bucket_edges` dropped.

    ``edges`` are what it returned. A zone that skips a whole calendar day
    (Pacific/Apia on 2011-12-30) leaves that day's bucket no time at all: its
    start is the next day's. Empty when none was dropped, which the count
    tells cheaply.
    """
    start = edges[0]
    count = bucket_count(start, edges[-1], interval, tz)
    if count == len(edges) - 1:
        return []
    wall = start.astimezone(tz).replace(tzinfo=None)
    skipped = []
    previous = start
    for k in range(1, count):
        edge = step(start, interval, k, tz)
        if _utc(edge) <= _utc(previous):  # step k - 1 named a wall time that never was
            j = k - 1
            skipped.append(wall + relativedelta(months=j * interval.months, days=j * interval.days))
        else:
            previous = edge
    return skipped


def bucket_count(start: datetime, end: datetime, interval: Interval, tz: tzinfo) -> int:
    """The number of buckets in [start, end), start < end: the least n with step(n) >= end.

    Exact intervals by arithmetic; calendar ones by an exponential then a
    binary search, as step() is monotonic in k.
    """
    end_utc = _utc(end)
    if interval.is_exact:
        span = (end_utc - _utc(start)) // timedelta(microseconds=1)
        return -(-span // interval.micros)

    def reaches_end(k: int) -> bool:
        try:
            return _utc(step(start, interval, k, tz)) >= end_utc
        except (OverflowError, ValueError):
            return True  # past year 9999, so past any end

    low, high = 0, 1
    while not reaches_end(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if reaches_end(middle):
            high = middle
        else:
            low = middle
    return high


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)


_EXACT_UNIT_LENGTH: dict[Unit, timedelta] = {
    Unit.SECOND: timedelta(seconds=1),
    Unit.MINUTE: timedelta(minutes=1),
    Unit.HOUR: timedelta(hours=1),
}

_CALENDAR_UNIT_LENGTH: dict[Unit, relativedelta] = {
    Unit.DAY: relativedelta(days=1),
    Unit.WEEK: relativedelta(weeks=1),
    Unit.MONTH: relativedelta(months=1),
    Unit.QUARTER: relativedelta(months=3),
    Unit.YEAR: relativedelta(years=1),
}


def floor_to_unit(instant: datetime, interval: Interval, tz: tzinfo) -> datetime:
    """The last boundary of interval.unit in tz at or before instant.

    Calendar boundaries (day, Monday for week, the 1st, the quarter, Jan 1st)
    are wall-clock midnights localised like step(). Second, minute and hour are
    truncated on the wall clock keeping the instant's own offset, so a time in
    the repeated hour of a fall-back day floors to the start of that same hour.
    """
    local = instant.astimezone(tz)
    if interval.unit in _EXACT_UNIT_LENGTH:
        return _normalise(_truncate(local, interval.unit), tz)
    return localise(_calendar_floor(local.replace(tzinfo=None), interval.unit), tz)


def ceil_to_unit(instant: datetime, interval: Interval, tz: tzinfo) -> datetime:
    """The first boundary of interval.unit in tz at or after instant."""
    floor = floor_to_unit(instant, interval, tz)
    if _utc(floor) == _utc(instant):
        return floor
    unit = interval.unit
    if unit in _EXACT_UNIT_LENGTH:
        return _next_exact_boundary(floor, instant, interval, tz)
    wall = _calendar_floor(instant.astimezone(tz).replace(tzinfo=None), unit)
    return localise(wall + _CALENDAR_UNIT_LENGTH[unit], tz)


def _next_exact_boundary(
    floor: datetime, instant: datetime, interval: Interval, tz: tzinfo
) -> datetime:
    """The first second, minute or hour boundary after instant, floor being the one before.

    floor + 1 hour is the next boundary only while the offset stays put: where
    a zone shifts by half an hour (Australia/Lord_Howe) it falls between two
    boundaries. So probe an exact unit further each time and floor the probe.
    """
    length = _EXACT_UNIT_LENGTH[interval.unit]
    probe = _utc(floor)
    while True:
        probe += length
        boundary = floor_to_unit(probe, interval, tz)
        if _utc(boundary) > _utc(instant):
            return boundary


def _truncate(local: datetime, unit: Unit) -> datetime:
    """local with the fields below unit zeroed; tzinfo and fold are kept."""
    if unit is Unit.SECOND:
        return local.replace(microsecond=0)
    if unit is Unit.MINUTE:
        return local.replace(second=0, microsecond=0)
    return local.replace(minute=0, second=0, microsecond=0)


def _calendar_floor(wall: datetime, unit: Unit) -> datetime:
    """The naive wall-clock start of the day, week, month, quarter or year holding wall."""
    midnight = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit is Unit.WEEK:
        return midnight - timedelta(days=midnight.weekday())
    if unit is Unit.MONTH:
        return midnight.replace(day=1)
    if unit is Unit.QUARTER:
        return midnight.replace(month=(midnight.month - 1) // 3 * 3 + 1, day=1)
    if unit is Unit.YEAR:
        return midnight.replace(month=1, day=1)
    return midnight
