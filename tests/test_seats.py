"""Seats: daily/7/30/90-day active users, dormant seats and growth, against a direct count."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from activity_report.seats import parse_dormant_after, window_counts

from .conftest import run_cli, write_csv

HEADER = ("time", "user_id", "category", "organization_id", "end_time")
HEARTBEAT = timedelta(minutes=1)


@dataclass(frozen=True)
class Event:
    time: datetime
    user: str
    category: str = "ide"
    org: str = "o1"
    end: datetime | None = None

    @property
    def covers(self) -> tuple[datetime, datetime]:
        return self.time, self.end if self.end is not None else self.time + HEARTBEAT


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# Europe/Berlin: clocks go forward on 2022-03-27 (02:00 -> 03:00) and back on 2022-10-30.
EVENTS = (
    # Spans local midnight 26/27 March: active on both days.
    Event(utc("2022-03-26T22:30:00"), "span", end=utc("2022-03-26T23:30:00")),
    # 01:30 on the 23-hour day; 00:30 CEST on 28 March is 27 March in UTC.
    Event(utc("2022-03-27T00:30:00"), "dst", "login"),
    Event(utc("2022-03-27T22:30:00"), "dst", "app", "o2"),
    # Only before the range (2022-03-20 .. 2022-04-10): in the trailing windows, not dormant.
    Event(utc("2022-02-10T09:00:00"), "early", "tunnel", "o2"),
    # Long ago: dormant, last active that day.
    Event(utc("2021-10-01T09:00:00"), "gone", "ide", "o1"),
    # First and last day of the range, the last one's minute ending at the range's end.
    Event(utc("2022-03-19T23:00:00"), "edges", "web_terminal", "o2"),  # 00:00 local, 20 March
    Event(utc("2022-04-09T21:59:00"), "edges", "web_terminal", "o2"),  # 23:59 local, 9 April
    # After the range: counted nowhere.
    Event(utc("2022-04-10T08:00:00"), "late", "ide", "o1"),
    # The fall-back day (25 hours) and the day after, for the second range.
    Event(utc("2022-10-30T00:30:00"), "fall", "ide", "o1", utc("2022-10-30T01:30:00")),
    Event(utc("2022-10-30T22:59:00"), "fall", "login", "o2"),  # 23:59 CET, 30 Oct
    Event(utc("2022-10-31T00:10:00"), "span", "ide", "o1"),
)
DIRECTORY = (
    ("span", "Sam Pan", "sam"),
    ("ghost", "Gus Host", "gus"),  # never seen
    ("gone", "Gon E", "gone"),
    ("early", "Earl Y", "earl"),
)


def write_log(tmp_path: Path) -> tuple[Path, Path]:
    rows = [
        (e.time.isoformat(), e.user, e.category, e.org, "" if e.end is None else e.end.isoformat())
        for e in EVENTS
    ]
    events = write_csv(tmp_path / "events.csv", HEADER, rows)
    users = write_csv(tmp_path / "users.csv", ("id", "name", "username"), DIRECTORY)
    return events, users


def midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def active_on(day: date, tz: ZoneInfo, keep: Any) -> set[str]:
    """Users with an event in the day or coverage overlapping it: the direct definition."""
    lo, hi = midnight(day, tz), midnight(day + timedelta(days=1), tz)
    users = set()
    for e in EVENTS:
        if not keep(e):
            continue
        start, end = e.covers
        if lo <= e.time < hi or (start < hi and end > lo and min(end, hi) > max(start, lo)):
            users.add(e.user)
    return users


def expected(
    first: date,
    end: date,
    tz: ZoneInfo,
    keep: Any,
    known: set[str],
    dormant_days: int = 90,
    directory: bool = True,
) -> dict[str, Any]:
    days: list[dict[str, Any]] = []
    day = first
    while day < end:

        def window(n: int, d: date = day) -> int:
            return len(set().union(*(active_on(d - timedelta(k), tz, keep) for k in range(n))))

        days.append(
            {
                "day": day.isoformat(),
                "active_1d": window(1),
                "active_7d": window(7),
                "active_30d": window(30),
                "active_90d": window(90),
            }
        )
        day += timedelta(days=1)
    last: dict[str, date] = {}
    day = date(2021, 9, 30)  # before the first event
    while day < end:
        for user in active_on(day, tz, keep):
            last[user] = day
        day += timedelta(days=1)
    names = {uid: (name, username) for uid, name, username in DIRECTORY if directory}
    dormant = [
        {
            "user_id": uid,
            "username": names.get(uid, (None, None))[1],
            "name": names.get(uid, (None, None))[0],
            "last_active": last[uid].isoformat() if uid in last else None,
        }
        for uid in sorted(known | set(last))
        if uid not in last or last[uid] < end - timedelta(days=dormant_days)
    ]
    dormant.sort(key=lambda u: (u["last_active"] is not None, u["last_active"] or ""))
    monthly = sum(d["active_30d"] for d in days)
    sticky = round(sum(d["active_1d"] for d in days) / monthly, 4) if monthly else None
    return {"days": days, "stickiness": sticky, "dormant": dormant}


def seats_json(*args: str) -> dict[str, Any]:
    run = run_cli("seats", *args, "--format", "json")
    assert run.exit_code == 0, run.stderr
    body: dict[str, Any] = json.loads(run.stdout)
    return body


BERLIN = ZoneInfo("Europe/Berlin")
KNOWN = {uid for uid, _, _ in DIRECTORY}


@pytest.mark.parametrize(
    ("flags", "keep"),
    [
        ((), lambda e: True),
        (("--org", "o2"), lambda e: e.org == "o2"),
        (("--category", "ide"), lambda e: e.category == "ide"),
        (("--org", "o1", "--category", "ide"), lambda e: e.org == "o1" and e.category == "ide"),
    ],
    ids=["all", "org", "category", "org-and-category"],
)
def test_spring_range_equals_the_direct_count(
    tmp_path: Path, flags: tuple[str, ...], keep: Any
) -> None:
    events, users = write_log(tmp_path)
    got = seats_json(
        "--events", str(events), "--users", str(users), "--tz", "Europe/Berlin",
        "--start", "2022-03-20", "--end", "2022-04-10", *flags,
    )  # fmt: skip
    assert got == expected(date(2022, 3, 20), date(2022, 4, 10), BERLIN, keep, KNOWN)


def test_the_cases_by_name(tmp_path: Path) -> None:
    events, users = write_log(tmp_path)
    got = seats_json(
        "--events", str(events), "--users", str(users), "--tz", "Europe/Berlin",
        "--start", "2022-03-20", "--end", "2022-04-10",
    )  # fmt: skip
    by_day = {d["day"]: d for d in got["days"]}
    # The spans of midnight and the DST day: span on 26 and 27, dst on 27 and 28.
    assert by_day["2022-03-27"]["active_1d"] == 2
    assert by_day["2022-03-28"]["active_1d"] == 1
    # First and last day: edges only; the early user is in the 90-day window, not in the 30.
    assert (by_day["2022-03-20"]["active_1d"], by_day["2022-04-09"]["active_1d"]) == (1, 1)
    assert by_day["2022-03-20"]["active_90d"] == 2
    assert by_day["2022-03-20"]["active_30d"] == 1
    assert list(by_day)[0] == "2022-03-20" and list(by_day)[-1] == "2022-04-09"
    dormant = {u["user_id"]: u["last_active"] for u in got["dormant"]}
    assert dormant == {"ghost": None, "gone": "2021-10-01"}
    assert [u["user_id"] for u in got["dormant"]] == ["ghost", "gone"]  # never seen first


def test_fall_back_range_and_utc_differ_by_zone(tmp_path: Path) -> None:
    events, users = write_log(tmp_path)
    for zone in ("Europe/Berlin", "UTC"):
        tz = ZoneInfo(zone)
        got = seats_json(
            "--events", str(events), "--users", str(users), "--tz", zone,
            "--start", "2022-10-29", "--end", "2022-11-02",
        )  # fmt: skip
        assert got == expected(date(2022, 10, 29), date(2022, 11, 2), tz, lambda e: True, KNOWN)


def test_dormant_after_and_without_a_directory(tmp_path: Path) -> None:
    events, _ = write_log(tmp_path)
    got = seats_json(
        "--events", str(events), "--tz", "Europe/Berlin", "--start", "2022-03-20",
        "--end", "2022-04-10", "--dormant-after", "30d",
    )  # fmt: skip
    want = expected(date(2022, 3, 20), date(2022, 4, 10), BERLIN, lambda e: True, set(), 30, False)
    assert got == want
    assert [u["user_id"] for u in got["dormant"]] == ["gone", "early"]


def test_user_filter_limits_the_dormant_list(tmp_path: Path) -> None:
    events, users = write_log(tmp_path)
    got = seats_json(
        "--events", str(events), "--users", str(users), "--tz", "Europe/Berlin",
        "--start", "2022-03-20", "--end", "2022-04-10", "--user", "gus", "--user", "span",
    )  # fmt: skip
    keep = lambda e: e.user in ("ghost", "span")  # noqa: E731
    assert got == expected(date(2022, 3, 20), date(2022, 4, 10), BERLIN, keep, {"ghost", "span"})


def test_growth_classes(tmp_path: Path) -> None:
    rows = [
        ("2022-01-03T10:00:00Z", "a", "ide"),  # week 1: a new
        ("2022-01-10T10:00:00Z", "a", "ide"),  # week 2: a retained
        ("2022-01-11T10:00:00Z", "b", "ide"),  # week 2: b new
        ("2022-01-19T10:00:00Z", "b", "ide"),  # week 3: b retained, a churned
        ("2022-01-24T10:00:00Z", "a", "ide"),  # week 4: a resurrected, b churned
        ("2021-12-28T10:00:00Z", "c", "ide"),  # the week before the range
        ("2022-01-04T10:00:00Z", "c", "ide"),  # week 1: c retained
    ]
    events = write_csv(tmp_path / "g.csv", ("time", "user_id", "category"), rows)
    got = seats_json(
        "--events", str(events), "--start", "2022-01-03", "--end", "2022-01-31", "--growth",
    )  # fmt: skip
    assert got["growth"] == [
        {"time": "2022-01-03T00:00:00Z", "active": 2, "new": 1, "retained": 1,
         "resurrected": 0, "churned": 0},
        {"time": "2022-01-10T00:00:00Z", "active": 2, "new": 1, "retained": 1,
         "resurrected": 0, "churned": 1},
        {"time": "2022-01-17T00:00:00Z", "active": 1, "new": 0, "retained": 1,
         "resurrected": 0, "churned": 1},
        {"time": "2022-01-24T00:00:00Z", "active": 1, "new": 0, "retained": 0,
         "resurrected": 1, "churned": 1},
    ]  # fmt: skip
    for g in got["growth"]:
        assert g["new"] + g["retained"] + g["resurrected"] == g["active"]


def test_growth_refuses_buckets_of_hours(tmp_path: Path) -> None:
    events = write_csv(
        tmp_path / "g.csv", ("time", "user_id", "category"), [("2022-01-03T10:00:00Z", "a", "ide")]
    )
    run = run_cli("seats", "--events", str(events), "--growth", "--interval", "6 hours")
    assert run.exit_code == 2
    assert run.stderr == (
        "activity-report: error: --interval 6 hours: growth is counted per whole days; use "
        "days, weeks, months, quarters or years, such as 1 week\n"
    )
    assert run.stdout == ""


def test_bad_dormant_after_is_a_usage_error(tmp_path: Path) -> None:
    events = write_csv(
        tmp_path / "g.csv", ("time", "user_id", "category"), [("2022-01-03T10:00:00Z", "a", "ide")]
    )
    run = run_cli("seats", "--events", str(events), "--dormant-after", "3 months")
    assert run.exit_code == 2
    assert "--dormant-after" in run.stderr and "90d" in run.stderr
    assert run.stderr.count("\n") == 1 and run.stdout == ""


def test_parse_dormant_after() -> None:
    assert [parse_dormant_after(t) for t in ("90d", "60 days", "2 weeks", "P30D")] == [
        90,
        60,
        14,
        30,
    ]


def test_window_counts_against_unions() -> None:
    import random

    rng = random.Random(7)
    active = [{u for u in "abcdefgh" if rng.random() < 0.15} for _ in range(120)]
    counts = window_counts(active, (1, 7, 30))
    for w, per_day in zip((1, 7, 30), counts, strict=True):
        for i, got in enumerate(per_day):
            assert got == len(set().union(*active[max(0, i - w + 1) : i + 1]))


def test_default_range_formats_and_output_file(tmp_path: Path) -> None:
    events, users = write_log(tmp_path)
    common = (
        "--events",
        str(events),
        "--users",
        str(users),
        "--start",
        "2022-03-25",
        "--end",
        "2022-03-29",
    )
    body = seats_json(*common)
    csv_run = run_cli("seats", *common, "--format", "csv")
    lines = csv_run.stdout.splitlines()
    assert lines[0] == "day,active_1d,active_7d,active_30d,active_90d"
    assert lines[1:] == [
        ",".join(str(d[k]) for k in ("day", "active_1d", "active_7d", "active_30d", "active_90d"))
        for d in body["days"]
    ]
    nd = run_cli("seats", *common, "--format", "ndjson").stdout.splitlines()
    assert [json.loads(line) for line in nd] == body["days"]
    md = run_cli("seats", *common, "--format", "markdown").stdout
    assert "| ghost | gus | Gus Host |  |" in md
    table = run_cli("seats", *common, "--format", "table", "--color", "never")
    assert table.exit_code == 0 and "Dormant seats (2)" in table.stdout and "never" in table.stdout
    out = tmp_path / "seats.json"
    assert run_cli("seats", *common, "-o", str(out)).exit_code == 0
    assert json.loads(out.read_text()) == body
    # Without a range: the first event's day to the day after the last covered moment.
    whole = seats_json("--events", str(events))
    assert whole["days"][0]["day"] == "2021-10-01" and whole["days"][-1]["day"] == "2022-10-31"


@pytest.mark.parametrize(
    "flags",
    [
        ("--tz", "Europe/Berlin", "--start", "2022-03-20", "--end", "2022-04-10"),
        ("--tz", "UTC", "--start", "2022-10-01", "--end", "2022-11-02", "--growth"),
        ("--tz", "Europe/Berlin", "--org", "o2", "--start", "2022-03-01", "--end", "2022-04-10"),
        ("--tz", "Asia/Kathmandu", "--category", "ide", "--interval", "monthly", "--growth"),
        ("--dormant-after", "120d", "--user", "span", "--user", "ghost"),
    ],
    ids=["berlin", "utc-growth", "org", "kathmandu-category", "user"],
)
def test_the_store_answers_from_its_rollups_what_the_files_do(
    tmp_path: Path, flags: tuple[str, ...]
) -> None:
    events, users = write_log(tmp_path)
    db = str(tmp_path / "store.duckdb")
    assert run_cli("ingest", "--db", db, str(events)).exit_code == 0
    assert run_cli("users", "import", "--db", db, str(users)).exit_code == 0
    from_files = run_cli("seats", "--events", str(events), "--users", str(users), "--json", *flags)
    from_store = run_cli("seats", "--db", db, "--json", "--verbose", *flags)
    assert from_files.exit_code == from_store.exit_code == 0, from_store.stderr
    assert from_store.stdout == from_files.stdout
    assert "answered from the rollups of the store" in from_store.stderr


def test_html_page_draws_the_four_lines_from_the_json(tmp_path: Path) -> None:
    import re

    events, users = write_log(tmp_path)
    common = ("--events", str(events), "--users", str(users), "--tz", "Europe/Berlin",
              "--start", "2022-03-20", "--end", "2022-04-10")  # fmt: skip
    body = seats_json(*common)
    page = tmp_path / "seats.html"
    run = run_cli("seats", *common, "-o", str(page))
    assert run.exit_code == 0, run.stderr
    html = page.read_text()
    assert "<script" not in html and f'id="stickiness">{body["stickiness"]:.2f}<' in html
    assert html.count('<td class="last-active">never</td>') == 1  # ghost
    for field in ("active_1d", "active_7d", "active_30d", "active_90d"):
        found = re.search(f'class="line {field}" points="([^"]+)"', html)
        assert found is not None, field
        ys = [float(point.split(",")[1]) for point in found.group(1).split()]
        values = [d[field] for d in body["days"]]
        assert len(ys) == len(values) == 21
        zero = 256.0  # the plot's bottom: the zero line
        scale = {round((zero - y) / v, 3) for y, v in zip(ys, values, strict=True) if v}
        assert len(scale) == 1, (field, scale)  # heights proportional to the figures
        assert all(y == zero for y, v in zip(ys, values, strict=True) if v == 0)


def test_the_docs_show_the_real_output_of_their_commands() -> None:
    """Each ``$ activity-report seats`` example of docs/seats.md (no pipe) prints what it shows."""
    import re
    import shlex

    from .conftest import ROOT

    text = (ROOT / "docs" / "seats.md").read_text(encoding="utf-8")
    checked = 0
    for block in re.findall(r"```console\n(.*?)```", text, re.DOTALL):
        command, _, shown = block.partition("\n")
        while command.endswith("\\"):
            more, _, shown = shown.partition("\n")
            command = command[:-1] + more
        if not command.startswith("$ activity-report seats") or "|" in command:
            continue
        args = shlex.split(command[2:])[1:]
        args = [str(ROOT / a) if a.startswith("sample_data/") else a for a in args]
        run = run_cli(*args, env={"COLUMNS": "80", "NO_COLOR": "1"})
        assert run.exit_code == 0, run.stderr
        printed = "\n".join(line.rstrip() for line in run.stdout.splitlines())
        assert printed.rstrip("\n") == shown.rstrip("\n"), command
        checked += 1
    assert checked == 3


def test_a_range_before_the_first_event_and_a_filter_matching_nothing(tmp_path: Path) -> None:
    events, users = write_log(tmp_path)
    common = ("--events", str(events), "--users", str(users), "--tz", "Europe/Berlin")
    early = seats_json(*common, "--start", "2021-09-01", "--end", "2021-10-03")
    assert early == expected(date(2021, 9, 1), date(2021, 10, 3), BERLIN, lambda e: True, KNOWN)
    assert early["days"][-2]["active_1d"] == 1  # gone, on 1 October

    ranged = run_cli("seats", *common, "--org", "nope", "--start", "2022-03-20",
                     "--end", "2022-03-23", "--json")  # fmt: skip
    assert ranged.exit_code == 0
    want = expected(date(2022, 3, 20), date(2022, 3, 23), BERLIN, lambda e: False, KNOWN)
    assert json.loads(ranged.stdout) == want
    assert [u["last_active"] for u in want["dormant"]] == [None] * 4
    assert ranged.stderr == (
        "activity-report: warning: --org 'nope' matches no organization id in the data\n"
        "activity-report: note: no activity in the range\n"
    )

    unranged = run_cli("seats", *common, "--org", "nope", "--json")
    assert unranged.exit_code == 0
    assert json.loads(unranged.stdout) == {
        "days": [],
        "stickiness": None,
        "dormant": want["dormant"],
    }
    assert "no events match the filters; the seats are empty" in unranged.stderr


def test_a_range_in_the_year_1_has_empty_windows_and_never_active_seats(tmp_path: Path) -> None:
    events, users = write_log(tmp_path)
    body = seats_json(
        "--events", str(events), "--users", str(users), "--start", "0001-03-01",
        "--end", "0001-04-01", "--growth", "--interval", "yearly",
    )  # fmt: skip
    assert len(body["days"]) == 31 and body["days"][0]["day"] == "0001-03-01"
    assert {d["active_90d"] for d in body["days"]} == {0}
    # The windows and the dormancy reach before the year 1: no time, so no one there.
    assert [u["user_id"] for u in body["dormant"]] == sorted(KNOWN)
    assert {u["last_active"] for u in body["dormant"]} == {None}
    assert body["growth"] == [
        {"time": "0001-03-01T00:00:00Z", "active": 0, "new": 0, "retained": 0,
         "resurrected": 0, "churned": 0},
    ]  # fmt: skip
    # Fewer days of history than --dormant-after: a user never seen is dormant still.
    short = seats_json("--events", str(events), "--users", str(users), "--start", "0001-01-10",
                       "--end", "0001-02-01")  # fmt: skip
    assert [u["user_id"] for u in short["dormant"]] == sorted(KNOWN)
    east = seats_json("--events", str(events), "--start", "0001-01-02", "--end", "0001-01-09",
                      "--tz", "+05:00")  # fmt: skip
    assert [d["day"] for d in east["days"]][::7] == ["0001-01-02"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ("--start", "0001-01-01T06:00", "--end", "0001-02-01", "--tz", "+05:00"),
            "invalid value for --start: '0001-01-01T06:00:00+05:00' (its day starts in the "
            "year 0 in UTC; give 0001-01-02 or later)",
        ),
        (
            ("--start", "9999-12-01", "--end", "9999-12-31T12:00"),
            "invalid value for --end: '9999-12-31T12:00:00+00:00' (the seats count whole days, "
            "and its day ends after the year 9999; give 9999-12-31 or earlier)",
        ),
    ],
    ids=["start-in-year-0", "end-past-9999"],
)
def test_a_day_beyond_the_years_1_to_9999_is_a_usage_error(
    tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    events, _ = write_log(tmp_path)
    run = run_cli("seats", "--events", str(events), *flags)
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == f"activity-report: error: {message}\n"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ("--start", "2022-08-01", "--end", "9999-12-31"),
            "the seats need 2913780 days, from 2022-05-04 to 9999-12-30, more than their "
            "limit (1000000); use a later --start or an earlier --end",
        ),
        (
            ("--end", "9999-12-31"),  # the events of 2021 are counted, whatever the start
            "the seats need 2914084 days, from 2021-07-04 to 9999-12-30, more than their "
            "limit (1000000); use an earlier --end",
        ),
        (
            ("--start", "1700-01-01", "--end", "2022-01-01", "--growth", "--interval", "1d"),
            "the range holds 117,608 buckets of 1 day, more than the limit (100,000); "
            "use a longer --interval or a shorter range",
        ),
    ],
    ids=["days-from-start", "days-from-events", "growth-buckets"],
)
def test_too_long_a_range_names_only_options_seats_has(
    tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    events, _ = write_log(tmp_path)
    run = run_cli("seats", "--events", str(events), *flags)
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == f"activity-report: error: {message}\n"
    assert "--max-buckets" not in run.stderr  # seats has no such option
