"""What the formats for people (table, markdown, HTML) say about a report.

A range reads as people read dates: a range of whole days names its first
and last day, both included (``2022-08-01 through 2022-08-30`` for the
range ``[2022-08-01, 2022-08-31)``); any other range names its exact start
and end instants (``2022-08-01 09:00 until 2022-08-02 09:00``).

Moments are wall-clock time in the report's zone, only as precise as the
report's edges need: ``2022-08-01`` when every edge is a midnight,
``2022-08-01 09:00`` when one is not, seconds only when an edge has some, and
the UTC offset only when it changes inside the range (a DST switch).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from ..model import Report, UserInfo
from .durations import human

Moment = Callable[[datetime], str]


def edges(report: Report) -> list[datetime]:
    """Every bucket's start, then the range's end; empty for a report without buckets."""
    if not report.activity:
        return []
    last = report.activity[-1]
    elapsed = timedelta(microseconds=last.duration // 1_000)  # exact time, so add in UTC
    end = (last.time.astimezone(UTC) + elapsed).astimezone(last.time.tzinfo)
    return [*(bucket.time for bucket in report.activity), end]


def moment_format(moments: Sequence[datetime]) -> Moment:
    """A formatter as precise as ``moments`` need (see the module's docstring)."""
    if all(m.second == m.microsecond == 0 for m in moments):
        pattern = "%Y-%m-%d %H:%M"
        if all(m.hour == m.minute == 0 for m in moments):
            pattern = "%Y-%m-%d"
    else:
        pattern = "%Y-%m-%d %H:%M:%S"
    with_offset = len({m.utcoffset() for m in moments}) > 1

    def format_moment(moment: datetime) -> str:
        text = moment.strftime(pattern)
        if moment.microsecond and pattern.endswith("%S"):
            text += f".{moment.microsecond:06d}".rstrip("0")
        if with_offset:
            text += " " + _offset(moment)
        return text

    return format_moment


def span(start: datetime, end: datetime) -> str:
    """The range ``[start, end)`` for people (see the module's docstring)."""
    if all(m.hour == m.minute == m.second == m.microsecond == 0 for m in (start, end)):
        last = end.date() - timedelta(days=1)
        if last <= start.date():
            return f"{start:%Y-%m-%d}"
        return f"{start:%Y-%m-%d} through {last:%Y-%m-%d}"
    moment = moment_format([start, end])
    return f"{moment(start)} until {moment(end)}"


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def scope(report: Report, *, shorter: int = 0) -> str:
    """``2022-08-01 through 2022-08-30 UTC, every 1 week, category ide, all organizations``

    ``shorter`` abbreviates, for a line that must fit a width: 1 writes
    "orgs" for "organizations", 2 also drops the word "category".
    """
    meta = report.meta
    org_word = {"organization": "org", "organizations": "orgs"} if shorter >= 1 else {}
    if meta is None:
        what = f"all categories, all {org_word.get('organizations', 'organizations')}"
        zone = "UTC"
        every = ""
    else:
        if meta.category == "any":
            category = "all categories"
        else:
            category = meta.category if shorter >= 2 else f"category {meta.category}"
        noun = "organization" if len(meta.orgs) == 1 else "organizations"
        noun = org_word.get(noun, noun)
        orgs = f"all {noun}" if not meta.orgs else f"{noun} {', '.join(meta.org_shown)}"
        what = f"{category}, {orgs}"
        zone = meta.tz
        every = f", every {meta.interval}"
    points = edges(report)
    if not points:
        return printable(f"No events match ({what}, time zone {zone})")
    return printable(f"{span(points[0], points[-1])} {zone}{every}, {what}")


SHORTEST_SCOPE = 2


def totals(report: Report) -> str:
    """``15 active users, 23,110 events, 16d 0h active time``"""
    users = len(report.users)
    noun = "user" if users == 1 else "users"
    events = report.total_count
    return (
        f"{users} active {noun}, {number(events)} {'event' if events == 1 else 'events'}, "
        f"{human(report.total_duration)} active time"
    )


def withheld(report: Report) -> tuple[str, str, str]:
    """A withheld bucket's users, events and active time (``--min-users K``): ``< K``, withheld."""
    return (f"< {report.min_users}", "withheld", "withheld")


def number(value: int) -> str:
    """Thousands separated by commas: ``23,110``."""
    return f"{value:,}"


def share(part: int, whole: int) -> str:
    """``19.8%`` of the total; ``<0.1%`` for a sliver; ``-`` when there is no total."""
    if whole <= 0:
        return "-"
    percent = 100 * part / whole
    if 0 < percent < 0.05:
        return "<0.1%"
    return f"{percent:.1f}%"


#: Characters that would steer a terminal, not show: C0 and C1 controls (ESC
#: starts an escape sequence), DEL, and the bidirectional overrides.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``).

    Data is shown, never obeyed: a user id holding an escape sequence must
    not recolour, move or clear the reader's terminal.
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def user_label(user: UserInfo) -> str:
    """The user's name, or their id when the directory does not know them."""
    return printable(user.name or user.id)


def username(user: UserInfo) -> str:
    return printable(user.username or "")


def roles(user: UserInfo) -> str:
    return printable(", ".join(user.roles))


def more_users(hidden: int) -> str:
    noun = "user" if hidden == 1 else "users"
    return f"{hidden} more {noun} not shown; --top 0 lists all"
