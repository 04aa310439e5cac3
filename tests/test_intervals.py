"""Interval grammar, stepping and bucket edges.

Datetimes are compared through isoformat(): two datetimes that share a tzinfo
compare by wall clock and ignore fold, which would hide exactly the DST
mistakes these tests are for.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from activity_report.errors import TooManyBuckets, UsageError, flag_name
from activity_report.intervals import (
    MAX_YEARS,
    Interval,
    Unit,
    bucket_count,
    bucket_edges,
    ceil_to_unit,
    floor_to_unit,
    localise,
    parse_count_unit,
    parse_heartbeat,
    parse_interval,
    skipped_buckets,
    step,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
ST_JOHNS = ZoneInfo("America/St_Johns")
KATHMANDU_FIXED = timezone(timedelta(hours=5, minutes=45))
NEWFOUNDLAND_FIXED = timezone(-timedelta(hours=3, minutes=30))

SECOND_US = 1_000_000
HOUR_US = 3600 * SECOND_US
DAY = timedelta(days=1)
P1D = parse_interval("P1D")

FORMS = (
    "use N UNIT such as '1 week', '90 day', '2h'; a keyword: hourly, daily, weekly, "
    "monthly, quarterly, yearly; or ISO 8601 such as P1W, PT30M"
)
HEARTBEAT_FORMS = (
    "a heartbeat takes seconds, minutes or hours, such as '1 minute', '30s', '2h' or PT5M"
)


def iso(instants: list[datetime]) -> list[str]:
    return [instant.isoformat() for instant in instants]


def lengths(edges: list[datetime]) -> list[timedelta]:
    utc = [edge.astimezone(UTC) for edge in edges]
    return [later - earlier for earlier, later in zip(utc, utc[1:], strict=False)]


def at(tz: tzinfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """The wall-clock time in tz, localised by the DST rules."""
    return localise(datetime(year, month, day, hour, minute), tz)


# ---------------------------------------------------------------------------
# Grammar


UNIT_SPELLINGS = [
    (Unit.SECOND, ("s", "sec", "second", "seconds")),
    (Unit.MINUTE, ("m", "min", "minute", "minutes")),
    (Unit.HOUR, ("h", "hr", "hour", "hours")),
    (Unit.DAY, ("d", "day", "days")),
    (Unit.WEEK, ("w", "wk", "week", "weeks")),
    (Unit.MONTH, ("mon", "month", "months")),
    (Unit.QUARTER, ("q", "quarter", "quarters")),
    (Unit.YEAR, ("y", "yr", "year", "years")),
]

ONE: dict[Unit, tuple[int, int, int]] = {
    Unit.SECOND: (0, 0, SECOND_US),
    Unit.MINUTE: (0, 0, 60 * SECOND_US),
    Unit.HOUR: (0, 0, HOUR_US),
    Unit.DAY: (0, 1, 0),
    Unit.WEEK: (0, 7, 0),
    Unit.MONTH: (1, 0, 0),
    Unit.QUARTER: (3, 0, 0),
    Unit.YEAR: (12, 0, 0),
}

SPELLING_CASES = [(unit, spelling) for unit, spellings in UNIT_SPELLINGS for spelling in spellings]


@pytest.mark.parametrize(("unit", "spelling"), SPELLING_CASES)
@pytest.mark.parametrize("template", ["3 {}", "3{}", " 3  {} ", "3\t{}"])
def test_every_unit_spelling_with_a_count(unit: Unit, spelling: str, template: str) -> None:
    months, days, micros = ONE[unit]
    parsed = parse_interval(template.format(spelling))
    assert parsed == Interval(
        months=3 * months, days=3 * days, micros=3 * micros, unit=unit, text=f"3 {unit.value}s"
    )


@pytest.mark.parametrize(("unit", "spelling"), SPELLING_CASES)
def test_every_unit_spelling_bare_is_one(unit: Unit, spelling: str) -> None:
    months, days, micros = ONE[unit]
    assert parse_interval(spelling) == Interval(months, days, micros, unit, f"1 {unit.value}")


@pytest.mark.parametrize(("unit", "spelling"), SPELLING_CASES)
def test_unit_spellings_ignore_case(unit: Unit, spelling: str) -> None:
    assert parse_interval(f"2 {spelling.upper()}") == parse_interval(f"2 {spelling}")


def test_m_is_minutes_and_mon_is_months() -> None:
    assert parse_interval("1m") == Interval(
        micros=60 * SECOND_US, unit=Unit.MINUTE, text="1 minute"
    )
    assert parse_interval("1mon") == Interval(months=1, unit=Unit.MONTH, text="1 month")
    # Case-insensitive, so an upper-case M is minutes too.
    assert parse_interval("1M").unit is Unit.MINUTE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hourly", Interval(micros=HOUR_US, unit=Unit.HOUR, text="1 hour")),
        ("daily", Interval(days=1, unit=Unit.DAY, text="1 day")),
        ("weekly", Interval(days=7, unit=Unit.WEEK, text="1 week")),
        ("monthly", Interval(months=1, unit=Unit.MONTH, text="1 month")),
        ("quarterly", Interval(months=3, unit=Unit.QUARTER, text="1 quarter")),
        ("yearly", Interval(months=12, unit=Unit.YEAR, text="1 year")),
        (" Weekly ", Interval(days=7, unit=Unit.WEEK, text="1 week")),
        ("MONTHLY", Interval(months=1, unit=Unit.MONTH, text="1 month")),
    ],
)
def test_keywords(text: str, expected: Interval) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT30M", Interval(micros=1800 * SECOND_US, unit=Unit.MINUTE, text="30 minutes")),
        ("PT1H", Interval(micros=HOUR_US, unit=Unit.HOUR, text="1 hour")),
        ("PT45S", Interval(micros=45 * SECOND_US, unit=Unit.SECOND, text="45 seconds")),
        ("P1D", Interval(days=1, unit=Unit.DAY, text="1 day")),
        ("P1W", Interval(days=7, unit=Unit.WEEK, text="1 week")),
        ("P90D", Interval(days=90, unit=Unit.DAY, text="90 days")),
        ("P1M", Interval(months=1, unit=Unit.MONTH, text="1 month")),
        ("P1Y", Interval(months=12, unit=Unit.YEAR, text="1 year")),
        (
            "P1DT12H",
            Interval(days=1, micros=12 * HOUR_US, unit=Unit.DAY, text="1 day 12 hours"),
        ),
        (
            "P1Y2M3DT4H5M6S",
            Interval(
                months=14,
                days=3,
                micros=(4 * 3600 + 5 * 60 + 6) * SECOND_US,
                unit=Unit.YEAR,
                text="1 year 2 months 3 days 4 hours 5 minutes 6 seconds",
            ),
        ),
        ("P1W2D", Interval(days=9, unit=Unit.WEEK, text="1 week 2 days")),
        ("PT1H30M", Interval(micros=90 * 60 * SECOND_US, unit=Unit.HOUR, text="1 hour 30 minutes")),
        (
            "P2MT2M",
            Interval(months=2, micros=120 * SECOND_US, unit=Unit.MONTH, text="2 months 2 minutes"),
        ),
        # A zero part is allowed next to a non-zero one, and left out of the text.
        ("P0Y1D", Interval(days=1, unit=Unit.DAY, text="1 day")),
        ("p1dt12h", Interval(days=1, micros=12 * HOUR_US, unit=Unit.DAY, text="1 day 12 hours")),
        (" pt30m ", Interval(micros=1800 * SECOND_US, unit=Unit.MINUTE, text="30 minutes")),
    ],
)
def test_iso_8601_durations(text: str, expected: Interval) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize(
    ("text", "expected_text"),
    [
        ("1 week", "1 week"),
        ("90 day", "90 days"),
        ("2h", "2 hours"),
        ("007 days", "7 days"),
        ("P1DT12H", "1 day 12 hours"),
        ("quarterly", "1 quarter"),
    ],
)
def test_display_text(text: str, expected_text: str) -> None:
    assert str(parse_interval(text)) == expected_text


def test_leading_zeros_of_any_length() -> None:
    assert parse_interval("0" * 5000 + "1 week").text == "1 week"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "+1 week",
        "1.5 hour",
        "1,5 hour",
        "1 fortnight",
        "1 mins",
        "2 hrs",
        "1 weeks ago",
        "week 1",
        "1 2 days",
        "1 day 2 hours",
        "P",
        "PT",
        "P1DT",
        "P1H",
        "PT1D",
        "PT1Y",
        "P1.5D",
        "PT0.5H",
        "P-1D",
        "1D2H",
        "P1M1Y",
        "daily weekly",
        "every day",
        "１ day",  # a full-width digit
        "1 dаy",  # a Cyrillic a
        "day\x00",
    ],
)
def test_rejected_forms(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_interval(text)
    assert str(caught.value) == f"invalid value for interval: {text!r} ({FORMS})"
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "text", ["0 day", "0d", "-1 week", "- 2h", "-0s", "P0D", "PT0S", "P0Y0M0DT0H0M0S", "-P1D"]
)
def test_a_zero_or_negative_interval_is_told_it_must_be_longer_than_zero(text: str) -> None:
    # Written in a form of the grammar: the list of forms would not help.
    with pytest.raises(UsageError) as caught:
        parse_interval(text)
    assert str(caught.value) == (
        f"invalid value for interval: {text!r} "
        "(an interval must be longer than zero, such as '1 week' or PT30M)"
    )
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("text", ["0s", "0 minutes", "PT0S", "-5s", "-1 minute", "-PT5M"])
def test_a_zero_or_negative_heartbeat_is_told_it_must_be_longer_than_zero(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_heartbeat(text)
    assert str(caught.value) == (
        f"invalid value for heartbeat: {text!r} "
        "(a heartbeat must be longer than zero, such as '30s' or '1 minute')"
    )


def test_rejection_message_exactly() -> None:
    with pytest.raises(UsageError) as caught:
        parse_interval("1 fortnight")
    assert str(caught.value) == (
        "invalid value for interval: '1 fortnight' (use N UNIT such as '1 week', '90 day', "
        "'2h'; a keyword: hourly, daily, weekly, monthly, quarterly, yearly; or ISO 8601 such "
        "as P1W, PT30M)"
    )


def test_rejection_names_the_option_given() -> None:
    with pytest.raises(UsageError, match=r"^invalid value for every: 'x' \(use N UNIT"):
        parse_interval("x", param="every")


@pytest.mark.parametrize(
    "text",
    [
        "99999999999999999999 years",
        "10001 years",
        "120001 months",
        "P10000Y1D",
        pytest.param("9" * 5000 + " seconds", id="5000-digit count"),
        pytest.param("PT" + "9" * 5000 + "S", id="5000-digit ISO count"),
    ],
)
def test_absurd_sizes_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_interval(text)
    assert str(caught.value) == f"invalid value for interval: {text!r} (longer than 10000 years)"


def test_the_size_limit_itself_is_allowed() -> None:
    assert MAX_YEARS == 10_000
    assert parse_interval("10000 years").months == 120_000
    assert parse_interval("40000 quarters").months == 120_000
    assert parse_interval("3652425 days").days == 3_652_425


def test_is_exact() -> None:
    assert parse_interval("90 minutes").is_exact
    assert parse_interval("PT1H30M").is_exact
    assert not parse_interval("1 day").is_exact
    assert not parse_interval("1 month").is_exact
    assert not parse_interval("P1DT12H").is_exact


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1 minute", 60 * SECOND_US),
        ("30s", 30 * SECOND_US),
        ("2 hours", 2 * HOUR_US),
        ("hourly", HOUR_US),
        ("PT5M", 300 * SECOND_US),
        ("PT1H30M", 90 * 60 * SECOND_US),
    ],
)
def test_heartbeat_takes_exact_units(text: str, micros: int) -> None:
    assert parse_heartbeat(text).micros == micros


@pytest.mark.parametrize("text", ["1 day", "daily", "1 week", "P1D", "P1DT1H", "1 mon", "1y"])
def test_heartbeat_refuses_calendar_units(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_heartbeat(text)
    assert str(caught.value) == f"invalid value for heartbeat: {text!r} ({HEARTBEAT_FORMS})"


@pytest.mark.parametrize("text", ["", "0", "1 fortnight", "1.5 min", "--1s"])
def test_heartbeat_refuses_bad_values(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_heartbeat(text)
    assert str(caught.value) == f"invalid value for heartbeat: {text!r} ({HEARTBEAT_FORMS})"


def test_heartbeat_size_limit() -> None:
    with pytest.raises(UsageError) as caught:
        parse_heartbeat("99999999999 hours")
    assert str(caught.value) == (
        "invalid value for heartbeat: '99999999999 hours' (longer than 10000 years)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 days", Interval(days=3, unit=Unit.DAY, text="3 days")),
        (" 2H ", Interval(micros=2 * HOUR_US, unit=Unit.HOUR, text="2 hours")),
        ("week", Interval(days=7, unit=Unit.WEEK, text="1 week")),
        ("daily", None),
        ("P1D", None),
        ("0 days", None),
        ("-1 days", None),
        ("10001 years", None),
        ("1 fortnight", None),
    ],
)
def test_parse_count_unit(text: str, expected: Interval | None) -> None:
    assert parse_count_unit(text) == expected


@given(st.text())
def test_parse_interval_returns_or_raises_usage_error(text: str) -> None:
    try:
        parsed = parse_interval(text)
    except UsageError as error:
        assert "\n" not in str(error)
        assert error.render(flag_name).startswith(f"invalid value for --interval: {text!r} (")
    else:
        assert parsed.months > 0 or parsed.days > 0 or parsed.micros > 0


@given(st.from_regex(r"\s*[0-9]{0,25}\s*[a-zA-Z]{1,8}\s*", fullmatch=True))
def test_parse_interval_count_unit_lookalikes(text: str) -> None:
    try:
        parse_interval(text)
    except UsageError:
        pass


@given(
    st.from_regex(
        r"[pP]([0-9]{1,4}[yY])?([0-9]{1,4}[mM])?([0-9]{1,3}[wW])?([0-9]{1,5}[dD])?"
        r"([tT]([0-9]{1,6}[hH])?([0-9]{1,8}[mM])?([0-9]{1,9}[sS])?)?",
        fullmatch=True,
    )
)
def test_parse_interval_iso_lookalikes(text: str) -> None:
    try:
        parsed = parse_interval(text)
    except UsageError:
        pass
    else:
        assert parse_interval(text.lower()) == parsed


@given(st.text())
def test_parse_heartbeat_returns_or_raises_usage_error(text: str) -> None:
    try:
        parsed = parse_heartbeat(text)
    except UsageError:
        pass
    else:
        assert parsed.is_exact


# ---------------------------------------------------------------------------
# step()


MONTH = parse_interval("1 month")
QUARTER = parse_interval("1 quarter")
YEAR = parse_interval("1 year")
WEEK = parse_interval("1 week")
ONE_DAY = parse_interval("1 day")
HOUR = parse_interval("1 hour")


def test_monthly_from_january_31_is_computed_from_the_anchor() -> None:
    start = datetime(2024, 1, 31, tzinfo=UTC)
    assert iso([step(start, MONTH, k, UTC) for k in range(6)]) == [
        "2024-01-31T00:00:00+00:00",
        "2024-02-29T00:00:00+00:00",
        "2024-03-31T00:00:00+00:00",
        "2024-04-30T00:00:00+00:00",
        "2024-05-31T00:00:00+00:00",
        "2024-06-30T00:00:00+00:00",
    ]


def test_monthly_from_january_31_in_a_common_year() -> None:
    start = datetime(2023, 1, 31, 9, 30, tzinfo=UTC)
    assert step(start, MONTH, 1, UTC).isoformat() == "2023-02-28T09:30:00+00:00"
    assert step(start, MONTH, 2, UTC).isoformat() == "2023-03-31T09:30:00+00:00"


def test_quarterly_from_november_30() -> None:
    start = datetime(2023, 11, 30, tzinfo=UTC)
    assert iso([step(start, QUARTER, k, UTC) for k in range(5)]) == [
        "2023-11-30T00:00:00+00:00",
        "2024-02-29T00:00:00+00:00",
        "2024-05-30T00:00:00+00:00",
        "2024-08-30T00:00:00+00:00",
        "2024-11-30T00:00:00+00:00",
    ]


def test_yearly_from_february_29() -> None:
    start = datetime(2024, 2, 29, tzinfo=UTC)
    assert iso([step(start, YEAR, k, UTC) for k in (1, 2, 3, 4)]) == [
        "2025-02-28T00:00:00+00:00",
        "2026-02-28T00:00:00+00:00",
        "2027-02-28T00:00:00+00:00",
        "2028-02-29T00:00:00+00:00",
    ]


def test_negative_steps() -> None:
    start = datetime(2024, 3, 31, 12, tzinfo=UTC)
    assert step(start, MONTH, -1, UTC).isoformat() == "2024-02-29T12:00:00+00:00"
    assert step(start, HOUR, -3, UTC).isoformat() == "2024-03-31T09:00:00+00:00"


def test_step_zero_is_the_start_itself_even_in_a_repeated_hour() -> None:
    second_occurrence = datetime(2024, 10, 27, 1, 30, tzinfo=UTC)  # 02:30+01:00 in Berlin
    assert step(second_occurrence, ONE_DAY, 0, BERLIN).isoformat() == "2024-10-27T02:30:00+01:00"


def test_step_returns_times_in_the_report_zone() -> None:
    edge = step(datetime(2024, 1, 1, tzinfo=UTC), ONE_DAY, 1, KOLKATA)
    assert edge.tzinfo is KOLKATA
    assert edge.isoformat() == "2024-01-02T05:30:00+05:30"


def test_daily_step_into_the_spring_forward_gap_moves_forward() -> None:
    start = at(BERLIN, 2024, 3, 30, 2, 30)
    assert iso([step(start, ONE_DAY, k, BERLIN) for k in range(3)]) == [
        "2024-03-30T02:30:00+01:00",
        "2024-03-31T03:30:00+02:00",
        "2024-04-01T02:30:00+02:00",
    ]


def test_daily_step_into_the_repeated_hour_takes_the_first_occurrence() -> None:
    start = at(BERLIN, 2024, 10, 26, 2, 30)
    assert iso([step(start, ONE_DAY, k, BERLIN) for k in range(3)]) == [
        "2024-10-26T02:30:00+02:00",
        "2024-10-27T02:30:00+02:00",
        "2024-10-28T02:30:00+01:00",
    ]


def test_mixed_interval_adds_the_days_on_the_wall_clock_then_the_hours_exactly() -> None:
    interval = parse_interval("P1DT12H")
    start = at(BERLIN, 2024, 3, 30, 0, 0)
    # Wall clock + 1 day = 2024-03-31T00:00+01:00, then 12 elapsed hours.
    assert step(start, interval, 1, BERLIN).isoformat() == "2024-03-31T13:00:00+02:00"
    assert step(start, interval, 2, BERLIN).isoformat() == "2024-04-02T00:00:00+02:00"


def test_step_past_year_9999_raises() -> None:
    with pytest.raises((OverflowError, ValueError)):
        step(datetime(9999, 6, 1, tzinfo=UTC), YEAR, 1, UTC)


# ---------------------------------------------------------------------------
# localise()


def test_localise_a_skipped_wall_time_moves_forward_by_the_gap() -> None:
    assert localise(datetime(2024, 3, 31, 2, 30), BERLIN).isoformat() == "2024-03-31T03:30:00+02:00"
    assert (
        localise(datetime(2024, 3, 10, 2, 30), NEW_YORK).isoformat() == "2024-03-10T03:30:00-04:00"
    )


def test_localise_an_ambiguous_wall_time_takes_the_first_occurrence() -> None:
    assert (
        localise(datetime(2024, 10, 27, 2, 30), BERLIN).isoformat() == "2024-10-27T02:30:00+02:00"
    )
    assert (
        localise(datetime(2024, 11, 3, 1, 30), NEW_YORK).isoformat() == "2024-11-03T01:30:00-04:00"
    )
    # Even when the naive time asks for the second one.
    second = datetime(2024, 10, 27, 2, 30, fold=1)
    assert localise(second, BERLIN).isoformat() == "2024-10-27T02:30:00+02:00"


def test_localise_a_skipped_midnight() -> None:
    santiago = ZoneInfo("America/Santiago")
    assert localise(datetime(2024, 9, 8), santiago).isoformat() == "2024-09-08T01:00:00-03:00"


# ---------------------------------------------------------------------------
# bucket_edges()


def test_the_seed_query_has_five_buckets() -> None:
    edges = bucket_edges(
        datetime(2022, 8, 1, tzinfo=UTC), datetime(2022, 8, 31, tzinfo=UTC), WEEK, UTC
    )
    assert iso(edges) == [
        "2022-08-01T00:00:00+00:00",
        "2022-08-08T00:00:00+00:00",
        "2022-08-15T00:00:00+00:00",
        "2022-08-22T00:00:00+00:00",
        "2022-08-29T00:00:00+00:00",
        "2022-08-31T00:00:00+00:00",
    ]
    assert [length // timedelta(microseconds=1) * 1000 for length in lengths(edges)] == [
        604_800_000_000_000,
        604_800_000_000_000,
        604_800_000_000_000,
        604_800_000_000_000,
        172_800_000_000_000,
    ]


def test_monthly_buckets_from_january_31_with_a_short_last_bucket() -> None:
    edges = bucket_edges(
        datetime(2024, 1, 31, tzinfo=UTC), datetime(2024, 5, 15, tzinfo=UTC), MONTH, UTC
    )
    assert iso(edges) == [
        "2024-01-31T00:00:00+00:00",
        "2024-02-29T00:00:00+00:00",
        "2024-03-31T00:00:00+00:00",
        "2024-04-30T00:00:00+00:00",
        "2024-05-15T00:00:00+00:00",
    ]


def test_quarterly_and_yearly_buckets() -> None:
    quarters = bucket_edges(
        datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC), QUARTER, UTC
    )
    assert iso(quarters) == [
        "2024-01-01T00:00:00+00:00",
        "2024-04-01T00:00:00+00:00",
        "2024-07-01T00:00:00+00:00",
        "2024-10-01T00:00:00+00:00",
        "2025-01-01T00:00:00+00:00",
    ]
    years = bucket_edges(
        datetime(2024, 2, 29, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), YEAR, UTC
    )
    assert iso(years) == [
        "2024-02-29T00:00:00+00:00",
        "2025-02-28T00:00:00+00:00",
        "2026-02-28T00:00:00+00:00",
        "2026-03-01T00:00:00+00:00",
    ]


@pytest.mark.parametrize(
    ("tz", "day", "edges_iso", "hours"),
    [
        (
            BERLIN,
            date(2024, 3, 31),
            ["2024-03-30T00:00:00+01:00", "2024-03-31T00:00:00+01:00", "2024-04-01T00:00:00+02:00"],
            [24, 23],
        ),
        (
            BERLIN,
            date(2024, 10, 27),
            ["2024-10-26T00:00:00+02:00", "2024-10-27T00:00:00+02:00", "2024-10-28T00:00:00+01:00"],
            [24, 25],
        ),
        (
            NEW_YORK,
            date(2024, 3, 10),
            ["2024-03-09T00:00:00-05:00", "2024-03-10T00:00:00-05:00", "2024-03-11T00:00:00-04:00"],
            [24, 23],
        ),
        (
            NEW_YORK,
            date(2024, 11, 3),
            ["2024-11-02T00:00:00-04:00", "2024-11-03T00:00:00-04:00", "2024-11-04T00:00:00-05:00"],
            [24, 25],
        ),
        (
            ST_JOHNS,
            date(2024, 3, 10),
            ["2024-03-09T00:00:00-03:30", "2024-03-10T00:00:00-03:30", "2024-03-11T00:00:00-02:30"],
            [24, 23],
        ),
        (
            ST_JOHNS,
            date(2024, 11, 3),
            ["2024-11-02T00:00:00-02:30", "2024-11-03T00:00:00-02:30", "2024-11-04T00:00:00-03:30"],
            [24, 25],
        ),
    ],
)
def test_daily_buckets_on_dst_days_follow_the_wall_clock(
    tz: ZoneInfo, day: date, edges_iso: list[str], hours: list[int]
) -> None:
    start = localise(datetime.combine(day - DAY, time()), tz)
    end = localise(datetime.combine(day + DAY, time()), tz)
    edges = bucket_edges(start, end, ONE_DAY, tz)
    assert iso(edges) == edges_iso
    assert lengths(edges) == [timedelta(hours=h) for h in hours]


def test_hourly_buckets_across_spring_forward_are_exactly_one_hour() -> None:
    edges = bucket_edges(at(BERLIN, 2024, 3, 31, 0, 0), at(BERLIN, 2024, 3, 31, 5, 0), HOUR, BERLIN)
    assert iso(edges) == [
        "2024-03-31T00:00:00+01:00",
        "2024-03-31T01:00:00+01:00",
        "2024-03-31T03:00:00+02:00",
        "2024-03-31T04:00:00+02:00",
        "2024-03-31T05:00:00+02:00",
    ]
    assert set(lengths(edges)) == {timedelta(hours=1)}


def test_hourly_buckets_across_fall_back_are_exactly_one_hour() -> None:
    edges = bucket_edges(
        at(BERLIN, 2024, 10, 27, 0, 0), at(BERLIN, 2024, 10, 27, 4, 0), HOUR, BERLIN
    )
    assert iso(edges) == [
        "2024-10-27T00:00:00+02:00",
        "2024-10-27T01:00:00+02:00",
        "2024-10-27T02:00:00+02:00",
        "2024-10-27T02:00:00+01:00",
        "2024-10-27T03:00:00+01:00",
        "2024-10-27T04:00:00+01:00",
    ]
    assert set(lengths(edges)) == {timedelta(hours=1)}


def test_weekly_buckets_across_dst_keep_the_wall_clock_time() -> None:
    edges = bucket_edges(
        at(NEW_YORK, 2024, 3, 4, 0, 0), at(NEW_YORK, 2024, 3, 18, 0, 0), WEEK, NEW_YORK
    )
    assert iso(edges) == [
        "2024-03-04T00:00:00-05:00",
        "2024-03-11T00:00:00-04:00",
        "2024-03-18T00:00:00-04:00",
    ]
    assert lengths(edges) == [timedelta(days=7, hours=-1), timedelta(days=7)]


@pytest.mark.parametrize(
    ("tz", "edges_iso"),
    [
        (
            KOLKATA,
            ["2024-01-01T00:00:00+05:30", "2024-01-02T00:00:00+05:30", "2024-01-03T00:00:00+05:30"],
        ),
        (
            KATHMANDU_FIXED,
            ["2024-01-01T00:00:00+05:45", "2024-01-02T00:00:00+05:45", "2024-01-03T00:00:00+05:45"],
        ),
        (
            NEWFOUNDLAND_FIXED,
            ["2024-01-01T00:00:00-03:30", "2024-01-02T00:00:00-03:30", "2024-01-03T00:00:00-03:30"],
        ),
    ],
)
def test_daily_buckets_in_fractional_zones_start_at_local_midnight(
    tz: tzinfo, edges_iso: list[str]
) -> None:
    edges = bucket_edges(at(tz, 2024, 1, 1, 0, 0), at(tz, 2024, 1, 3, 0, 0), ONE_DAY, tz)
    assert iso(edges) == edges_iso


def test_edges_are_in_the_report_zone_whatever_zone_the_range_came_in() -> None:
    edges = bucket_edges(
        datetime(2023, 12, 31, 18, 30, tzinfo=UTC),
        datetime(2024, 1, 2, tzinfo=UTC),
        ONE_DAY,
        KOLKATA,
    )
    assert iso(edges) == [
        "2024-01-01T00:00:00+05:30",
        "2024-01-02T00:00:00+05:30",
        "2024-01-02T05:30:00+05:30",
    ]
    assert all(edge.tzinfo is KOLKATA for edge in edges)


def test_a_range_shorter_than_one_interval_is_one_short_bucket() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    edges = bucket_edges(start, start + timedelta(microseconds=1), YEAR, UTC)
    assert iso(edges) == ["2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00.000001+00:00"]


def test_a_range_of_whole_intervals_has_no_empty_last_bucket() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    edges = bucket_edges(start, start + timedelta(hours=3), HOUR, UTC)
    assert len(edges) == 4
    assert lengths(edges) == [timedelta(hours=1)] * 3


def test_a_day_that_a_zone_skipped_gives_no_empty_bucket() -> None:
    apia = ZoneInfo("Pacific/Apia")  # went from UTC-10 to UTC+14: 2011-12-30 never happened
    edges = bucket_edges(at(apia, 2011, 12, 29, 12, 0), at(apia, 2012, 1, 2, 0, 0), ONE_DAY, apia)
    assert iso(edges) == [
        "2011-12-29T12:00:00-10:00",
        "2011-12-31T12:00:00+14:00",
        "2012-01-01T12:00:00+14:00",
        "2012-01-02T00:00:00+14:00",
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2022, 8, 31, tzinfo=UTC), datetime(2022, 8, 1, tzinfo=UTC)),
        (datetime(2022, 8, 1, tzinfo=UTC), datetime(2022, 8, 1, tzinfo=UTC)),
    ],
)
def test_end_must_be_after_start(start: datetime, end: datetime) -> None:
    with pytest.raises(UsageError) as caught:
        bucket_edges(start, end, WEEK, UTC)
    assert caught.value.render(flag_name) == (
        f"--end ({end.isoformat()}) must be after --start ({start.isoformat()})"
    )
    assert caught.value.exit_code == 2


def test_end_before_start_is_shown_in_the_report_zone() -> None:
    with pytest.raises(UsageError) as caught:
        bucket_edges(
            datetime(2024, 1, 1, tzinfo=UTC), datetime(2023, 12, 31, tzinfo=UTC), ONE_DAY, BERLIN
        )
    assert caught.value.render(flag_name) == (
        "--end (2023-12-31T01:00:00+01:00) must be after --start (2024-01-01T01:00:00+01:00)"
    )


def test_end_equal_to_start_in_the_repeated_hour_is_caught() -> None:
    # Same wall clock, different instants: compared as instants, 02:30+02:00 is before.
    first = at(BERLIN, 2024, 10, 27, 2, 30)
    second = datetime(2024, 10, 27, 1, 30, tzinfo=UTC).astimezone(BERLIN)
    assert len(bucket_edges(first, second, HOUR, BERLIN)) == 2
    with pytest.raises(UsageError):
        bucket_edges(second, first, HOUR, BERLIN)


def test_too_many_buckets_message_gives_the_exact_count() -> None:
    with pytest.raises(UsageError) as caught:
        bucket_edges(
            datetime(2022, 1, 1, tzinfo=UTC),
            datetime(2023, 1, 1, tzinfo=UTC),
            parse_interval("1 minute"),
            UTC,
        )
    assert caught.value.render(flag_name) == (
        "the range holds 525,600 buckets of 1 minute, more than the limit (100,000); "
        "use a longer --interval or a shorter range"
    )
    assert caught.value.exit_code == 2
    # Only a front end with a limit to raise (the report, the Python API) offers it.
    assert isinstance(caught.value, TooManyBuckets)
    offered = caught.value.offering("max_buckets")
    assert offered.render(flag_name) == (
        "the range holds 525,600 buckets of 1 minute, more than --max-buckets (100,000); "
        "use a longer --interval, a shorter range or a larger --max-buckets"
    )
    assert str(offered) == (
        "the range holds 525,600 buckets of 1 minute, more than max_buckets (100,000); "
        "use a longer interval, a shorter range or a larger max_buckets"
    )
    assert offered.exit_code == 2 and offered.params == ("max_buckets", "interval")


def test_too_many_calendar_buckets_are_counted_exactly() -> None:
    days = (date(2300, 1, 1) - date(2022, 1, 1)).days
    with pytest.raises(UsageError) as caught:
        bucket_edges(
            datetime(2022, 1, 1, tzinfo=UTC),
            datetime(2300, 1, 1, 0, 0, 1, tzinfo=UTC),
            ONE_DAY,
            UTC,
        )
    assert caught.value.render(flag_name) == (
        f"the range holds {days + 1:,} buckets of 1 day, more than the limit (100,000); "
        "use a longer --interval or a shorter range"
    )


def test_max_buckets_is_inclusive() -> None:
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 8, tzinfo=UTC)
    assert len(bucket_edges(start, end, ONE_DAY, UTC, max_buckets=7)) == 8
    with pytest.raises(UsageError) as caught:
        bucket_edges(start, end, ONE_DAY, UTC, max_buckets=6)
    assert caught.value.render(flag_name) == (
        "the range holds 7 buckets of 1 day, more than the limit (6); "
        "use a longer --interval or a shorter range"
    )


@pytest.mark.parametrize(
    ("interval", "end", "count"),
    [
        ("1 minute", datetime(2023, 1, 1, tzinfo=UTC), 525_600),
        ("7 minutes", datetime(2022, 1, 1, 0, 7, 0, 1, tzinfo=UTC), 2),
        ("1 day", datetime(2023, 1, 1, tzinfo=UTC), 365),
        ("1 month", datetime(2122, 1, 1, tzinfo=UTC), 1200),
        ("1 month", datetime(2122, 1, 1, 0, 0, 1, tzinfo=UTC), 1201),
        ("1 week", datetime(2022, 1, 8, tzinfo=UTC), 1),
        ("1 year", datetime(9999, 12, 31, tzinfo=UTC), 7978),
        ("10000 years", datetime(9999, 12, 31, tzinfo=UTC), 1),
    ],
)
def test_bucket_count(interval: str, end: datetime, count: int) -> None:
    assert (
        bucket_count(datetime(2022, 1, 1, tzinfo=UTC), end, parse_interval(interval), UTC) == count
    )


def test_a_huge_interval_gives_one_bucket() -> None:
    start, end = datetime(2022, 1, 1, tzinfo=UTC), datetime(2023, 1, 1, tzinfo=UTC)
    assert len(bucket_edges(start, end, parse_interval("10000 years"), UTC)) == 2
    assert len(bucket_edges(start, end, parse_interval("87600000 hours"), UTC)) == 2


# ---------------------------------------------------------------------------
# floor_to_unit() and ceil_to_unit()

INSTANT = datetime(2024, 5, 15, 13, 45, 30, 500_000, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("interval", "floor", "ceil"),
    [
        ("1 second", "2024-05-15T13:45:30+00:00", "2024-05-15T13:45:31+00:00"),
        ("1 minute", "2024-05-15T13:45:00+00:00", "2024-05-15T13:46:00+00:00"),
        ("1 hour", "2024-05-15T13:00:00+00:00", "2024-05-15T14:00:00+00:00"),
        ("1 day", "2024-05-15T00:00:00+00:00", "2024-05-16T00:00:00+00:00"),
        ("1 week", "2024-05-13T00:00:00+00:00", "2024-05-20T00:00:00+00:00"),
        ("1 month", "2024-05-01T00:00:00+00:00", "2024-06-01T00:00:00+00:00"),
        ("1 quarter", "2024-04-01T00:00:00+00:00", "2024-07-01T00:00:00+00:00"),
        ("1 year", "2024-01-01T00:00:00+00:00", "2025-01-01T00:00:00+00:00"),
        # The largest unit named decides.
        ("90 days", "2024-05-15T00:00:00+00:00", "2024-05-16T00:00:00+00:00"),
        ("P1DT12H", "2024-05-15T00:00:00+00:00", "2024-05-16T00:00:00+00:00"),
        ("PT1H30M", "2024-05-15T13:00:00+00:00", "2024-05-15T14:00:00+00:00"),
        ("PT90M", "2024-05-15T13:45:00+00:00", "2024-05-15T13:46:00+00:00"),
    ],
)
def test_floor_and_ceil_for_every_unit(interval: str, floor: str, ceil: str) -> None:
    parsed = parse_interval(interval)
    assert floor_to_unit(INSTANT, parsed, UTC).isoformat() == floor
    assert ceil_to_unit(INSTANT, parsed, UTC).isoformat() == ceil


@pytest.mark.parametrize(
    ("instant", "interval"),
    [
        (datetime(2024, 5, 15, 13, 45, 30, tzinfo=UTC), "1 second"),
        (datetime(2024, 5, 15, 13, 45, tzinfo=UTC), "1 minute"),
        (datetime(2024, 5, 15, 13, tzinfo=UTC), "1 hour"),
        (datetime(2024, 5, 15, tzinfo=UTC), "1 day"),
        (datetime(2024, 5, 13, tzinfo=UTC), "1 week"),
        (datetime(2024, 5, 1, tzinfo=UTC), "1 month"),
        (datetime(2024, 4, 1, tzinfo=UTC), "1 quarter"),
        (datetime(2024, 1, 1, tzinfo=UTC), "1 year"),
    ],
)
def test_an_instant_on_a_boundary_stays(instant: datetime, interval: str) -> None:
    parsed = parse_interval(interval)
    assert floor_to_unit(instant, parsed, UTC).isoformat() == instant.isoformat()
    assert ceil_to_unit(instant, parsed, UTC).isoformat() == instant.isoformat()


@pytest.mark.parametrize(
    ("month", "quarter_start"),
    [
        (1, 1),
        (2, 1),
        (3, 1),
        (4, 4),
        (5, 4),
        (6, 4),
        (7, 7),
        (8, 7),
        (9, 7),
        (10, 10),
        (11, 10),
        (12, 10),
    ],
)
def test_quarters_start_in_january_april_july_october(month: int, quarter_start: int) -> None:
    instant = datetime(2024, month, 15, tzinfo=UTC)
    floor = floor_to_unit(instant, QUARTER, UTC)
    assert floor.isoformat() == datetime(2024, quarter_start, 1, tzinfo=UTC).isoformat()


def test_ceil_of_the_last_quarter_is_next_year() -> None:
    ceil = ceil_to_unit(datetime(2024, 11, 5, tzinfo=UTC), QUARTER, UTC)
    assert ceil.isoformat() == "2025-01-01T00:00:00+00:00"


def test_week_floor_on_a_sunday_goes_back_to_monday() -> None:
    sunday = datetime(2024, 5, 19, 23, 59, tzinfo=UTC)
    assert floor_to_unit(sunday, WEEK, UTC).isoformat() == "2024-05-13T00:00:00+00:00"
    assert ceil_to_unit(sunday, WEEK, UTC).isoformat() == "2024-05-20T00:00:00+00:00"


def test_week_boundaries_on_a_plus_0545_wall_clock() -> None:
    # Sunday 20:00 UTC is already Monday 01:45 in +05:45.
    instant = datetime(2024, 1, 7, 20, 0, tzinfo=UTC)
    assert floor_to_unit(instant, WEEK, KATHMANDU_FIXED).isoformat() == "2024-01-08T00:00:00+05:45"
    assert ceil_to_unit(instant, WEEK, KATHMANDU_FIXED).isoformat() == "2024-01-15T00:00:00+05:45"
    assert floor_to_unit(instant, WEEK, UTC).isoformat() == "2024-01-01T00:00:00+00:00"


def test_week_boundaries_on_a_minus_0330_wall_clock() -> None:
    # Monday 02:00 UTC is still Sunday 22:30 in -03:30.
    instant = datetime(2024, 1, 8, 2, 0, tzinfo=UTC)
    floor = floor_to_unit(instant, WEEK, NEWFOUNDLAND_FIXED)
    assert floor.isoformat() == "2024-01-01T00:00:00-03:30"
    assert (
        ceil_to_unit(instant, WEEK, NEWFOUNDLAND_FIXED).isoformat() == "2024-01-08T00:00:00-03:30"
    )


@pytest.mark.parametrize(
    ("tz", "floor", "ceil"),
    [
        (KOLKATA, "2024-01-01T00:00:00+05:30", "2024-01-02T00:00:00+05:30"),
        (ST_JOHNS, "2023-12-31T00:00:00-03:30", "2024-01-01T00:00:00-03:30"),
        (KATHMANDU_FIXED, "2024-01-01T00:00:00+05:45", "2024-01-02T00:00:00+05:45"),
        (NEWFOUNDLAND_FIXED, "2023-12-31T00:00:00-03:30", "2024-01-01T00:00:00-03:30"),
    ],
)
def test_day_boundaries_in_fractional_zones(tz: tzinfo, floor: str, ceil: str) -> None:
    instant = datetime(2024, 1, 1, 1, 0, tzinfo=UTC)
    assert floor_to_unit(instant, ONE_DAY, tz).isoformat() == floor
    assert ceil_to_unit(instant, ONE_DAY, tz).isoformat() == ceil


def test_hour_boundaries_in_a_half_hour_zone() -> None:
    instant = datetime(2024, 1, 1, 1, 0, tzinfo=UTC)  # 06:30 in Kolkata
    assert floor_to_unit(instant, HOUR, KOLKATA).isoformat() == "2024-01-01T06:00:00+05:30"
    assert ceil_to_unit(instant, HOUR, KOLKATA).isoformat() == "2024-01-01T07:00:00+05:30"


def test_day_floor_and_ceil_on_dst_days() -> None:
    spring = at(BERLIN, 2024, 3, 31, 12, 0)
    assert floor_to_unit(spring, ONE_DAY, BERLIN).isoformat() == "2024-03-31T00:00:00+01:00"
    assert ceil_to_unit(spring, ONE_DAY, BERLIN).isoformat() == "2024-04-01T00:00:00+02:00"
    autumn = at(NEW_YORK, 2024, 11, 3, 12, 0)
    assert floor_to_unit(autumn, ONE_DAY, NEW_YORK).isoformat() == "2024-11-03T00:00:00-04:00"
    assert ceil_to_unit(autumn, ONE_DAY, NEW_YORK).isoformat() == "2024-11-04T00:00:00-05:00"


def test_a_skipped_midnight_floors_to_the_first_moment_of_the_day() -> None:
    santiago = ZoneInfo("America/Santiago")  # 2024-09-08 began at 01:00
    instant = at(santiago, 2024, 9, 8, 10, 0)
    assert floor_to_unit(instant, ONE_DAY, santiago).isoformat() == "2024-09-08T01:00:00-03:00"
    day_before = at(santiago, 2024, 9, 7, 10, 0)
    assert ceil_to_unit(day_before, ONE_DAY, santiago).isoformat() == "2024-09-08T01:00:00-03:00"


def test_hour_floor_in_the_repeated_hour_is_the_start_of_that_same_hour() -> None:
    second_occurrence = datetime(2024, 10, 27, 1, 30, tzinfo=UTC)  # 02:30+01:00
    assert floor_to_unit(second_occurrence, HOUR, BERLIN).isoformat() == "2024-10-27T02:00:00+01:00"
    assert ceil_to_unit(second_occurrence, HOUR, BERLIN).isoformat() == "2024-10-27T03:00:00+01:00"
    first_occurrence = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # 02:30+02:00
    assert floor_to_unit(first_occurrence, HOUR, BERLIN).isoformat() == "2024-10-27T02:00:00+02:00"
    assert ceil_to_unit(first_occurrence, HOUR, BERLIN).isoformat() == "2024-10-27T02:00:00+01:00"


def test_hour_ceil_where_the_offset_moves_by_half_an_hour() -> None:
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # 2024-04-07: 02:00+11:00 -> 01:30+10:30
    instant = datetime(2024, 4, 6, 15, 15, tzinfo=UTC)  # 01:45+10:30, after the change
    assert floor_to_unit(instant, HOUR, lord_howe).isoformat() == "2024-04-07T01:00:00+11:00"
    assert ceil_to_unit(instant, HOUR, lord_howe).isoformat() == "2024-04-07T02:00:00+10:30"


# ---------------------------------------------------------------------------
# Properties

ZONES: list[tzinfo] = [
    UTC,
    BERLIN,
    NEW_YORK,
    KOLKATA,
    ST_JOHNS,
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("America/Santiago"),
    ZoneInfo("Asia/Kathmandu"),
    ZoneInfo("Pacific/Chatham"),
    KATHMANDU_FIXED,
    NEWFOUNDLAND_FIXED,
]
INTERVALS = [
    "1 second",
    "7 minutes",
    "1 hour",
    "5h",
    "PT90M",
    "1 day",
    "3 days",
    "P1DT12H",
    "1 week",
    "1 month",
    "2 months",
    "1 quarter",
    "1 year",
    "P1M1D",
]


def approximate_micros(interval: Interval) -> int:
    return (
        interval.months * 31 * 86_400 * SECOND_US
        + interval.days * 86_400 * SECOND_US
        + interval.micros
    )


@st.composite
def ranges(draw: st.DrawFn) -> tuple[datetime, datetime, Interval, tzinfo]:
    interval = parse_interval(draw(st.sampled_from(INTERVALS)))
    tz = draw(st.sampled_from(ZONES))
    start = draw(
        st.datetimes(
            min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        )
    )
    span = draw(st.integers(min_value=1, max_value=40 * approximate_micros(interval)))
    return start.astimezone(tz), start + timedelta(microseconds=span), interval, tz


@given(ranges())
def test_edges_partition_the_range(case: tuple[datetime, datetime, Interval, tzinfo]) -> None:
    start, end, interval, tz = case
    edges = bucket_edges(start, end, interval, tz)
    utc = [edge.astimezone(UTC) for edge in edges]
    assert utc[0] == start.astimezone(UTC)
    assert utc[-1] == end.astimezone(UTC)
    assert all(earlier < later for earlier, later in zip(utc, utc[1:], strict=False))
    assert all(edge.tzinfo is tz for edge in edges)
    assert len(edges) - 1 == bucket_count(start, end, interval, tz)
    for k, edge in enumerate(utc[:-1]):
        assert edge == step(start, interval, k, tz).astimezone(UTC)
    steps = [step(start, interval, k, tz).astimezone(UTC) for k in range(len(edges))]
    assert lengths(edges)[:-1] == [b - a for a, b in zip(steps, steps[1:], strict=False)][:-1]
    assert utc[-1] - utc[-2] <= steps[-1] - steps[-2]


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(ZONES),
    st.sampled_from(
        ["1 second", "1 minute", "1 hour", "1 day", "1 week", "1 month", "1 quarter", "1 year"]
    ),
)
def test_floor_and_ceil_bracket_the_instant(instant: datetime, tz: tzinfo, interval: str) -> None:
    parsed = parse_interval(interval)
    floor = floor_to_unit(instant, parsed, tz)
    ceil = ceil_to_unit(instant, parsed, tz)
    assert floor.astimezone(UTC) <= instant <= ceil.astimezone(UTC)
    assert floor.tzinfo is tz
    assert ceil.tzinfo is tz
    assert floor_to_unit(floor, parsed, tz).isoformat() == floor.isoformat()
    assert ceil_to_unit(ceil, parsed, tz).isoformat() == ceil.isoformat()
    if floor.astimezone(UTC) == instant:
        assert ceil.isoformat() == floor.isoformat()


@pytest.mark.parametrize(
    ("zone", "start", "skipped"),
    [
        ("Pacific/Apia", date(2011, 12, 27), date(2011, 12, 30)),
        ("Pacific/Kiritimati", date(1994, 12, 28), date(1994, 12, 31)),
        ("Pacific/Kwajalein", date(1993, 8, 18), date(1993, 8, 21)),
    ],
)
def test_a_day_a_zone_skips_has_no_bucket_and_is_named(
    zone: str, start: date, skipped: date
) -> None:
    tz = ZoneInfo(zone)
    first = localise(datetime.combine(start, time()), tz)
    end = localise(datetime.combine(start + 7 * DAY, time()), tz)
    edges = bucket_edges(first, end, parse_interval("1 day"), tz)
    assert len(edges) - 1 == 6  # seven calendar days, one of which never was
    assert skipped not in {e.date() for e in edges}
    assert skipped_buckets(edges, parse_interval("1 day"), tz) == [
        datetime.combine(skipped, time())
    ]
    berlin = bucket_edges(first.replace(tzinfo=BERLIN), end.replace(tzinfo=BERLIN), P1D, BERLIN)
    assert skipped_buckets(berlin, P1D, BERLIN) == []
