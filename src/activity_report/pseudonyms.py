"""Reports that do not name people: pseudonyms, and buckets too small to show.

Both work on a finished :class:`~.model.Report`, so every front end and every
format gets the same answer:

- :func:`pseudonymize`: each user id becomes ``anon-`` and the first 16 hex
  digits of HMAC-SHA256(key, id); name, username and avatar hash become None;
  roles stay. The same key gives the same pseudonym in every report; without
  the key a pseudonym can be neither reversed nor tested against a guess.
- :func:`withhold`: a bucket with fewer than K active users keeps no user
  list and no counts (``withheld``); the users map holds only users shown
  somewhere, with totals summed over the shown buckets alone, so a withheld
  bucket's activity cannot be found by subtracting.

Both re-apply the JSON's orders (users in a bucket by duration, then count,
descending, then id; the users map by totals, then id) on what they return.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from .errors import InvalidValue, UsageError
from .model import Bucket, Report, UserActivity, UserInfo, UserTotal

if TYPE_CHECKING:
    from .event_source import EventSource

PREFIX = "anon-"
DIGITS = 16
KEY_ENV = "ACTIVITY_REPORT_PSEUDONYM_KEY"
MIN_KEY_CHARACTERS = 16
_PSEUDONYM = re.compile(rf"{PREFIX}[0-9a-f]{{{DIGITS}}}")


def pseudonym(key: bytes, user_id: str) -> str:
    """``anon-`` and the first 16 hex digits of HMAC-SHA256(key, user id)."""
    digest = hmac.new(key, user_id.encode("utf-8", "surrogateescape"), hashlib.sha256)
    return PREFIX + digest.hexdigest()[:DIGITS]


def is_pseudonym(text: str) -> bool:
    return _PSEUDONYM.fullmatch(text) is not None


def key_from_text(text: str) -> bytes:
    """The key given in :data:`KEY_ENV`: its UTF-8 bytes, at least 16 characters."""
    if len(text.strip()) < MIN_KEY_CHARACTERS:
        raise UsageError(
            f"{KEY_ENV} is shorter than {MIN_KEY_CHARACTERS} characters; give a long random "
            "secret, for example the output of `openssl rand -hex 32`"
        )
    return text.strip().encode("utf-8")


def pseudonymize(report: Report, key: bytes) -> Report:
    """``report`` with every user named by pseudonym only (see the module's docstring)."""
    names: dict[str, str] = {}

    def alias(user_id: str) -> str:
        found = names.get(user_id)
        if found is None:
            found = names[user_id] = pseudonym(key, user_id)
        return found

    activity = tuple(
        replace(
            bucket,
            user_activity=_ordered(
                UserActivity(alias(u.user_id), u.duration, u.count) for u in bucket.user_activity
            ),
        )
        for bucket in report.activity
    )
    users = _ordered_totals(
        UserTotal(
            UserInfo(alias(total.user.id), roles=total.user.roles),
            total.total_count,
            total.total_duration,
        )
        for total in report.users
    )
    return replace(report, activity=activity, users=users)


def withhold(report: Report, min_users: int) -> Report:
    """``report`` with the buckets of fewer than ``min_users`` active users withheld.

    A bucket with no activity at all is shown as it is (no one to single out).
    """
    if min_users < 1:
        raise InvalidValue("min_users", str(min_users), "give a whole number of at least 1")
    activity = tuple(
        replace(bucket, user_activity=(), withheld=True)
        if 0 < len(bucket.user_activity) < min_users
        else bucket
        for bucket in report.activity
    )
    return replace(
        report, activity=activity, users=_totals(activity, report.users), min_users=min_users
    )


def resolve(values: Iterable[str], key: bytes | None, known_ids: Iterable[str]) -> list[str]:
    """``--user`` values with each pseudonym replaced by the user id it stands for.

    A pseudonym that no known id has is kept as it is: it matches no event.
    Other values (ids, usernames) are kept for the directory to resolve.
    """
    wanted = list(values)
    if key is None or not any(is_pseudonym(v) for v in wanted):
        return wanted
    by_pseudonym = {pseudonym(key, user_id): user_id for user_id in known_ids}
    return [by_pseudonym.get(v, v) if is_pseudonym(v) else v for v in wanted]


def known_user_ids(source: EventSource) -> set[str]:
    """The user ids a pseudonym may stand for: those of the events.

    Not the directory's: a user with no events is in no report, and a message
    that their id matches no event would name them.
    """
    known = set(source.diagnostics().user_ids or ())
    listed = getattr(source, "user_ids", None)
    if callable(listed):  # Spark: every id of the events
        known.update(listed())
        return known
    # DuckDB: every id of the events, in the source's view of its connection
    # (a file source's own, or its store's).
    con = getattr(source, "con", None) or getattr(getattr(source, "store", None), "con", None)
    view = getattr(source, "view", None)
    if con is not None and isinstance(view, str):
        rows = con.execute(f"SELECT DISTINCT user_id FROM {view} WHERE user_id IS NOT NULL")
        known.update(str(user_id) for (user_id,) in rows.fetchall())
    return known


def shareable(report: Report, key: bytes | None, min_users: int | None) -> Report:
    """``report`` withheld under ``min_users`` (if given), then pseudonymized (if a key is)."""
    if min_users is not None:
        report = withhold(report, min_users)
    return report if key is None else pseudonymize(report, key)


def _totals(activity: Iterable[Bucket], users: Iterable[UserTotal]) -> tuple[UserTotal, ...]:
    """The users map over ``activity``: those shown somewhere, totals over what is shown."""
    info: Mapping[str, UserInfo] = {total.user.id: total.user for total in users}
    sums: dict[str, list[int]] = {}
    for bucket in activity:
        for u in bucket.user_activity:
            total = sums.setdefault(u.user_id, [0, 0])
            total[0] += u.count
            total[1] += u.duration
    return _ordered_totals(
        UserTotal(info.get(uid, UserInfo(uid)), count, duration)
        for uid, (count, duration) in sums.items()
    )


def _ordered(users: Iterable[UserActivity]) -> tuple[UserActivity, ...]:
    return tuple(sorted(users, key=lambda u: (-u.duration, -u.count, u.user_id)))


def _ordered_totals(users: Iterable[UserTotal]) -> tuple[UserTotal, ...]:
    return tuple(sorted(users, key=lambda u: (-u.total_duration, -u.total_count, u.user.id)))
