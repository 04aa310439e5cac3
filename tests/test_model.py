"""model.py: build_report's orders and totals, rfc3339, and the Activity API's JSON shape."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activity_report.model import (
    Bucket,
    Report,
    UserInfo,
    build_report,
    indented_json,
    rfc3339,
    to_api,
    to_json,
)

NS_PER_US = 1_000
HOUR_US = 3_600_000_000
BERLIN = ZoneInfo("Europe/Berlin")

TOP_KEYS = ["activity", "users"]
BUCKET_KEYS = ["time", "duration", "user_activity"]
ACTIVITY_KEYS = ["user_id", "duration", "count"]
USER_KEYS = ["id", "name", "username", "roles", "avatar_hash", "total_count", "total_duration"]


# ------------------------------------------------------------------ rfc3339


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2022, 8, 1, tzinfo=UTC), "2022-08-01T00:00:00Z"),
        (datetime(2022, 8, 1, tzinfo=timezone(timedelta(0))), "2022-08-01T00:00:00Z"),
        (datetime(2022, 8, 1, tzinfo=ZoneInfo("UTC")), "2022-08-01T00:00:00Z"),
        (datetime(2022, 8, 1, tzinfo=ZoneInfo("Europe/London")), "2022-08-01T00:00:00+01:00"),
        (datetime(2022, 1, 1, tzinfo=ZoneInfo("Europe/London")), "2022-01-01T00:00:00Z"),
        (datetime(2024, 1, 1, tzinfo=ZoneInfo("Asia/Kolkata")), "2024-01-01T00:00:00+05:30"),
        (datetime(2024, 1, 1, tzinfo=ZoneInfo("Asia/Kathmandu")), "2024-01-01T00:00:00+05:45"),
        (datetime(2024, 1, 15, tzinfo=ZoneInfo("America/St_Johns")), "2024-01-15T00:00:00-03:30"),
        (datetime(2024, 7, 15, tzinfo=ZoneInfo("America/St_Johns")), "2024-07-15T00:00:00-02:30"),
        (
            datetime(2024, 1, 1, 23, 59, 59, tzinfo=timezone(-timedelta(hours=3, minutes=30))),
            "2024-01-01T23:59:59-03:30",
        ),
        (datetime(2024, 3, 31, tzinfo=BERLIN), "2024-03-31T00:00:00+01:00"),
        (datetime(2024, 4, 1, tzinfo=BERLIN), "2024-04-01T00:00:00+02:00"),
        # The repeated hour of a fall-back day: the fold picks the offset.
        (datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN), "2024-10-27T02:30:00+02:00"),
        (datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN, fold=1), "2024-10-27T02:30:00+01:00"),
        (datetime(2024, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC), "2024-01-01T00:00:00.5Z"),
        (datetime(2024, 1, 1, 0, 0, 0, 120_000, tzinfo=UTC), "2024-01-01T00:00:00.12Z"),
        (datetime(2024, 1, 1, 0, 0, 0, 123, tzinfo=UTC), "2024-01-01T00:00:00.000123Z"),
        (
            datetime(2024, 1, 1, 0, 0, 1, 999_999, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2024-01-01T00:00:01.999999+05:30",
        ),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "9999-12-31T23:59:59Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05Z"),
    ],
)
def test_rfc3339(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text


def test_rfc3339_round_trips() -> None:
    moment = datetime(2024, 10, 27, 2, 30, 0, 250_000, tzinfo=BERLIN, fold=1)
    # Compared in UTC: PEP 495 makes a time in a fold unequal to any other zone's.
    assert datetime.fromisoformat(rfc3339(moment)).astimezone(UTC) == moment.astimezone(UTC)


# ------------------------------------------------------------------ build_report


def utc_edges(*hours: int) -> list[datetime]:
    origin = datetime(2024, 1, 1, tzinfo=UTC)
    return [origin + timedelta(hours=h) for h in hours]


DIRECTORY = {
    "u-1": UserInfo("u-1", "Zoë Ünal", "zoe", ("site-member", "owner"), "ab12"),
    "u-2": UserInfo("u-2", "Bob", "bob", ()),
}


def sample_report() -> Report:
    cells = [
        # bucket 0: a and b tie on duration, b has more events; c longest
        (0, "a", 1, 10 * 60_000_000),
        (0, "b", 2, 10 * 60_000_000),
        (0, "c", 1, 20 * 60_000_000),
        (0, "u-1", 3, 0),  # events but no time
        # bucket 1: u-2 alone
        (1, "u-2", 1, HOUR_US),
        (1, "a", 0, 10 * 60_000_000),  # time but no events
        (1, "nobody", 0, 0),  # nothing at all: not listed
    ]
    return build_report(utc_edges(0, 1, 2, 3), cells, DIRECTORY)


def test_build_report_orders_and_totals() -> None:
    api = to_api(sample_report())
    minute = 60 * 1_000_000_000
    assert api["activity"] == [
        {
            "time": "2024-01-01T00:00:00Z",
            "duration": 3600 * 1_000_000_000,
            "user_activity": [
                {"user_id": "c", "duration": 20 * minute, "count": 1},
                {"user_id": "b", "duration": 10 * minute, "count": 2},
                {"user_id": "a", "duration": 10 * minute, "count": 1},
                {"user_id": "u-1", "duration": 0, "count": 3},
            ],
        },
        {
            "time": "2024-01-01T01:00:00Z",
            "duration": 3600 * 1_000_000_000,
            "user_activity": [
                {"user_id": "u-2", "duration": 60 * minute, "count": 1},
                {"user_id": "a", "duration": 10 * minute, "count": 0},
            ],
        },
        {"time": "2024-01-01T02:00:00Z", "duration": 3600 * 1_000_000_000, "user_activity": []},
    ]
    assert api["users"] == {
        "u-2": {
            "id": "u-2",
            "name": "Bob",
            "username": "bob",
            "roles": [],
            "avatar_hash": None,
            "total_count": 1,
            "total_duration": 60 * minute,
        },
        "a": {
            "id": "a",
            "name": None,
            "username": None,
            "roles": [],
            "avatar_hash": None,
            "total_count": 1,
            "total_duration": 20 * minute,
        },
        "c": {
            "id": "c",
            "name": None,
            "username": None,
            "roles": [],
            "avatar_hash": None,
            "total_count": 1,
            "total_duration": 20 * minute,
        },
        "b": {
            "id": "b",
            "name": None,
            "username": None,
            "roles": [],
            "avatar_hash": None,
            "total_count": 2,
            "total_duration": 10 * minute,
        },
        "u-1": {
            "id": "u-1",
            "name": "Zoë Ünal",
            "username": "zoe",
            "roles": ["site-member", "owner"],
            "avatar_hash": "ab12",
            "total_count": 3,
            "total_duration": 0,
        },
    }
    # Ties on total duration go to the higher count, then to the smaller id.
    assert list(api["users"]) == ["u-2", "a", "c", "b", "u-1"]


def test_users_tie_on_duration_and_count_go_by_id() -> None:
    cells = [(0, uid, 1, 60_000_000) for uid in ("m", "b", "z", "a")]
    report = build_report(utc_edges(0, 1), cells, {})
    assert [u.user_id for u in report.activity[0].user_activity] == ["a", "b", "m", "z"]
    assert [u.user.id for u in report.users] == ["a", "b", "m", "z"]


def test_report_totals() -> None:
    report = sample_report()
    assert report.total_count == 1 + 2 + 1 + 3 + 1
    assert report.total_duration == (10 + 10 + 20 + 60 + 10) * 60 * 1_000_000_000


def test_bucket_durations_are_elapsed_time_in_nanoseconds() -> None:
    edges = [
        datetime(2024, 3, 30, tzinfo=BERLIN),
        datetime(2024, 3, 31, tzinfo=BERLIN),
        datetime(2024, 4, 1, tzinfo=BERLIN),
        datetime(2024, 4, 1, 0, 0, 0, 1, tzinfo=BERLIN),
    ]
    report = build_report(edges, [], {})
    assert [b.duration for b in report.activity] == [
        24 * HOUR_US * NS_PER_US,
        23 * HOUR_US * NS_PER_US,
        1 * NS_PER_US,
    ]
    assert [rfc3339(b.time) for b in report.activity] == [
        "2024-03-30T00:00:00+01:00",
        "2024-03-31T00:00:00+01:00",
        "2024-04-01T00:00:00+02:00",
    ]


def test_empty_report() -> None:
    report = build_report(utc_edges(0, 1, 2), [], {})
    assert to_api(report) == {
        "activity": [
            {"time": "2024-01-01T00:00:00Z", "duration": 3_600_000_000_000, "user_activity": []},
            {"time": "2024-01-01T01:00:00Z", "duration": 3_600_000_000_000, "user_activity": []},
        ],
        "users": {},
    }
    assert to_json(Report((), ())) == '{\n  "activity": [],\n  "users": {}\n}\n'


# ------------------------------------------------------------------ to_json


def test_to_json_is_valid_json_with_exactly_the_api_keys() -> None:
    text = to_json(sample_report())
    parsed = json.loads(
        text,
        parse_constant=lambda name: pytest.fail(f"non-standard constant {name}"),
    )
    assert list(parsed) == TOP_KEYS
    assert isinstance(parsed["activity"], list)
    assert isinstance(parsed["users"], dict)
    for bucket in parsed["activity"]:
        assert list(bucket) == BUCKET_KEYS
        assert isinstance(bucket["time"], str)
        assert type(bucket["duration"]) is int
        for user in bucket["user_activity"]:
            assert list(user) == ACTIVITY_KEYS
            assert type(user["duration"]) is int
            assert type(user["count"]) is int
    for uid, user in parsed["users"].items():
        assert list(user) == USER_KEYS
        assert user["id"] == uid
        assert isinstance(user["roles"], list)
        assert type(user["total_count"]) is int
        assert type(user["total_duration"]) is int
    assert parsed == to_api(sample_report())


def test_to_json_ends_with_one_newline() -> None:
    text = to_json(sample_report())
    assert text.endswith("}\n")
    assert not text.endswith("\n\n")
    assert text.count("\n") == text.rstrip("\n").count("\n") + 1


def test_to_json_writes_utf8_names_unescaped() -> None:
    text = to_json(sample_report())
    assert '"name": "Zoë Ünal"' in text
    assert "\\u" not in text
    text.encode("utf-8")  # no lone surrogates


@given(name=st.text(), user=st.text(min_size=1))
def test_to_json_writes_what_json_dumps_writes_of_any_names(name: str, user: str) -> None:
    # orjson writes reports; json.dumps is the reference, lone surrogates included.
    directory = {**DIRECTORY, user: UserInfo(user, name, name[:3] or None, (name,))}
    cells = [(0, user, 2, HOUR_US), (1, "u-1", 1, 5), (1, user, 0, 7)]
    report = build_report(utc_edges(0, 1, 2), cells, directory)
    expected = json.dumps(to_api(report), indent=2, ensure_ascii=False, allow_nan=False)
    assert to_json(report) == expected + "\n"


def test_to_json_refuses_nan() -> None:
    # Durations are ints by construction; should a float ever slip in, to_json fails
    # loudly instead of writing NaN, which is not JSON.
    start = datetime(2024, 1, 1, tzinfo=UTC)
    bad = Report((Bucket(start, cast(int, math.nan), ()),), ())
    with pytest.raises(ValueError, match="JSON compliant"):
        to_json(bad)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(json_values)
def test_indented_json_writes_what_json_dumps_writes(value: object) -> None:
    assert indented_json(value) == json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)


def test_indented_json_leaves_other_values_to_json_dumps() -> None:
    value = {"ratio": 0.5, "items": (1, 2), "big": 10**30, "\u2028 key": "caf\u00e9 \x00"}
    assert indented_json(value) == json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    with pytest.raises(ValueError):
        indented_json({"nan": math.nan})
