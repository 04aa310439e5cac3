"""The values of --tz, --start and --end.

Pure Python, like intervals.py: every bad value becomes a one-line InvalidValue
that names the parameter, the value and the accepted forms. What each value
means to a report is stated in docs/semantics.md, "The range".
"""

from __future__ import annotations

import functools
import os
import re
import zoneinfo
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path

from dateutil import tz as dateutil_tz

from activity_report.errors import InvalidValue
from activity_report.intervals import (
    Interval,
    floor_to_unit,
    localise,
    parse_count_unit,
    step,
)

_TZ_FORMS = "use an IANA name such as Europe/Berlin, an offset such as +05:30, UTC or local"
_INSTANT_FORMS = (
    "use an ISO 8601 date or date-time such as 2022-08-01 or 2022-08-01T09:00:00+02:00, "
    "now, today, yesterday, or 'N UNIT ago' such as '7 days ago'"
)
_OUT_OF_RANGE = "outside the years 1 to 9999"

# '+05:30', '-0330', '+05', '+5', '+5:30', optionally after 'UTC'.
_TZ_OFFSET = re.compile(r"(?:utc)?([+-])([0-9]{2}:?[0-9]{2}|[0-9]{1,2}(?::[0-9]{2})?)", re.ASCII)
_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[t ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?"
    r"(z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?",
    re.ASCII,
)
_AGO = re.compile(r"(.+?)[ \t]+ago", re.ASCII)

_LOCALTIME = Path("/etc/localtime")


def parse_tz(text: str, *, param: str = "tz") -> tzinfo:
    """The report's zone: an IANA name, UTC, a fixed offset or the machine's zone.

    'UTC', 'Z' and a zero offset are datetime.UTC; '+05:30' and 'UTC+05:30'
    are fixed offsets east of UTC (the ISO 8601 sign, not the inverted POSIX
    one of IANA's Etc/GMT+5). IANA names are matched exactly first, then
    ignoring case.
    """
    normal = text.strip()
    lower = normal.lower()
    zone: tzinfo | None
    if lower in ("utc", "z"):
        zone = UTC
    elif lower == "local":
        zone = local_zone()
    elif match := _TZ_OFFSET.fullmatch(lower):
        zone = _fixed_zone(match[1], match[2])
    else:
        zone = _iana_zone(normal)
    if zone is None:
        raise InvalidValue(param, text, _TZ_FORMS)
    return zone


def local_zone() -> tzinfo:
    """The machine's zone, with its full DST rules where they can be found.

    In order: the TZ environment variable when it names an IANA zone (a
    leading ':' is allowed, as POSIX does); the IANA key that /etc/localtime
    links to; the TZif file /etc/localtime itself when it is a copy (common
    in containers); and last dateutil's tzlocal(), which knows only the
    standard and DST offsets the C library reports.
    """
    from_env = os.environ.get("TZ", "").removeprefix(":")
    zone = _zone_by_key(from_env) if from_env else None
    if zone is None and _LOCALTIME.is_symlink():
        # realpath, unlike Path.resolve() in 3.11, does not raise on a link loop.
        _, marker, key = os.path.realpath(_LOCALTIME).rpartition("zoneinfo/")
        zone = _zone_by_key(key) if marker else None
    if zone is None and _LOCALTIME.is_file():
        try:
            with _LOCALTIME.open("rb") as tzif:
                zone = zoneinfo.ZoneInfo.from_file(tzif, key="localtime")
        except (OSError, ValueError):
            zone = None
    return zone if zone is not None else dateutil_tz.tzlocal()


def _fixed_zone(sign: str, digits: str) -> tzinfo | None:
    """A fixed offset; None when the minutes reach 60 or the offset a whole day."""
    offset = _offset(sign, digits)
    return None if offset is None else timezone(offset)


def _offset(sign: str, digits: str) -> timedelta | None:
    """'05:30', '0530', '05' or '5' as a signed timedelta; None past 23:59 or 59 minutes."""
    bare = digits.replace(":", "")
    hours, minutes = (bare, "0") if len(bare) <= 2 else (bare[:-2], bare[-2:])
    if int(minutes) >= 60 or int(hours) >= 24:
        return None
    size = timedelta(hours=int(hours), minutes=int(minutes))
    return -size if sign == "-" else size


def _iana_zone(name: str) -> tzinfo | None:
    zone = _zone_by_key(name)
    if zone is None:
        key = _zone_keys_by_lower_case().get(name.lower())
        zone = None if key is None else _zone_by_key(key)
    return zone


def _zone_by_key(key: str) -> tzinfo | None:
    """ZoneInfo(key), or None for any key it refuses.

    zoneinfo raises ZoneInfoNotFoundError (a KeyError) for unknown names,
    ValueError for paths and bad files, and IsADirectoryError or other
    OSErrors for directories such as 'America'.
    """
    if not key:
        return None
    try:
        return zoneinfo.ZoneInfo(key)
    except (KeyError, ValueError, OSError):
        return None


@functools.cache
def _zone_keys_by_lower_case() -> dict[str, str]:
    return {key.lower(): key for key in zoneinfo.available_timezones()}


def parse_instant(
    text: str, *, tz: tzinfo, now: datetime, param: str, interval: Interval | None = None
) -> datetime:
    """The instant that a --start or --end value names, aware in tz.

    Dates and date-times without an offset are wall-clock time in tz (a time
    skipped by DST moves forward by the gap, an ambiguous one takes its first
    occurrence); with an offset or 'Z' they are that instant. 'today' and
    'yesterday' are midnight on tz's wall clock; 'N UNIT ago' steps back from
    now like a bucket: calendar units on the wall clock, exact units exactly.

    With ``interval`` (the report's), 'now' and 'N UNIT ago' are floored to
    its unit in tz, as the default range is, so that buckets fall on the same
    boundaries on every run; an explicit date or date-time is never moved.
    """
    try:
        instant = _parse_instant(text.strip().lower(), tz, now)
        if instant is not None and interval is not None and _is_relative(text):
            instant = floor_to_unit(instant, interval, tz)
    except ValueError as exc:  # from datetime(): 'day is out of range for month', ...
        raise InvalidValue(param, text, str(exc)) from None
    except OverflowError:
        raise InvalidValue(param, text, _OUT_OF_RANGE) from None
    if instant is None:
        raise InvalidValue(param, text, _INSTANT_FORMS)
    return instant


def _parse_instant(text: str, tz: tzinfo, now: datetime) -> datetime | None:
    if text == "now":
        return now.astimezone(tz)
    if text in ("today", "yesterday"):
        today = now.astimezone(tz).date()
        return _midnight(today if text == "today" else today - timedelta(days=1), tz)
    if match := _AGO.fullmatch(text):
        interval = parse_count_unit(match[1])
        return None if interval is None else step(now, interval, -1, tz)
    if match := _DATE_TIME.fullmatch(text):
        return _date_time(match, tz)
    return None


def _is_relative(text: str) -> bool:
    """'now' or 'N UNIT ago': the values that name a moment of the clock, not a date."""
    lower = text.strip().lower()
    return lower == "now" or _AGO.fullmatch(lower) is not None


def _midnight(day: date, tz: tzinfo) -> datetime:
    return localise(datetime.combine(day, time()), tz)


def _date_time(match: re.Match[str], tz: tzinfo) -> datetime:
    """The instant of a matched ISO 8601 date or date-time; ValueError for a bad field."""
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    wall = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micros,
    )
    if offset is None:
        return localise(wall, tz)
    if offset == "z":
        return wall.replace(tzinfo=UTC).astimezone(tz)
    size = _offset(offset[0], offset[1:])
    if size is None:
        raise ValueError("UTC offset out of range")
    return wall.replace(tzinfo=timezone(size)).astimezone(tz)
