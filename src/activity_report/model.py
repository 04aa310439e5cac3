"""The report's dataclasses and their Activity-API-shaped JSON.

The JSON's shape, order and units are stated in docs/semantics.md, "The JSON".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring as _string
from typing import Any, TypeVar

import orjson

NS_PER_US = 1_000
T = TypeVar("T")
#: A run's check (:meth:`.resources.RunContext.check`): raises once the run is cancelled.
Check = Callable[[], None]
_CHECK_EVERY = 1024  # items between two checks: a cancel is seen within milliseconds


def checked(items: Iterable[T], check: Check | None) -> Iterable[T]:
    """``items``, calling ``check`` every so often: a long loop in Python ends on a cancel."""
    return items if check is None else _checking(items, check)


def _checking(items: Iterable[T], check: Check) -> Iterator[T]:
    for index, item in enumerate(items):
        if not index % _CHECK_EVERY:
            check()
        yield item


@dataclass(frozen=True)
class UserInfo:
    """A user as the directory knows them."""

    id: str
    name: str | None = None
    username: str | None = None
    roles: tuple[str, ...] = ()
    avatar_hash: str | None = None


@dataclass(frozen=True)
class UserActivity:
    user_id: str
    duration: int  # nanoseconds
    count: int


@dataclass(frozen=True)
class Bucket:
    time: datetime  # aware, in the report's zone
    duration: int  # nanoseconds
    user_activity: tuple[UserActivity, ...]
    #: Fewer active users than ``--min-users``: its users and counts are not shown.
    withheld: bool = False


@dataclass(frozen=True)
class UserTotal:
    user: UserInfo
    total_count: int
    total_duration: int  # nanoseconds


@dataclass(frozen=True)
class ReportMeta:
    """What was asked, for the human-facing summaries."""

    start: datetime
    end: datetime
    interval: str
    category: str
    orgs: tuple[str, ...] = ()
    tz: str = "UTC"
    #: How to show ``orgs``: each one's name where a directory has it, else its id.
    org_labels: tuple[str, ...] = ()

    @property
    def org_shown(self) -> tuple[str, ...]:
        return self.org_labels or self.orgs


@dataclass(frozen=True)
class Report:
    activity: tuple[Bucket, ...]
    users: tuple[UserTotal, ...]
    meta: ReportMeta | None = None
    notes: tuple[str, ...] = field(default=())
    #: ``--min-users``: buckets with fewer active users are withheld (:mod:`.pseudonyms`).
    min_users: int | None = None

    @property
    def total_duration(self) -> int:
        return sum(u.total_duration for u in self.users)

    @property
    def total_count(self) -> int:
        return sum(u.total_count for u in self.users)


def build_report(
    edges: Sequence[datetime],
    cells: Sequence[tuple[int, str, int, int]],
    directory: Mapping[str, UserInfo],
    meta: ReportMeta | None = None,
    *,
    check: Check | None = None,
) -> Report:
    """Assemble the report from per-(bucket, user) cells ``(bucket, user, count, µs)``.

    Orders follow the Activity API: buckets in time order; users in a bucket by
    duration, then count, descending, then id; the users map likewise by totals.
    ``check`` is called every so often (a cancelled run's raises).
    """
    per_bucket: list[list[UserActivity]] = [[] for _ in edges[:-1]]
    totals: dict[str, list[int]] = {}
    for bucket, user_id, count, duration_us in checked(cells, check):
        if count <= 0 and duration_us <= 0:
            continue
        duration = duration_us * NS_PER_US
        per_bucket[bucket].append(UserActivity(user_id, duration, count))
        total = totals.setdefault(user_id, [0, 0])
        total[0] += count
        total[1] += duration
    activity = tuple(
        Bucket(
            time=start,
            duration=_elapsed_ns(start, end),
            user_activity=tuple(sorted(users, key=lambda u: (-u.duration, -u.count, u.user_id))),
        )
        for start, end, users in checked(zip(edges, edges[1:], per_bucket, strict=False), check)
    )
    users = tuple(
        sorted(
            (
                UserTotal(directory.get(uid, UserInfo(uid)), count, duration)
                for uid, (count, duration) in totals.items()
            ),
            key=lambda u: (-u.total_duration, -u.total_count, u.user.id),
        )
    )
    return Report(activity=activity, users=users, meta=meta)


def _elapsed_ns(start: datetime, end: datetime) -> int:
    """Elapsed time between two instants.

    Both are converted to UTC first: Python subtracts datetimes that share a
    tzinfo by wall clock, which would make a 23-hour DST day 24 hours long.
    """
    delta = end.astimezone(UTC) - start.astimezone(UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * NS_PER_US


def rfc3339(moment: datetime) -> str:
    """RFC 3339 with the moment's own offset, ``Z`` for zero; fractions only when present."""
    offset = moment.utcoffset()
    # isoformat, not strftime: glibc's %Y drops the leading zeros of years before 1000.
    base = moment.replace(tzinfo=None, microsecond=0).isoformat()
    if moment.microsecond:
        base += f".{moment.microsecond:06d}".rstrip("0")
    if offset is None or offset == timedelta(0):
        return base + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{base}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def to_api(report: Report, *, check: Check | None = None) -> dict[str, Any]:
    """The report as the Activity API's JSON object (``check``: as :func:`build_report`'s)."""
    return {
        "activity": [
            {
                "time": rfc3339(bucket.time),
                "duration": bucket.duration,
                "user_activity": [
                    {"user_id": u.user_id, "duration": u.duration, "count": u.count}
                    for u in bucket.user_activity
                ],
                **(_bucket_counts(bucket) if report.min_users is not None else {}),
            }
            for bucket in checked(report.activity, check)
        ],
        "users": {
            total.user.id: {
                "id": total.user.id,
                "name": total.user.name,
                "username": total.user.username,
                "roles": list(total.user.roles),
                "avatar_hash": total.user.avatar_hash,
                "total_count": total.total_count,
                "total_duration": total.total_duration,
            }
            for total in report.users
        },
    }


def _bucket_counts(bucket: Bucket) -> dict[str, Any]:
    """A bucket's own counts, in a report with ``--min-users``: null when withheld."""
    if bucket.withheld:
        return {"withheld": True, "active_users": None, "count": None, "active_duration": None}
    return {
        "withheld": False,
        "active_users": len(bucket.user_activity),
        "count": sum(u.count for u in bucket.user_activity),
        "active_duration": sum(u.duration for u in bucket.user_activity),
    }


def to_json(report: Report, *, check: Check | None = None) -> str:
    """Valid, UTF-8-safe JSON with one trailing newline (``check``: as :func:`build_report`'s).

    Written by orjson, in C: the text :func:`indented_json` writes (that of
    ``json.dumps``), tens of times faster; a server answering many reports
    spent most of its time writing them. Numbers that are not all integers
    (never, by construction) and what orjson refuses (a lone surrogate) are
    left to :func:`indented_json`, which refuses NaN.
    """
    value = to_api(report, check=check)
    if _integers_only(report):
        try:
            return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n"
        except TypeError:  # orjson.JSONEncodeError is one
            pass
    return indented_json(value, check=check) + "\n"


def _integers_only(report: Report) -> bool:
    """Whether every count and duration of ``report`` is an int (a float would be written
    as orjson writes it, not as ``json.dumps`` does, and NaN as null)."""
    return all(
        type(b.duration) is int
        and all(type(u.duration) is int and type(u.count) is int for u in b.user_activity)
        for b in report.activity
    ) and all(type(t.total_count) is int and type(t.total_duration) is int for t in report.users)


def indented_json(value: Any, *, check: Check | None = None) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)``, faster.

    The standard encoder writes indented JSON in pure Python, a small piece at
    a time: about a tenth of a second for a report of 500 users over half a
    year. The same text is written here from strings, integers, None, booleans,
    lists and dicts; anything else goes to ``json.dumps``.
    """
    parts: list[str] = []
    try:
        _indented(value, "\n", parts, check)
    except TypeError:
        return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    return "".join(parts)


def _indented(value: Any, newline: str, parts: list[str], check: Check | None = None) -> None:
    """Append ``value`` as JSON to ``parts``; ``newline`` ends a line and indents the next."""
    kind = type(value)
    if kind is str:
        parts.append(_string(value))
    elif kind is int:
        parts.append(int.__repr__(value))
    elif value is None:
        parts.append("null")
    elif kind is bool:
        parts.append("true" if value else "false")
    elif kind is dict:
        if not value:
            parts.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(key)
            parts.append(separator)
            parts.append(_string(key))
            parts.append(": ")
            _indented(item, inner, parts, check)
            separator = "," + inner
        parts.append(newline + "}")
    elif kind is list:
        if not value:
            parts.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in checked(value, check):
            parts.append(separator)
            _indented(item, inner, parts, check)
            separator = "," + inner
        parts.append(newline + "]")
    else:
        raise TypeError(value)
