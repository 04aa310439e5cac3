"""The report's dataclasses and their Activity-API-shaped JSON.

The JSON's shape, order and units are stated in docs/semantics.md, "The JSON".

A report's buckets are held as columns (:class:`Buckets`): the JSON is
written from them in bulk, and the :class:`Bucket` and :class:`UserActivity`
objects other formats read are made only when one reads them. A server
writing reports of thousands of cells spent most of its time making objects
for each cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import orjson

from .json_text import Check as Check
from .json_text import checked as checked
from .json_text import indented_json as indented_json

NS_PER_US = 1_000
#: The largest count of microseconds whose nanoseconds an int64 holds (292 years).
_MAX_INT64_US = (2**63 - 1) // NS_PER_US


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
class CellColumns:
    """Cells ``(bucket, user, count, µs)`` as four columns of equal length.

    What a source that counts in bulk gives: no Python object per cell. The
    rows are in any order; a cell with neither events nor time is left out of
    the report.
    """

    bucket: npt.NDArray[np.int64]
    user_id: Sequence[str]
    count: npt.NDArray[np.int64]
    duration_us: npt.NDArray[np.int64]

    @classmethod
    def of(cls, cells: Iterable[tuple[int, str, int, int]]) -> CellColumns:
        """The columns of ``cells``, given as rows."""
        rows = list(cells)
        if not rows:
            none = np.zeros(0, dtype=np.int64)
            return cls(none, [], none, none)
        bucket, user_id, count, micros = zip(*rows, strict=True)
        return cls(
            np.array(bucket, dtype=np.int64),
            list(user_id),
            np.array(count, dtype=np.int64),
            np.array(micros, dtype=np.int64),
        )

    def __len__(self) -> int:
        return len(self.user_id)


@dataclass(frozen=True, eq=False)
class Buckets(Sequence[Bucket]):
    """A report's buckets as columns; the :class:`Bucket` objects are made when first read.

    Bucket ``i`` starts at ``times[i]`` and lasts ``durations[i]`` ns; its
    users are rows ``bounds[i]`` to ``bounds[i + 1]`` of ``user_ids``,
    ``user_durations`` (ns) and ``user_counts``, in the JSON's order. Every number is an
    int (:func:`build_report` makes them so). None is withheld.
    """

    times: tuple[datetime, ...]
    durations: tuple[int, ...]
    bounds: tuple[int, ...]
    user_ids: tuple[str, ...]
    user_durations: tuple[int, ...]
    user_counts: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.times)

    @overload
    def __getitem__(self, index: int) -> Bucket: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Bucket, ...]: ...

    def __getitem__(self, index: int | slice) -> Bucket | tuple[Bucket, ...]:
        return self.objects[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return self.objects == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.objects)

    @cached_property
    def objects(self) -> tuple[Bucket, ...]:
        """The buckets as :class:`Bucket` objects."""
        rows = tuple(map(UserActivity, self.user_ids, self.user_durations, self.user_counts))
        b = self.bounds
        return tuple(
            Bucket(time, duration, rows[b[i] : b[i + 1]])
            for i, (time, duration) in enumerate(zip(self.times, self.durations, strict=True))
        )


@dataclass(frozen=True)
class Report:
    #: The buckets in time order: a :class:`Buckets` (columns), or any sequence of them.
    activity: Sequence[Bucket]
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
    cells: Sequence[tuple[int, str, int, int]] | CellColumns,
    directory: Mapping[str, UserInfo],
    meta: ReportMeta | None = None,
    *,
    check: Check | None = None,
) -> Report:
    """Assemble the report from per-(bucket, user) cells ``(bucket, user, count, µs)``.

    Orders follow the Activity API: buckets in time order; users in a bucket by
    duration, then count, descending, then id; the users map likewise by totals.
    ``check`` is called every so often (a cancelled run's raises). The cells
    are sorted and summed as arrays, not one at a time.
    """
    if check is not None:
        check()
    columns = cells if isinstance(cells, CellColumns) else CellColumns.of(cells)
    bucket, count, micros = columns.bucket, columns.count, columns.duration_us
    users = list(columns.user_id)
    shown = (count > 0) | (micros > 0)
    if not shown.all():
        bucket, count, micros = bucket[shown], count[shown], micros[shown]
        users = [user for user, keep in zip(users, shown.tolist(), strict=True) if keep]
    buckets = len(edges) - 1
    if len(bucket) and (int(bucket.min()) < 0 or int(bucket.max()) >= buckets):
        raise IndexError(f"a cell's bucket is not one of the {buckets} buckets")
    # Users by rank of id: the sort's last key, and the index of the totals.
    names = sorted(set(users))
    rank = {name: i for i, name in enumerate(names)}
    codes = np.fromiter(map(rank.__getitem__, users), dtype=np.int64, count=len(users))
    order = np.lexsort((codes, -count, -micros, bucket))
    bucket, codes, count, micros = bucket[order], codes[order], count[order], micros[order]
    total_count = np.zeros(len(names), dtype=np.int64)
    total_us = np.zeros(len(names), dtype=np.int64)
    np.add.at(total_count, codes, count)
    np.add.at(total_us, codes, micros)
    ranked = np.lexsort((np.arange(len(names)), -total_count, -total_us)).tolist()
    activity = Buckets(
        times=tuple(edges[:-1]),
        durations=tuple(
            _elapsed_ns(start, end)
            for start, end in checked(zip(edges, edges[1:], strict=False), check)
        ),
        bounds=tuple(np.searchsorted(bucket, np.arange(buckets + 1)).tolist()),
        user_ids=tuple(names[i] for i in codes.tolist()),
        user_durations=tuple(_nanoseconds(micros)),
        user_counts=tuple(count.tolist()),
    )
    totals = zip(_nanoseconds(total_us[ranked]), total_count[ranked].tolist(), strict=True)
    user_totals = tuple(
        UserTotal(directory.get(names[i], UserInfo(names[i])), n, duration)
        for i, (duration, n) in zip(ranked, totals, strict=True)
    )
    return Report(activity=activity, users=user_totals, meta=meta)


def _nanoseconds(micros: npt.NDArray[np.int64]) -> list[int]:
    """``micros`` in nanoseconds, as ints (in NumPy unless past what an int64 holds)."""
    if not len(micros) or int(np.abs(micros).max()) <= _MAX_INT64_US:
        return list((micros * NS_PER_US).tolist())
    return [m * NS_PER_US for m in micros.tolist()]


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
    return {"activity": _activity(report, check), "users": _users(report)}


def _activity(report: Report, check: Check | None) -> list[dict[str, Any]]:
    buckets = report.activity
    if isinstance(buckets, Buckets) and report.min_users is None:
        # From the columns: a dict per cell, in one pass, and none of the cells' objects.
        rows = [
            {"user_id": user_id, "duration": duration, "count": count}
            for user_id, duration, count in zip(
                buckets.user_ids, buckets.user_durations, buckets.user_counts, strict=True
            )
        ]
        b = buckets.bounds
        return [
            {"time": rfc3339(time), "duration": duration, "user_activity": rows[b[i] : b[i + 1]]}
            for i, (time, duration) in enumerate(
                checked(zip(buckets.times, buckets.durations, strict=True), check)
            )
        ]
    return [
        {
            "time": rfc3339(bucket.time),
            "duration": bucket.duration,
            "user_activity": [
                {"user_id": u.user_id, "duration": u.duration, "count": u.count}
                for u in bucket.user_activity
            ],
            **(_bucket_counts(bucket) if report.min_users is not None else {}),
        }
        for bucket in checked(buckets, check)
    ]


def _users(report: Report) -> dict[str, Any]:
    return {
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
    written = _written(report, check)
    return written if isinstance(written, str) else written.decode()


def to_json_bytes(report: Report, *, check: Check | None = None) -> bytes:
    """:func:`to_json`'s text in UTF-8: what a server sends, made without a copy as a str
    (a megabyte's decoding and encoding again cost as much as writing it)."""
    written = _written(report, check)
    return written.encode() if isinstance(written, str) else written


def _written(report: Report, check: Check | None) -> bytes | str:
    """The report's JSON: orjson's bytes, or where orjson cannot write it, the standard text."""
    value = to_api(report, check=check)
    if _integers_only(report):
        try:
            return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # orjson.JSONEncodeError is one
            pass
    return indented_json(value, check=check) + "\n"


def _integers_only(report: Report) -> bool:
    """Whether every count and duration of ``report`` is an int (a float would be written
    as orjson writes it, not as ``json.dumps`` does, and NaN as null)."""
    return (
        isinstance(report.activity, Buckets)  # ints by construction
        or all(
            type(b.duration) is int
            and all(type(u.duration) is int and type(u.count) is int for u in b.user_activity)
            for b in report.activity
        )
    ) and all(type(t.total_count) is int and type(t.total_duration) is int for t in report.users)
