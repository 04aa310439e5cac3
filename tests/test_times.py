"""--tz, --start and --end values.

Instants are compared through isoformat(), which shows the offset: equal
instants in one zone could otherwise hide a wrong fold.
"""

from __future__ import annotations

import importlib.resources
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil import tz as dateutil_tz
from hypothesis import given
from hypothesis import strategies as st

from activity_report import times
from activity_report.errors import UsageError
from activity_report.intervals import parse_interval
from activity_report.times import local_zone, parse_instant, parse_tz

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2024, 3, 31, 12, 0, 0, 250_000, tzinfo=UTC)  # Berlin's spring-forward day

TZ_FORMS = "use an IANA name such as Europe/Berlin, an offset such as +05:30, UTC or local"
INSTANT_FORMS = (
    "use an ISO 8601 date or date-time such as 2022-08-01 or 2022-08-01T09:00:00+02:00, "
    "now, today, yesterday, or 'N UNIT ago' such as '7 days ago'"
)


def instant(text: str, tz: tzinfo = UTC, now: datetime = NOW) -> str:
    return parse_instant(text, tz=tz, now=now, param="start").isoformat()


# ---------------------------------------------------------------------------
# parse_tz


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("America/New_York", "America/New_York"),
        ("Asia/Kolkata", "Asia/Kolkata"),
        ("America/St_Johns", "America/St_Johns"),
        (" Asia/Kathmandu ", "Asia/Kathmandu"),
        ("Etc/GMT+5", "Etc/GMT+5"),
        ("europe/berlin", "Europe/Berlin"),
        ("AMERICA/NEW_YORK", "America/New_York"),
    ],
)
def test_iana_names(text: str, key: str) -> None:
    zone = parse_tz(text)
    assert isinstance(zone, ZoneInfo)
    assert zone.key == key


@pytest.mark.parametrize("text", ["UTC", "utc", "Utc", "Z", "z", " UTC ", "+00:00", "-00:00", "+0"])
def test_utc(text: str) -> None:
    assert parse_tz(text) is UTC


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("+05:30", timedelta(hours=5, minutes=30)),
        ("-03:30", -timedelta(hours=3, minutes=30)),
        ("+0545", timedelta(hours=5, minutes=45)),
        ("+05", timedelta(hours=5)),
        ("+5", timedelta(hours=5)),
        ("-5:30", -timedelta(hours=5, minutes=30)),
        ("UTC+05:30", timedelta(hours=5, minutes=30)),
        ("utc-03:30", -timedelta(hours=3, minutes=30)),
        ("+23:59", timedelta(hours=23, minutes=59)),
        ("-23:59", -timedelta(hours=23, minutes=59)),
        ("+14:00", timedelta(hours=14)),
    ],
)
def test_fixed_offsets(text: str, offset: timedelta) -> None:
    assert parse_tz(text) == timezone(offset)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "+24:00",
        "-24:00",
        "+99",
        "+05:60",
        "+123",
        "+05:3",
        "05:30",
        "GMT+05:30",
        "UTC+",
        "Mars/Olympus_Mons",
        "America",
        "Europe/",
        "Europe/Berlin/Mitte",
        "/etc/localtime",
        "/usr/share/zoneinfo/Europe/Berlin",
        "../../../etc/passwd",
        "Europe/../Europe/Berlin",
        "Europe/Berlin\x00",
        "\ud800",
        "Local time",
    ],
)
def test_bad_zones(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_tz(text)
    assert str(caught.value) == f"invalid value for tz: {text!r} ({TZ_FORMS})"
    assert caught.value.exit_code == 2


def test_bad_zone_message_exactly() -> None:
    with pytest.raises(UsageError) as caught:
        parse_tz("Mars/Olympus_Mons", param="zone")
    assert str(caught.value) == (
        "invalid value for zone: 'Mars/Olympus_Mons' (use an IANA name such as "
        "Europe/Berlin, an offset such as +05:30, UTC or local)"
    )


@given(st.text())
def test_parse_tz_returns_a_zone_or_raises_usage_error(text: str) -> None:
    try:
        zone = parse_tz(text)
    except UsageError as error:
        assert "\n" not in str(error)
    else:
        assert zone.utcoffset(datetime(2024, 1, 1)) is not None


@given(st.from_regex(r"(utc|UTC)?[+-][0-9]{1,5}(:[0-9]{0,3})?", fullmatch=True))
def test_parse_tz_offset_lookalikes(text: str) -> None:
    try:
        zone = parse_tz(text)
    except UsageError:
        pass
    else:
        offset = zone.utcoffset(None)
        assert offset is not None
        assert abs(offset) < timedelta(hours=24)


# ---------------------------------------------------------------------------
# local


@pytest.fixture
def no_localtime(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TZ variable and an /etc/localtime that does not exist (yet) in tmp_path."""
    monkeypatch.delenv("TZ", raising=False)
    path = tmp_path / "localtime"
    monkeypatch.setattr(times, "_LOCALTIME", path)
    return path


def tzif(key: str) -> bytes:
    return importlib.resources.files("tzdata.zoneinfo").joinpath(key).read_bytes()


@pytest.mark.parametrize("value", ["Asia/Tokyo", ":Asia/Tokyo"])
def test_local_from_the_tz_variable(
    no_localtime: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TZ", value)
    zone = parse_tz("local")
    assert isinstance(zone, ZoneInfo)
    assert zone.key == "Asia/Tokyo"


def test_local_from_the_localtime_link(no_localtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Not/A_Zone")  # ignored: it names no zone
    target = no_localtime.parent / "usr" / "share" / "zoneinfo" / "America" / "New_York"
    target.parent.mkdir(parents=True)
    target.write_bytes(tzif("America/New_York"))
    no_localtime.symlink_to(target)
    zone = parse_tz(" LOCAL ")
    assert isinstance(zone, ZoneInfo)
    assert zone.key == "America/New_York"


def test_local_from_a_copied_localtime_file(no_localtime: Path) -> None:
    no_localtime.write_bytes(tzif("Australia/Adelaide"))
    zone = local_zone()
    assert zone.utcoffset(datetime(2024, 1, 1)) == timedelta(hours=10, minutes=30)
    assert zone.utcoffset(datetime(2024, 7, 1)) == timedelta(hours=9, minutes=30)


def test_local_falls_back_to_dateutil(no_localtime: Path) -> None:
    assert isinstance(local_zone(), dateutil_tz.tzlocal)


def test_local_ignores_an_unreadable_localtime_file(no_localtime: Path) -> None:
    no_localtime.write_bytes(b"not a TZif file")
    assert isinstance(local_zone(), dateutil_tz.tzlocal)


def test_local_survives_a_link_loop(no_localtime: Path) -> None:
    no_localtime.symlink_to(no_localtime)
    assert isinstance(local_zone(), dateutil_tz.tzlocal)


def test_local_ignores_a_link_outside_zoneinfo(no_localtime: Path) -> None:
    target = no_localtime.parent / "elsewhere"
    target.write_bytes(tzif("Asia/Tokyo"))
    no_localtime.symlink_to(target)
    zone = local_zone()  # read from the file the link points at
    assert zone.utcoffset(datetime(2024, 1, 1)) == timedelta(hours=9)


# ---------------------------------------------------------------------------
# parse_instant: ISO 8601


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-08-01", "2022-08-01T00:00:00+00:00"),
        ("2022-08-01T10:00", "2022-08-01T10:00:00+00:00"),
        ("2022-08-01 10:00:00", "2022-08-01T10:00:00+00:00"),
        ("2022-08-01t10:00:00", "2022-08-01T10:00:00+00:00"),
        ("2022-08-01T10:00:00Z", "2022-08-01T10:00:00+00:00"),
        ("2022-08-01T10:00:00z", "2022-08-01T10:00:00+00:00"),
        ("2022-08-01T10:00Z", "2022-08-01T10:00:00+00:00"),
        ("2022-08-01T10:00:00+02:00", "2022-08-01T08:00:00+00:00"),
        ("2022-08-01T10:00:00+0200", "2022-08-01T08:00:00+00:00"),
        ("2022-08-01T10:00:00+02", "2022-08-01T08:00:00+00:00"),
        ("2022-08-01T10:00:00-03:30", "2022-08-01T13:30:00+00:00"),
        ("2022-08-01T10:00:00.5", "2022-08-01T10:00:00.500000+00:00"),
        ("2022-08-01T10:00:00,25Z", "2022-08-01T10:00:00.250000+00:00"),
        ("2022-08-01T10:00:00.123456789Z", "2022-08-01T10:00:00.123456+00:00"),
        ("2024-02-29", "2024-02-29T00:00:00+00:00"),
        ("0001-01-01", "0001-01-01T00:00:00+00:00"),
        ("9999-12-31T23:59:59.999999", "9999-12-31T23:59:59.999999+00:00"),
        ("  2022-08-01  ", "2022-08-01T00:00:00+00:00"),
    ],
)
def test_iso_dates_and_date_times(text: str, expected: str) -> None:
    assert instant(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-08-01", "2022-08-01T00:00:00+02:00"),
        ("2022-01-01T09:00", "2022-01-01T09:00:00+01:00"),
        ("2022-08-01T10:00:00Z", "2022-08-01T12:00:00+02:00"),
        ("2022-08-01T10:00:00+05:30", "2022-08-01T06:30:00+02:00"),
    ],
)
def test_iso_without_offset_is_wall_clock_time_in_the_zone(text: str, expected: str) -> None:
    assert instant(text, BERLIN) == expected


def test_a_wall_time_in_the_spring_forward_gap_moves_forward() -> None:
    assert instant("2024-03-31T02:30", BERLIN) == "2024-03-31T03:30:00+02:00"
    assert instant("2024-03-10T02:30", ZoneInfo("America/New_York")) == "2024-03-10T03:30:00-04:00"


def test_an_ambiguous_wall_time_takes_the_first_occurrence() -> None:
    assert instant("2024-10-27T02:30", BERLIN) == "2024-10-27T02:30:00+02:00"
    assert instant("2024-11-03T01:30", ZoneInfo("America/New_York")) == "2024-11-03T01:30:00-04:00"


def test_an_offset_picks_either_occurrence_of_an_ambiguous_time() -> None:
    assert instant("2024-10-27T02:30+01:00", BERLIN) == "2024-10-27T02:30:00+01:00"
    assert instant("2024-10-27T02:30+02:00", BERLIN) == "2024-10-27T02:30:00+02:00"


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        (ZoneInfo("Asia/Kolkata"), "2022-08-01T00:00:00+05:30"),
        (ZoneInfo("America/St_Johns"), "2022-08-01T00:00:00-02:30"),
        (timezone(timedelta(hours=5, minutes=45)), "2022-08-01T00:00:00+05:45"),
        (timezone(-timedelta(hours=3, minutes=30)), "2022-08-01T00:00:00-03:30"),
    ],
)
def test_dates_in_fractional_zones(tz: tzinfo, expected: str) -> None:
    assert instant("2022-08-01", tz) == expected


# ---------------------------------------------------------------------------
# parse_instant: words


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("now", UTC, "2024-03-31T12:00:00.250000+00:00"),
        (" NOW ", BERLIN, "2024-03-31T14:00:00.250000+02:00"),
        ("today", UTC, "2024-03-31T00:00:00+00:00"),
        ("Today", BERLIN, "2024-03-31T00:00:00+01:00"),
        ("yesterday", UTC, "2024-03-30T00:00:00+00:00"),
        ("YESTERDAY", BERLIN, "2024-03-30T00:00:00+01:00"),
    ],
)
def test_now_today_yesterday(text: str, tz: tzinfo, expected: str) -> None:
    assert instant(text, tz) == expected


def test_today_is_on_the_zones_wall_clock() -> None:
    late = datetime(2024, 3, 31, 20, 0, tzinfo=UTC)  # already April 1st in Kolkata
    kolkata = ZoneInfo("Asia/Kolkata")
    assert instant("today", kolkata, late) == "2024-04-01T00:00:00+05:30"
    assert instant("yesterday", kolkata, late) == "2024-03-31T00:00:00+05:30"
    st_johns = timezone(-timedelta(hours=3, minutes=30))
    early = datetime(2024, 4, 1, 2, 0, tzinfo=UTC)  # still March 31st in -03:30
    assert instant("today", st_johns, early) == "2024-03-31T00:00:00-03:30"


def test_today_where_midnight_was_skipped() -> None:
    santiago = ZoneInfo("America/Santiago")  # 2024-09-08 began at 01:00
    now = datetime(2024, 9, 8, 15, 0, tzinfo=UTC)
    assert instant("today", santiago, now) == "2024-09-08T01:00:00-03:00"
    assert instant("yesterday", santiago, now) == "2024-09-07T00:00:00-04:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 days ago", "2024-03-28T12:00:00.250000+00:00"),
        ("3d ago", "2024-03-28T12:00:00.250000+00:00"),
        (" 3 DAYS AGO ", "2024-03-28T12:00:00.250000+00:00"),
        ("1 week ago", "2024-03-24T12:00:00.250000+00:00"),
        ("week ago", "2024-03-24T12:00:00.250000+00:00"),
        ("2h ago", "2024-03-31T10:00:00.250000+00:00"),
        ("90 minutes ago", "2024-03-31T10:30:00.250000+00:00"),
        ("30s ago", "2024-03-31T11:59:30.250000+00:00"),
        ("1 month ago", "2024-02-29T12:00:00.250000+00:00"),
        ("1 mon ago", "2024-02-29T12:00:00.250000+00:00"),
        ("1 quarter ago", "2023-12-31T12:00:00.250000+00:00"),
        ("1 year ago", "2023-03-31T12:00:00.250000+00:00"),
        ("2 yr ago", "2022-03-31T12:00:00.250000+00:00"),
        ("1 day \t ago", "2024-03-30T12:00:00.250000+00:00"),
    ],
)
def test_n_unit_ago(text: str, expected: str) -> None:
    assert instant(text) == expected


def test_calendar_units_ago_are_on_the_wall_clock_and_exact_units_exact() -> None:
    # Now is 14:00+02:00; the day before had 23 hours in Berlin.
    assert instant("1 day ago", BERLIN) == "2024-03-30T14:00:00.250000+01:00"
    assert instant("24 hours ago", BERLIN) == "2024-03-30T13:00:00.250000+01:00"
    assert instant("12 hours ago", BERLIN) == "2024-03-31T01:00:00.250000+01:00"


def test_a_calendar_step_back_into_the_gap_moves_forward() -> None:
    now = datetime(2024, 4, 1, 0, 30, tzinfo=UTC)  # 02:30+02:00
    assert instant("1 day ago", BERLIN, now) == "2024-03-31T03:30:00+02:00"


@pytest.mark.parametrize(
    ("text", "interval", "tz", "expected"),
    [
        ("now", "1 day", UTC, "2024-03-31T00:00:00+00:00"),
        ("now", "hourly", BERLIN, "2024-03-31T14:00:00+02:00"),
        ("now", "1 week", UTC, "2024-03-25T00:00:00+00:00"),  # Monday
        ("now", "monthly", BERLIN, "2024-03-01T00:00:00+01:00"),
        ("now", "PT30M", UTC, "2024-03-31T12:00:00+00:00"),
        ("30 days ago", "daily", UTC, "2024-03-01T00:00:00+00:00"),
        ("30 days ago", "daily", BERLIN, "2024-03-01T00:00:00+01:00"),
        ("3 days ago", "1 week", UTC, "2024-03-25T00:00:00+00:00"),
        ("2h ago", "1 minute", UTC, "2024-03-31T10:00:00+00:00"),
        ("1 quarter ago", "quarterly", UTC, "2023-10-01T00:00:00+00:00"),
        # Never moved: today and yesterday (already midnight) and explicit instants.
        ("today", "1 week", UTC, "2024-03-31T00:00:00+00:00"),
        ("yesterday", "monthly", UTC, "2024-03-30T00:00:00+00:00"),
        ("2024-03-31T12:34:56Z", "daily", UTC, "2024-03-31T12:34:56+00:00"),
        ("2024-03-13", "1 week", UTC, "2024-03-13T00:00:00+00:00"),
    ],
)
def test_now_and_ago_are_floored_to_the_interval_unit(
    text: str, interval: str, tz: tzinfo, expected: str
) -> None:
    """So buckets fall on calendar boundaries, the same on every run of a cron job."""
    floored = parse_instant(text, tz=tz, now=NOW, param="start", interval=parse_interval(interval))
    assert floored.isoformat() == expected


# ---------------------------------------------------------------------------
# parse_instant: errors


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "xyz",
        "tomorrow",
        "2022-8-1",
        "22-08-01",
        "2022/08/01",
        "01/08/2022",
        "20220801",
        "2022-08-01T10",
        "2022-08-01T1000",
        "2022-08-01T10:00:00.",
        "2022-08-01Z",
        "2022-08-01+02:00",
        "2022-08-01T10:00 +02:00",
        "2022-08-01T10:00:00+2",
        "2022-08-01X10:00",
        "2022-W31",
        "2022-213",
        "３ days ago",
        "3 days",
        "ago",
        " ago",
        "0 days ago",
        "-1 day ago",
        "1.5 days ago",
        "P1D ago",
        "daily ago",
        "1 fortnight ago",
        "3 days ago ago",
        "in 3 days",
        "99999 years ago",
        pytest.param("9" * 5000 + " seconds ago", id="5000-digit count"),
    ],
)
def test_bad_instants(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_instant(text, tz=UTC, now=NOW, param="start")
    assert str(caught.value) == f"invalid value for start: {text!r} ({INSTANT_FORMS})"
    assert caught.value.exit_code == 2


def test_bad_instant_message_exactly() -> None:
    with pytest.raises(UsageError) as caught:
        parse_instant("xyz", tz=UTC, now=NOW, param="end")
    assert str(caught.value) == (
        "invalid value for end: 'xyz' (use an ISO 8601 date or date-time such as 2022-08-01 "
        "or 2022-08-01T09:00:00+02:00, now, today, yesterday, or 'N UNIT ago' such as "
        "'7 days ago')"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2022-02-30", "day is out of range for month"),
        ("2023-02-29", "day is out of range for month"),
        ("2022-13-01", "month must be in 1..12"),
        ("2022-00-10", "month must be in 1..12"),
        ("0000-01-01", "year 0 is out of range"),
        ("2022-08-01T24:00", "hour must be in 0..23"),
        ("2022-08-01T10:60", "minute must be in 0..59"),
        ("2022-08-01T10:00:60", "second must be in 0..59"),
        ("2022-08-01T10:00+24:00", "UTC offset out of range"),
        ("2022-08-01T10:00+05:60", "UTC offset out of range"),
        ("9999-12-31T23:00-05:00", "outside the years 1 to 9999"),
        ("0001-01-01T00:00+01:00", "outside the years 1 to 9999"),
        ("5000 years ago", "year -2976 is out of range"),
        ("3000000 days ago", "outside the years 1 to 9999"),
        ("87000000 hours ago", "outside the years 1 to 9999"),
    ],
)
def test_out_of_range_instants_say_why(text: str, reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_instant(text, tz=UTC, now=NOW, param="start")
    assert str(caught.value) == f"invalid value for start: {text!r} ({reason})"


@pytest.mark.parametrize("text", ["0001-01-01", "today"])
def test_midnight_before_year_1_in_utc_is_out_of_range(text: str) -> None:
    plus_0530 = timezone(timedelta(hours=5, minutes=30))
    now = datetime(1, 1, 1, 1, tzinfo=UTC)
    with pytest.raises(UsageError) as caught:
        parse_instant(text, tz=plus_0530, now=now, param="start")
    assert str(caught.value) == (f"invalid value for start: {text!r} (outside the years 1 to 9999)")


ZONES: list[tzinfo] = [
    UTC,
    BERLIN,
    ZoneInfo("America/St_Johns"),
    ZoneInfo("Pacific/Kiritimati"),
    timezone(timedelta(hours=5, minutes=45)),
    timezone(-timedelta(hours=23, minutes=59)),
]
NOWS = st.datetimes(timezones=st.just(UTC))


@given(st.text(), st.sampled_from(ZONES), NOWS)
def test_parse_instant_returns_or_raises_usage_error(text: str, tz: tzinfo, now: datetime) -> None:
    try:
        parsed = parse_instant(text, tz=tz, now=now, param="start")
    except UsageError as error:
        assert "\n" not in str(error)
        assert str(error).startswith(f"invalid value for start: {text!r} (")
    else:
        assert parsed.tzinfo is tz


@given(
    st.one_of(
        st.from_regex(
            r"[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,12})?)?"
            r"([zZ]|[+-][0-9]{2}(:?[0-9]{2})?)?)?",
            fullmatch=True,
        ),
        st.from_regex(r"[0-9]{0,22} ?[a-z]{1,7} ago", fullmatch=True),
        st.sampled_from(["now", "today", "yesterday"]),
    ),
    st.sampled_from(ZONES),
    NOWS,
)
def test_parse_instant_lookalikes(text: str, tz: tzinfo, now: datetime) -> None:
    try:
        parsed = parse_instant(text, tz=tz, now=now, param="end")
    except UsageError:
        pass
    else:
        assert parsed.tzinfo is tz
