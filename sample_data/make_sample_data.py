"""Generate the sample activity log shipped with activity-report.

Writes three files next to this script:

* ``events.csv``     - one event a row: ``id, time, user_id, category, organization_id,
  end_time``. Times are ISO 8601 UTC with ``Z``; ``end_time`` is empty except for app sessions.
* ``events.parquet`` - the same rows, zstd-compressed; ``time`` and ``end_time`` are
  ``timestamp[us, tz=UTC]`` and ``end_time`` is null where the CSV is empty.
* ``users.csv``      - the user directory: ``id, name, username, roles, avatar_hash, email``;
  ``roles`` is a JSON array. About half the users have no ``avatar_hash``, so the tool derives
  it from the e-mail address (SHA-256 of the trimmed, lower-cased address).

What the data looks like:

* 15 users in 3 organizations, working in their own time zones (so some working days cross
  midnight UTC), August 2022, plus a little activity in late July and early September 2022
  so that clipping a report to a range matters.
* ``login``: 1-3 single events a working day. ``ide``, ``tunnel`` and ``web_terminal``:
  heartbeats 60 s apart in work sessions; an event without ``end_time`` stands for one minute
  (the tool's default heartbeat). ``app``: one event a session with an ``end_time``, 10 min to
  3 h. Weekends are quieter. Some users have a second IDE window open now and then (outside
  the first week): the two windows' heartbeats share timestamps, so the event count grows while
  the covered time does not.
* The seed example (``seed/usage-metrics-docs.txt``) is reproduced exactly: with
  ``--category ide --start 2022-08-01 --end 2022-08-31 --interval '1 week'`` the first bucket
  (2022-08-01 to 2022-08-08) holds only Joe (1200 events, 20 h), Alice (513 events, 8 h 33 m)
  and Bob (46 events, 46 m). The other users used VS Code Remote over SSH (``tunnel``) that
  week and have no IDE events in it; Joe, Alice and Bob have other categories that week too.
* A few app sessions cross 2022-08-01T00:00Z, 2022-08-31T00:00Z and 2022-09-01T00:00Z on
  purpose.

Rerun with ``python sample_data/make_sample_data.py`` (stdlib and pyarrow only). The output is
deterministic: a fixed seed, no clock, no environment; rerunning rewrites the same rows. At
the end the script checks the seed numbers and prints a one-line summary to stderr.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20220801
HEARTBEAT_S = 60

OUT_DIR = Path(__file__).resolve().parent
EVENTS_CSV = OUT_DIR / "events.csv"
EVENTS_PARQUET = OUT_DIR / "events.parquet"
USERS_CSV = OUT_DIR / "users.csv"

EVENT_COLUMNS = ("id", "time", "user_id", "category", "organization_id", "end_time")
USER_COLUMNS = ("id", "name", "username", "roles", "avatar_hash", "email")


def _epoch(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp())


WEEK1_START = _epoch(2022, 8, 1)
WEEK1_END = _epoch(2022, 8, 8)

FIRST_DAY = date(2022, 7, 25)
LAST_DAY = date(2022, 9, 9)
AUGUST_FIRST = date(2022, 8, 1)
AUGUST_LAST = date(2022, 8, 31)

# Organizations (the events carry only the id).
ORG_PLATFORM = "8fcf83e2-07c5-4831-9aca-7d6616b738ef"  # platform engineering
ORG_DATA = "24a366f3-4245-4122-854f-7d993060f938"  # data science
ORG_CONTRACTORS = "ca29b1f2-1ea4-40d6-b19d-4d3348f76b72"  # external contractors
ORGS = (ORG_PLATFORM, ORG_DATA, ORG_CONTRACTORS)

JOE_ID = "6004ad77-a7a69a24d779dd9f44357014"
ALICE_ID = "5f905429-ba6e4ac480eb4c0ead160b47"
BOB_ID = "627935e2-838713a0437b43f006b26244"


@dataclass(frozen=True)
class User:
    """A directory entry plus the habits used to simulate the user's activity."""

    id: str
    name: str
    username: str
    roles: tuple[str, ...]
    avatar_hash: str  # "" = let the tool derive it from the e-mail
    email: str
    org: str
    tz_offset_min: int  # the user's UTC offset in August 2022
    start_hour: float  # usual local start of the working day
    ide_min: float  # mean minutes a working day, per category
    tunnel_min: float
    web_terminal_min: float
    apps_per_day: float  # mean app sessions a working day (at most 3)
    p_weekday: float = 0.92  # chance of working on a weekday
    p_weekend: float = 0.1  # chance of a short weekend session
    second_window: bool = False  # sometimes opens a second IDE window
    active_from: date = AUGUST_FIRST
    active_until: date = AUGUST_LAST
    days_off: tuple[date, ...] = field(default=())


def _days(first: date, last: date) -> tuple[date, ...]:
    return tuple(first + timedelta(days=i) for i in range((last - first).days + 1))


# Fields: id, name, username, roles, avatar_hash, email, org, tz_offset_min, start_hour,
# ide_min, tunnel_min, web_terminal_min, apps_per_day, then habits by keyword.
# fmt: off
USERS: tuple[User, ...] = (
    User(
        JOE_ID, "Joe", "joe2", ("site-member", "site-manager"),
        "671b4b1db753a55396036354ff526c8df02e0a53bb4ce4990010a96ab8782ffd",
        "joe@example.com", ORG_PLATFORM, 120, 9.0, 230, 20, 10, 0.8,
        p_weekend=0.15, second_window=True, active_from=date(2022, 7, 27),
    ),
    User(
        ALICE_ID, "Alice", "alice92", ("site-member",),
        "970ee9aa01c30411825a1f90208c2ce5cffffda643973260bf10fa35b4a188c4",
        "alice@example.com", ORG_PLATFORM, -240, 9.0, 100, 15, 25, 0.6,
    ),
    User(
        BOB_ID, "Bob", "bob12", ("site-member",),
        "51fb9f8ed9f17d919c62055a81db00015662af958edd91e52e14149f64aae434",
        "bob@example.com", ORG_PLATFORM, 60, 8.5, 25, 120, 10, 0.3,
        days_off=_days(date(2022, 8, 22), date(2022, 8, 26)),
    ),
    User(
        "25befda1-a8c5d24b3cf5922a646ab830", "Priya Raman", "priya.r",
        ("site-member", "template-admin"),
        "63881430fa9563a063d60fefc9d9826d7d774aa9b51eedb41e93731a21d5c265",
        "priya.raman@example.com", ORG_PLATFORM, 330, 9.5, 150, 20, 15, 0.5,
        second_window=True, active_until=date(2022, 9, 2),
    ),
    User(
        "5ec3cd15-ddfeead6ee1e5ed775e41031", "Marcus Webb", "mwebb", ("site-member",), "",
        "marcus.webb@example.com", ORG_PLATFORM, -420, 9.5, 110, 30, 10, 0.7,
        p_weekend=0.2, active_until=date(2022, 9, 1),
    ),
    User(
        "fe836151-f998e207a9caeca4802ded2a", "Sofia Lindqvist", "sofial", ("site-member",), "",
        "Sofia.Lindqvist@Example.com", ORG_PLATFORM, 120, 8.0, 90, 40, 15, 0.4,
        days_off=_days(date(2022, 8, 15), date(2022, 8, 19)),
    ),
    User(
        "8e0d5562-d25cfa3e47c5e71a70694c71", "Liam O'Brien", "lobrien", ("site-member",),
        "ec83c0a83393401bfa81d13886269fe0fd232eed6b4ffc9b0655271f129042f9",
        "liam.obrien@example.com", ORG_PLATFORM, 60, 9.0, 50, 100, 10, 0.2,
    ),
    User(
        "bdeddfab-31436543f09591ac29b79e0c", "Kenji Tanaka", "ktanaka",
        ("site-member", "site-auditor"),
        "7237521154987775affeefbd5e569a239ce9c3423299e079b08b601cdf5aa163",
        "kenji.tanaka@example.org", ORG_DATA, 540, 8.5, 60, 50, 5, 1.4,
        active_from=date(2022, 7, 27),
    ),
    User(
        "d626abb7-d78f809dd3666ca340e4aead", "Amara Okafor", "amara.o", ("site-member",), "",
        "amara.okafor@example.org", ORG_DATA, 60, 9.0, 90, 10, 10, 1.2,
        days_off=_days(date(2022, 8, 22), date(2022, 8, 24)),
    ),
    User(
        "8d1d1748-fe6dddd1ce8188c71edd0fc1", "Diego Fernández", "dfernandez",
        ("site-member", "org-admin"),
        "ac46881180bb61c9c12795b75a805d67640ce1a7fbdf389eebc2486690a25e66",
        "diego.fernandez@example.org", ORG_DATA, -180, 9.0, 120, 15, 10, 0.9,
        p_weekend=0.25, active_from=date(2022, 7, 27),
    ),
    User(
        "78a9768f-ca197296b3e9b2a2ae50a055", "Hannah Schmidt", "hschmidt", ("site-member",), "",
        "hannah.schmidt@example.org", ORG_DATA, 120, 8.0, 100, 10, 5, 1.0,
        second_window=True, active_until=date(2022, 9, 2),
    ),
    User(
        "24fd1546-5a3a501be561c8d7c0b7be09", "Olivia Brown", "obrown", ("site-member",),
        "612984078fa97520e26ac628805812f9fc8c363c86e8a4b0829b25b394259388",
        "olivia.brown@example.org", ORG_DATA, -300, 9.0, 100, 20, 10, 0.8,
        active_from=date(2022, 8, 15),  # joined mid-month
    ),
    User(
        "c39c4272-78668e0151aae5e174fbdd8b", "Chen Wei", "chenwei", ("site-member",), "",
        "chen.wei@example.net", ORG_CONTRACTORS, 480, 9.5, 100, 40, 10, 0.3,
    ),
    User(
        "deb0ceb9-42d8c3ebe3891a6a81a99322", "Fatima Zahra", "fzahra", ("site-member",),
        "81992859c80aeb5b8cb98e8b942865bb2306ac799f74b3c653ca6df5d8c4ff9a",
        "fatima.zahra@example.net", ORG_CONTRACTORS, 60, 10.0, 40, 60, 20, 0.3,
        p_weekday=0.7,
    ),
    User(
        "bc73165d-6db9dbf1042149e6fd08398e", "Noah Kim", "noahk", ("site-member", "site-manager"),
        "", "noah.kim@example.net", ORG_CONTRACTORS, -240, 8.5, 70, 30, 10, 0.5,
        p_weekend=0.2, active_until=date(2022, 9, 2),
    ),
)
# fmt: on

USERS_BY_ID = {u.id: u for u in USERS}

# The seed: week-1 IDE of Joe, Alice and Bob. user id -> (events, covered seconds).
SEED_WEEK1_IDE: dict[str, tuple[int, int]] = {
    JOE_ID: (1200, 20 * 3600),
    ALICE_ID: (513, 8 * 3600 + 33 * 60),
    BOB_ID: (46, 46 * 60),
}
# How the seed's minutes are spread over the week: user id -> (weekday offsets, min per day).
SEED_DAYS: dict[str, tuple[tuple[int, ...], int]] = {
    JOE_ID: ((0, 1, 2, 3, 4), 180),  # Mon-Fri, at least 3 h a day
    ALICE_ID: ((0, 1, 3, 4), 80),  # not on Wednesday
    BOB_ID: ((1, 3), 12),  # Tuesday and Thursday
}

# Sessions that cross a range boundary, added on purpose: (user, start, end), app category.
BOUNDARY_APP_SESSIONS: tuple[tuple[str, int, int], ...] = (
    ("bdeddfab-31436543f09591ac29b79e0c", _epoch(2022, 7, 31, 23, 20), _epoch(2022, 8, 1, 1, 5)),
    ("5ec3cd15-ddfeead6ee1e5ed775e41031", _epoch(2022, 8, 30, 22, 40), _epoch(2022, 8, 31, 0, 55)),
    ("bc73165d-6db9dbf1042149e6fd08398e", _epoch(2022, 8, 31, 23, 10), _epoch(2022, 9, 1, 0, 40)),
)


@dataclass(frozen=True)
class Event:
    time: int  # epoch seconds, UTC
    user_id: str
    category: str
    org: str
    end_time: int | None = None


def split_total(rng: random.Random, total: int, parts: int, minimum: int) -> list[int]:
    """Split ``total`` into at most ``parts`` random whole parts of at least ``minimum``."""
    if total <= 0:
        return []
    parts = max(1, min(parts, total // minimum))
    spare = total - parts * minimum
    if spare < 0:  # total < minimum: one short part
        return [total]
    cuts = sorted(rng.randint(0, spare) for _ in range(parts - 1))
    return [minimum + b - a for a, b in pairwise([0, *cuts, spare])]


def place_sessions(
    rng: random.Random, window_start: int, window_end: int, lengths_min: list[int]
) -> list[int]:
    """Random start times for back-to-back, non-overlapping sessions inside a window.

    Sessions keep their order and are at least 2 minutes apart; the window must be long enough.
    """
    gap = 120
    need = sum(lengths_min) * 60 + gap * (len(lengths_min) - 1)
    slack = window_end - window_start - need
    if slack < 0:
        raise ValueError(f"sessions of {lengths_min} min do not fit in the window")
    points = sorted(rng.randint(0, slack) for _ in lengths_min)
    starts: list[int] = []
    used = 0
    for length, point in zip(lengths_min, points, strict=True):
        starts.append(window_start + point + used)
        used += length * 60 + gap
    return starts


def heartbeats(user: User, category: str, start: int, minutes: int) -> list[Event]:
    return [Event(start + i * HEARTBEAT_S, user.id, category, user.org) for i in range(minutes)]


def local_midnight(user: User, day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) - (
        user.tz_offset_min * 60
    )


def daily_minutes(rng: random.Random, mean: float, scale: float, cap: int) -> int:
    if mean <= 0:
        return 0
    value = rng.gauss(mean * scale, mean * scale * 0.35)
    return max(0, min(cap, round(value)))


def touches_week1(start: int, end: int) -> bool:
    return start < WEEK1_END and end > WEEK1_START


def simulate_day(rng: random.Random, user: User, day: date) -> list[Event]:
    """One user's events on one local calendar day."""
    weekday = day.weekday() < 5
    if not rng.random() < (user.p_weekday if weekday else user.p_weekend):
        return []
    midnight = local_midnight(user, day)
    if weekday:
        w_start = midnight + round((user.start_hour + rng.uniform(-0.5, 0.75)) * 3600)
        w_end = w_start + round(rng.uniform(7.5, 9.5) * 3600)
        scale = 1.0
        n_logins = rng.choice((1, 1, 2, 2, 3))
    else:
        w_start = midnight + round(rng.uniform(10.0, 19.0) * 3600)
        w_end = w_start + round(rng.uniform(1.0, 3.0) * 3600)
        scale = 0.3
        n_logins = 1
    cap = (w_end - w_start) // 60 * 3 // 4  # leave room for breaks and gaps

    events: list[Event] = []
    # Logins: the first just before work starts, the others during the day.
    login_times = [w_start - rng.randint(0, 300)]
    login_times += [rng.randint(w_start, w_end) for _ in range(n_logins - 1)]
    events += [Event(t, user.id, "login", user.org) for t in login_times]

    ide = daily_minutes(rng, user.ide_min, scale, cap)
    tunnel = daily_minutes(rng, user.tunnel_min, scale, cap)
    pinned = user.id in SEED_WEEK1_IDE
    if touches_week1(w_start, w_end):
        if pinned:
            ide = 0  # the seed's sessions are added separately
        else:
            tunnel = min(cap, tunnel + ide)  # VS Code Remote over SSH instead
            ide = 0

    # IDE sessions, sometimes with a second window open at the same time.
    ide_lengths = split_total(rng, ide, 1 + ide // 100 + rng.randint(0, 1), 15)
    for start, minutes in zip(
        place_sessions(rng, w_start, w_end, ide_lengths), ide_lengths, strict=True
    ):
        sessions = [(start, minutes)]
        if user.second_window and minutes >= 40 and rng.random() < 0.35:
            offset = rng.randint(10, minutes - 20)  # whole minutes: same heartbeat grid
            sessions.append((start + offset * 60, rng.randint(15, minutes - offset + 30)))
        for s_start, s_minutes in sessions:
            if not touches_week1(s_start, s_start + s_minutes * 60):
                events += heartbeats(user, "ide", s_start, s_minutes)
            elif not pinned:
                events += heartbeats(user, "tunnel", s_start, s_minutes)

    tunnel_lengths = split_total(rng, tunnel, 1 + tunnel // 120, 20)
    for start, minutes in zip(
        place_sessions(rng, w_start, w_end, tunnel_lengths), tunnel_lengths, strict=True
    ):
        events += heartbeats(user, "tunnel", start, minutes)

    if rng.random() < 0.6:
        wt = daily_minutes(rng, user.web_terminal_min, scale, cap)
        wt_lengths = split_total(rng, wt, rng.randint(1, 3), 3)
        for start, minutes in zip(
            place_sessions(rng, w_start, w_end, wt_lengths), wt_lengths, strict=True
        ):
            events += heartbeats(user, "web_terminal", start, minutes)

    p_app = min(1.0, user.apps_per_day * scale / 3)
    for _ in range(3):
        if rng.random() < p_app:
            length = min(3 * 3600, max(600, round(rng.lognormvariate(math.log(2400), 0.7))))
            start = rng.randint(w_start, max(w_start, w_end - length))
            events.append(Event(start, user.id, "app", user.org, start + length))
    return events


def seed_week(rng: random.Random) -> list[Event]:
    """The seed's week-1 IDE heartbeats for Joe, Alice and Bob."""
    events: list[Event] = []
    for user_id, (count, _) in SEED_WEEK1_IDE.items():
        user = USERS_BY_ID[user_id]
        offsets, minimum = SEED_DAYS[user_id]
        per_day = split_total(rng, count, len(offsets), minimum)
        assert sum(per_day) == count and len(per_day) == len(offsets)
        for offset, minutes in zip(offsets, per_day, strict=True):
            day = AUGUST_FIRST + timedelta(days=offset)
            w_start = local_midnight(user, day) + round(user.start_hour * 3600)
            w_start += rng.randint(-1800, 1800)
            w_end = w_start + round(9.5 * 3600)
            assert WEEK1_START <= w_start and w_end <= WEEK1_END
            lengths = split_total(rng, minutes, 1 + minutes // 90, 12)
            for start, length in zip(
                place_sessions(rng, w_start, w_end, lengths), lengths, strict=True
            ):
                events += heartbeats(user, "ide", start, length)
    return events


def generate() -> list[Event]:
    rng = random.Random(SEED)
    events: list[Event] = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        for user in USERS:
            if user.active_from <= day <= user.active_until and day not in user.days_off:
                events += simulate_day(rng, user, day)
        day += timedelta(days=1)
    events += seed_week(rng)
    for user_id, start, end in BOUNDARY_APP_SESSIONS:
        events.append(Event(start, user_id, "app", USERS_BY_ID[user_id].org, end))
    events.sort(key=lambda e: (e.time, e.user_id, e.category, e.end_time or 0))
    return events


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_ids(n: int) -> list[str]:
    return [f"evt-{i:06d}" for i in range(1, n + 1)]


def write_events_csv(events: list[Event], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(EVENT_COLUMNS)
        for event_id, e in zip(event_ids(len(events)), events, strict=True):
            end = "" if e.end_time is None else iso(e.end_time)
            writer.writerow((event_id, iso(e.time), e.user_id, e.category, e.org, end))


def write_events_parquet(events: list[Event], path: Path) -> None:
    ts = pa.timestamp("us", tz="UTC")
    table = pa.table(
        {
            "id": pa.array(event_ids(len(events)), type=pa.string()),
            "time": pa.array([e.time * 1_000_000 for e in events], type=ts),
            "user_id": pa.array([e.user_id for e in events], type=pa.string()),
            "category": pa.array([e.category for e in events], type=pa.string()),
            "organization_id": pa.array([e.org for e in events], type=pa.string()),
            "end_time": pa.array(
                [None if e.end_time is None else e.end_time * 1_000_000 for e in events],
                type=ts,
            ),
        }
    )
    pq.write_table(table, path, compression="zstd")


def write_users_csv(users: tuple[User, ...], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(USER_COLUMNS)
        for u in users:
            roles = json.dumps(list(u.roles), separators=(",", ":"))
            writer.writerow((u.id, u.name, u.username, roles, u.avatar_hash, u.email))


def covered_seconds(starts: list[int], start: int, end: int) -> int:
    """Length of the union of [t, t + heartbeat) over ``starts``, clipped to [start, end)."""
    total = 0
    cur_start: int | None = None
    cur_end = 0
    for t in sorted(starts):
        a, b = max(t, start), min(t + HEARTBEAT_S, end)
        if a >= b:
            continue
        if cur_start is None or a > cur_end:
            if cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = a, b
        else:
            cur_end = max(cur_end, b)
    if cur_start is not None:
        total += cur_end - cur_start
    return total


def self_check(events: list[Event]) -> None:
    """Assert the seed's week-1 IDE numbers and the basic shape of the data."""
    week1_ide = [
        e
        for e in events
        if e.category == "ide" and e.end_time is None and touches_week1(e.time, e.time + 60)
    ]
    assert {e.user_id for e in week1_ide} == set(SEED_WEEK1_IDE), "others have week-1 IDE"
    for user_id, (count, seconds) in SEED_WEEK1_IDE.items():
        times = [e.time for e in week1_ide if e.user_id == user_id]
        in_week = sum(WEEK1_START <= t < WEEK1_END for t in times)
        got = covered_seconds(times, WEEK1_START, WEEK1_END)
        assert (in_week, got) == (count, seconds), (user_id, in_week, got)
    assert all(a.time <= b.time for a, b in pairwise(events)), "events not sorted"
    for e in events:
        if e.category == "app":
            assert e.end_time is not None and 600 <= e.end_time - e.time <= 3 * 3600, e
        else:
            assert e.end_time is None, e


def main() -> None:
    events = generate()
    self_check(events)
    write_events_csv(events, EVENTS_CSV)
    write_events_parquet(events, EVENTS_PARQUET)
    write_users_csv(USERS, USERS_CSV)
    by_category = Counter(e.category for e in events)
    categories = ", ".join(f"{c} {n}" for c, n in sorted(by_category.items()))
    print(
        f"make_sample_data: {len(events)} events ({categories}), {len(USERS)} users, "
        f"{len(ORGS)} orgs, {iso(events[0].time)}..{iso(events[-1].time)}; "
        "seed check ok (week-1 IDE: joe2 1200/20h, alice92 513/8h33m, bob12 46/46m)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
