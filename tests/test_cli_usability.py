"""What a new user meets first: relative ranges, filters that match nothing, messages, help."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from .conftest import SAMPLE, run_cli

PARQUET = SAMPLE / "events.parquet"
USERS = SAMPLE / "users.csv"


# --------------------------------------------------------------------------- relative ranges


def test_now_and_ago_give_buckets_on_calendar_boundaries(
    events_csv: Callable[..., Path],
) -> None:
    """A relative range never gives buckets at 21:51:29.858785, different on every run."""
    path = events_csv([("2022-08-01T10:00:00Z", "u1", "ide")])
    for interval, boundary in (("daily", "T00:00:00Z"), ("hourly", ":00:00Z")):
        run = run_cli(
            "--events", str(path), "--start", "3 days ago", "--end", "now",
            "--interval", interval, "--json",
        )  # fmt: skip
        assert run.exit_code == 0, run.stderr
        times = [bucket["time"] for bucket in json.loads(run.stdout)["activity"]]
        assert times
        assert all(time.endswith(boundary) for time in times), times


# --------------------------------------------------------------------------- filters


ORG_ROWS = [
    ("2022-08-01T10:00:00Z", "u1", "ide", "org-eng"),
    ("2022-08-01T11:00:00Z", "u2", "ide", "org-ops"),
]
ORG_HEADER = ("time", "user_id", "category", "organization_id")
RANGE = ("--start", "2022-08-01", "--end", "2022-08-02", "--format", "csv")
CSV_HEADER = "time,bucket_duration,user_id,name,username,count,duration\n"


def test_an_org_that_differs_only_in_case_is_named_with_the_near_miss(
    events_csv: Callable[..., Path],
) -> None:
    path = events_csv(ORG_ROWS, header=ORG_HEADER)
    run = run_cli("--events", str(path), "--org", "ORG-ENG", *RANGE)
    assert (run.exit_code, run.stdout) == (0, CSV_HEADER)
    assert run.stderr == (
        "activity-report: warning: --org 'ORG-ENG' matches no organization id in the data "
        "(organization ids are case-sensitive; the data has 'org-eng')\n"
        "activity-report: note: no activity in the range for these filters\n"
    )


def test_only_the_org_that_matches_nothing_is_named(events_csv: Callable[..., Path]) -> None:
    path = events_csv(ORG_ROWS, header=ORG_HEADER)
    run = run_cli("--events", str(path), "--org", "org-eng", "--org", "org-qa", *RANGE)
    assert run.exit_code == 0
    assert run.stdout.count("\n") == 2  # the header and u1's row
    assert run.stderr == (
        "activity-report: warning: --org 'org-qa' matches no organization id in the data\n"
    )


def test_a_username_without_a_directory_says_users_is_needed() -> None:
    run = run_cli("--events", str(PARQUET), "--user", "joe2", *RANGE)
    assert (run.exit_code, run.stdout) == (0, CSV_HEADER)
    assert run.stderr == (
        "activity-report: warning: --user 'joe2' matches no user id in the data; to give a "
        "username, pass the user directory with --users FILE (or import it into the store "
        "with `activity-report users import FILE`)\n"
        "activity-report: note: no activity in the range for these filters\n"
    )
    named = run_cli("--events", str(PARQUET), "--users", str(USERS), "--user", "joe2", *RANGE)
    assert named.exit_code == 0
    assert named.stderr == ""
    assert "joe2" in named.stdout


def test_a_user_in_neither_the_data_nor_the_directory_is_named(tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text(
        USERS.read_text(encoding="utf-8") + "no-events-id,Nemo,nemo,site-member,,\n",
        encoding="utf-8",
    )
    run = run_cli(
        "--events", str(PARQUET), "--users", str(users),
        "--user", "joe2", "--user", "user05", "--user", "nemo", *RANGE,
    )  # fmt: skip
    assert run.exit_code == 0
    assert run.stderr == (
        "activity-report: warning: --user 'user05' matches no user id in the data and no "
        "username in the user directory\n"
        "activity-report: warning: --user 'nemo' (user id no-events-id) has no events in "
        "the data\n"
    )


def test_filters_that_match_nothing_are_named_for_the_store_too(tmp_path: Path) -> None:
    db = str(tmp_path / "store.duckdb")
    assert run_cli("ingest", "--db", db, str(PARQUET)).exit_code == 0
    run = run_cli("--db", db, "--org", "ORG-ENG", *RANGE)
    assert run.exit_code == 0
    assert run.stderr.startswith(
        "activity-report: warning: --org 'ORG-ENG' matches no organization id in the data\n"
    )


# --------------------------------------------------------------------------- no valid row


def test_a_file_with_no_valid_row_is_an_error_not_an_empty_report(
    events_csv: Callable[..., Path],
) -> None:
    """Epoch numbers as times: a cron job must not mail an empty report as a success."""
    path = events_csv([("1659348000", "u1", "ide"), ("1659348060", "u1", "ide")])
    run = run_cli("--events", str(path), "--json")
    assert (run.exit_code, run.stdout) == (1, "")
    assert run.stderr == (
        f"activity-report: error: {path}: none of its 2 rows is valid (2 unparseable time); "
        "its times look like seconds since the epoch, such as '1659348000': read them with "
        "--time-format epoch-s\n"
    )
    fixed = run_cli("--events", str(path), "--json", "--time-format", "epoch-s")
    assert (fixed.exit_code, fixed.stderr) == (0, "")
    assert json.loads(fixed.stdout)["activity"][0]["user_activity"][0]["count"] == 2


@pytest.mark.parametrize(
    ("times", "tail"),
    [
        (
            ("1659348000123", "1659348060456"),
            "its times look like milliseconds since the epoch, such as '1659348000123': read "
            "them with --time-format epoch-ms",
        ),
        (
            ("1659348000123456",),
            "its times look like microseconds since the epoch, such as '1659348000123456': "
            "read them with --time-format epoch-us",
        ),
        (
            ("1659348000123456789",),
            "its times look like nanoseconds since the epoch, such as '1659348000123456789': "
            "read them with --time-format epoch-ns",
        ),
        (
            (" 1659348000.25", "+1659348060"),
            "its times look like seconds since the epoch, such as '1659348000.25': read them "
            "with --time-format epoch-s",
        ),
        # Too small to name a unit, or of two units: every unit is offered.
        (
            ("42", "43"),
            "its times look like epoch numbers, such as '42': read them with --time-format "
            "epoch-s, epoch-ms, epoch-us or epoch-ns (the unit they count)",
        ),
        (
            ("1659348000", "1659348000123"),
            "its times look like epoch numbers, such as '1659348000': read them with "
            "--time-format epoch-s, epoch-ms, epoch-us or epoch-ns (the unit they count)",
        ),
        # Not numbers: the rule for ISO 8601 text, as before.
        (
            ("yesterday", "1659348000"),
            "times must be ISO 8601 text such as 2022-08-01T09:00:00Z; fix the file or leave "
            "it out",
        ),
        (
            ("1.659348e9",),
            "times must be ISO 8601 text such as 2022-08-01T09:00:00Z; fix the file or leave "
            "it out",
        ),
    ],
)
def test_epoch_numbers_as_times_are_told_the_time_format_that_reads_them(
    events_csv: Callable[..., Path], times: tuple[str, ...], tail: str
) -> None:
    path = events_csv([(t, "u1", "ide") for t in times])
    run = run_cli("--events", str(path), "--json")
    n = len(times)
    subject = (
        "its only row is not valid (1 unparseable time)"
        if n == 1
        else f"none of its {n} rows is valid ({n} unparseable time)"
    )
    assert (run.exit_code, run.stdout, run.stderr) == (
        1,
        "",
        f"activity-report: error: {path}: {subject}; {tail}\n",
    )


def test_the_epoch_hint_names_the_file_without_a_valid_row_among_others(tmp_path: Path) -> None:
    # One scan reads both files (the same header): the times shown are the bad file's.
    good = tmp_path / "a.csv"
    good.write_text("time,user_id,category\n2022-08-01T10:00:00Z,u1,ide\n", encoding="utf-8")
    bad = tmp_path / "b.csv"
    bad.write_text("time,user_id,category\n1659348000123,u1,ide\n", encoding="utf-8")
    run = run_cli("--events", str(good), "--events", str(bad), "--json")
    assert (run.exit_code, run.stdout, run.stderr) == (
        1,
        "",
        f"activity-report: error: {bad}: its only row is not valid (1 unparseable time); its "
        "times look like milliseconds since the epoch, such as '1659348000123': read them with "
        "--time-format epoch-ms\n",
    )


def test_json_lines_with_epoch_numbers_are_told_the_time_format(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(
        '{"ts": 1659348000, "user": "u1", "category": "ide"}\n'
        '{"ts": 1659348060.5, "user": "u1", "category": "ide"}\n',
        encoding="utf-8",
    )
    run = run_cli("--events", str(path), "--json")
    assert (run.exit_code, run.stdout, run.stderr) == (
        1,
        "",
        f"activity-report: error: {path}: none of its 2 rows is valid (2 unparseable time); "
        "its times look like seconds since the epoch, such as '1659348000': read them with "
        "--time-format epoch-s\n",
    )


def test_a_parquet_time_of_epoch_numbers_is_read_with_the_format_its_message_names(
    tmp_path: Path,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "epoch.parquet"
    table = {"time": [1659348000123], "user_id": ["u1"], "category": ["ide"]}
    pq.write_table(pa.table(table), path)
    run = run_cli("--events", str(path), "--json")
    assert (run.exit_code, run.stdout, run.stderr) == (
        1,
        "",
        f"activity-report: error: {path}: column 'time' (time) has type BIGINT; its numbers "
        "look like milliseconds since the epoch, such as 1659348000123: read them with "
        "--time-format epoch-ms\n",
    )
    fixed = run_cli("--events", str(path), "--json", "--time-format", "epoch-ms")
    assert (fixed.exit_code, fixed.stderr) == (0, "")
    assert json.loads(fixed.stdout)["activity"][0]["time"] == "2022-08-01T00:00:00Z"


def test_a_bare_duration_is_read_with_the_unit_its_message_names(
    events_csv: Callable[..., Path],
) -> None:
    path = events_csv(
        [("2022-08-01T10:00:00Z", "u1", "ide", "600")],
        header=("time", "user_id", "category", "duration"),
    )
    run = run_cli("--events", str(path), "--json")
    assert (run.exit_code, run.stdout, run.stderr) == (
        1,
        "",
        f"activity-report: error: {path}: column 'duration' is a bare number with no unit; "
        "rename it duration_s, duration_ms, duration_us or duration_ns, or name its unit with "
        "--column duration_s=duration (or duration_ms, duration_us, duration_ns)\n",
    )
    fixed = run_cli("--events", str(path), "--json", "--column", "duration_s=duration")
    assert (fixed.exit_code, fixed.stderr) == (0, "")
    user = json.loads(fixed.stdout)["activity"][0]["user_activity"][0]
    assert user["duration"] == 600 * 10**9


def test_a_file_with_no_valid_row_beside_good_ones_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time,user_id,category\n2022-08-01T10:00:00Z,,ide\n", encoding="utf-8")
    run = run_cli("--events", str(PARQUET), "--events", str(bad), "--json")
    assert (run.exit_code, run.stdout) == (1, "")
    assert run.stderr == (
        f"activity-report: error: {bad}: its only row is not valid (1 missing user_id); fix "
        "the file or leave it out\n"
    )


def test_a_file_of_malformed_lines_only_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "ragged.csv"
    bad.write_text("time,user_id,category\na,b,c,d\ne,f,g,h\n", encoding="utf-8")
    run = run_cli("--events", str(bad), "--json")
    assert (run.exit_code, run.stdout) == (1, "")
    assert run.stderr == (
        "activity-report: error: no row of the events is valid (2 too many fields; first in "
        f"{bad} row 1); fix the file or leave it out\n"
    )


def test_some_invalid_rows_still_give_a_report(events_csv: Callable[..., Path]) -> None:
    path = events_csv([("2022-08-01T10:00:00Z", "u1", "ide"), ("1659348060", "u1", "ide")])
    run = run_cli("--events", str(path), "--json")
    assert run.exit_code == 0
    assert run.stderr.startswith("activity-report: warning: skipped 1 invalid row")


# --------------------------------------------------------------------------- click's errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--format", "xml"),
            "invalid value for --format: 'xml' (use one of table, json, ndjson, csv, markdown, "
            "html)",
        ),
        (("--top", "-1"), "invalid value for --top: '-1' (use a whole number of 0 or more)"),
        (("--top", "x"), "invalid value for --top: 'x' (use a whole number of 0 or more)"),
        (
            ("--max-buckets", "0"),
            "invalid value for --max-buckets: '0' (use a whole number of 1 or more)",
        ),
        (
            ("--formt", "json"),
            "no such option: --formt (did you mean --format or --org or --time-format?); see "
            "`activity-report report --help`",
        ),
        (("report", "--events"), "--events needs a value"),
        (("ingest",), "missing argument PATHS (or --coder URL): see "
         "`activity-report ingest --help`"),
        (("users", "import"), "missing argument FILE: see `activity-report users import --help`"),
        (("info", "extra"), "unexpected argument 'extra': see `activity-report info --help`"),
        (("users",), "activity-report users needs a command: import, list"),
        (("users", "frob"), "no such command 'frob' for activity-report users: use one of "
         "import, list"),
        (("xyzzy",), "unexpected argument 'xyzzy': the commands are report, ingest, info, "
         "seats, serve, users, orgs, tokens, pseudonyms"),
        (("infoo",), "no such command 'infoo' (did you mean info?); the commands are report, "
         "ingest, info, seats, serve, users, orgs, tokens, pseudonyms"),
        (("ingets", "foo"), "no such command 'ingets' (did you mean ingest?); the commands are "
         "report, ingest, info, seats, serve, users, orgs, tokens, pseudonyms"),
        (("users", "lst"), "no such command 'lst' for activity-report users (did you mean "
         "list?): use one of import, list"),
    ],
)  # fmt: skip
def test_clicks_errors_read_like_the_tools_own(args: tuple[str, ...], message: str) -> None:
    run = run_cli(*args)
    assert (run.exit_code, run.stdout, run.stderr) == (
        2,
        "",
        f"activity-report: error: {message}\n",
    )


def test_an_unquoted_glob_gets_one_short_line(tmp_path: Path) -> None:
    """The shell expanded --events daily/*.csv: say to quote it, in one short line."""
    daily = tmp_path / "daily"
    daily.mkdir()
    files = [daily / f"2022-08-{day:02}.csv" for day in range(1, 31)]
    for file in files:
        file.write_text("time,user_id,category\n2022-08-01T10:00:00Z,u1,ide\n", encoding="utf-8")
    run = run_cli("--events", *(str(f) for f in files), "--json")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr == (
        f"activity-report: error: unexpected argument '{files[1]}' and 28 more: quote a glob "
        f"(--events '{daily}/*.csv') or repeat --events for each file\n"
    )


# --------------------------------------------------------------------------- users list


@pytest.mark.slow  # the sample ingested
def test_users_list_shows_the_stores_directory(tmp_path: Path) -> None:
    db = str(tmp_path / "store.duckdb")
    assert run_cli("ingest", "--db", db, str(PARQUET)).exit_code == 0
    empty = run_cli("users", "list", "--db", db)
    assert (empty.exit_code, empty.stdout) == (0, "")
    assert empty.stderr == (
        "activity-report: note: the store has no users; load them with "
        "`activity-report users import FILE`\n"
    )
    assert run_cli("users", "import", "--db", db, str(USERS)).exit_code == 0
    text = run_cli("users", "list", "--db", db)
    assert (text.exit_code, text.stderr) == (0, "")
    lines = text.stdout.splitlines()
    assert len(lines) == 16
    assert lines[0].split() == ["id", "username", "name", "roles"]
    joe = next(line for line in lines if "joe2" in line)
    assert joe.split("  ")[0] == "6004ad77-a7a69a24d779dd9f44357014"  # never cut
    assert joe.endswith("  site-member, site-manager")
    as_json = run_cli("users", "list", "--db", db, "--json")
    assert as_json.exit_code == 0
    users = json.loads(as_json.stdout)
    assert len(users) == 15
    assert users == sorted(users, key=lambda u: u["id"])
    assert next(u for u in users if u["username"] == "joe2") == {
        "id": "6004ad77-a7a69a24d779dd9f44357014",
        "name": "Joe",
        "username": "joe2",
        "roles": ["site-member", "site-manager"],
        "avatar_hash": "671b4b1db753a55396036354ff526c8df02e0a53bb4ce4990010a96ab8782ffd",
    }


# --------------------------------------------------------------------------- the summary line


BERLIN = (
    "--events", str(PARQUET), "--category", "login", "--interval", "daily",
    "--tz", "Europe/Berlin", "--start", "2022-08-01", "--end", "2022-08-08",
)  # fmt: skip


def test_the_summary_fits_80_columns_like_the_rows() -> None:
    run = run_cli(*BERLIN, env={"COLUMNS": "80"})
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[:2] == [
        "2022-08-01 through 2022-08-07 Europe/Berlin, every 1 day, login, all orgs",
        "14 active users, 121 events, 2h 1m active time",
    ]
    assert max(len(line) for line in lines) <= 80
    wide = run_cli(*BERLIN, env={"COLUMNS": "100"})
    assert wide.stdout.splitlines()[0].endswith("category login, all organizations")


def test_a_summary_too_long_for_any_abbreviation_is_ellipsised() -> None:
    orgs = ("8fcf83e2-07c5-4831-9aca-7d6616b738ef", "24a366f3-4245-4122-854f-7d993060f938")
    run = run_cli(
        *BERLIN, "--category", "web_terminal", "--org", orgs[0], "--org", orgs[1],
        env={"COLUMNS": "80"},
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith(
        "2022-08-01 through 2022-08-07 Europe/Berlin, every 1 day, web_terminal, orgs "
    )
    assert first.endswith("…")
    assert len(first) == 80


# --------------------------------------------------------------------------- cron noise


def test_a_nightly_reingest_and_later_reports_warn_only_about_news(tmp_path: Path) -> None:
    db = str(tmp_path / "store.duckdb")
    log = tmp_path / "log.csv"
    log.write_text(
        "time,user_id,category\n"
        "2022-07-01T10:00:00Z,u1,deploy\n"  # an unknown category, in July
        "lunchtime,u1,ide\n"  # an invalid row
        "2022-08-01T10:00:00Z,u1,ide\n",
        encoding="utf-8",
    )
    first = run_cli("ingest", "--db", db, str(log))
    assert first.exit_code == 0
    assert first.stderr.splitlines()[1:] == [
        "activity-report: warning: kept 1 invalid row in the store's rejects table (1 "
        f"unparseable time; first in {log} row 2); --strict refuses such a run",
        "activity-report: warning: 1 event has an unknown category and is in no report; "
        "commonest: 'deploy' (1)",
    ]
    again = run_cli("ingest", "--db", db, str(log))
    assert again.exit_code == 0
    assert again.stderr == (
        f"activity-report: ingested 1 file into {db}: 3 rows, 0 new, 2 duplicates, 1 rejected\n"
    )
    august = run_cli("--db", db, "--start", "2022-08-01", "--end", "2022-09-01", "--json")
    assert (august.exit_code, august.stderr) == (0, "")
    july = run_cli("--db", db, "--start", "2022-07-01", "--end", "2022-08-01", "--json")
    assert july.stderr == (
        "activity-report: warning: 1 event has an unknown category and is in no report; "
        "commonest: 'deploy' (1)\n"
        "activity-report: note: no activity in the range for these filters\n"
    )


@pytest.mark.slow  # five runs on a store
def test_plurals_are_singular_for_one(tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text("id,username\nu1,one\n", encoding="utf-8")
    run = run_cli("users", "import", "--db", str(tmp_path / "s.duckdb"), str(users))
    assert run.stderr == (
        f"activity-report: imported 1 user into {tmp_path / 's.duckdb'}: 1 added, 0 updated, "
        "0 unchanged\n"
    )
    log = tmp_path / "one.csv"
    log.write_text("time,user_id,category\n2022-08-01T10:00:00Z,u1,ide\n", encoding="utf-8")
    db = str(tmp_path / "s.duckdb")
    assert run_cli("ingest", "--db", db, str(log)).exit_code == 0
    twice = run_cli("ingest", "--db", db, str(log))
    assert twice.stderr == (
        f"activity-report: ingested 1 file into {db}: 1 row, 0 new, 1 duplicate, 0 rejected\n"
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "time,user_id,category\n2022-08-01T10:00:00Z,u1,ide\nlunchtime,u1,ide\n",
        encoding="utf-8",
    )
    strict = run_cli("--events", str(bad), "--strict")
    assert strict.stderr.startswith("activity-report: error: 1 invalid row (1 unparseable time")
    lenient = run_cli("--events", str(bad), "--json")
    assert lenient.stderr.startswith("activity-report: warning: skipped 1 invalid row (")


# --------------------------------------------------------------------------- the 1M trap


@pytest.mark.parametrize("text", ["1M", " 15 M ", "M"])
def test_a_capital_m_interval_keeps_its_meaning_with_a_hint(text: str) -> None:
    run = run_cli(
        "--events", str(PARQUET), "--interval", text,
        "--start", "2022-08-01", "--end", "2022-08-01T01:00", "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    minutes = 60 * 1_000_000_000 * int(text.strip().rstrip("M").strip() or 1)
    assert json.loads(run.stdout)["activity"][0]["duration"] == minutes
    assert run.stderr == (
        f"activity-report: note: --interval {text.strip()!r} is minutes (m and M are "
        "minutes); for months write '1 mon', monthly or P1M\n"
    )


@pytest.mark.parametrize("text", ["1m", "P1M", "PT1M", "1 mon", "monthly", "1 min"])
def test_other_minute_and_month_forms_get_no_hint(text: str) -> None:
    run = run_cli(
        "--events", str(PARQUET), "--interval", text,
        "--start", "2022-08-01", "--end", "2022-08-01T01:00", "--json",
    )  # fmt: skip
    assert (run.exit_code, run.stderr) == (0, "")


# --------------------------------------------------------------------------- help and completion


def test_top_level_help_lists_the_reports_options() -> None:
    """The report is the default command: `activity-report --help` shows its options."""
    run = run_cli("--help", env={"COLUMNS": "80"})
    assert run.exit_code == 0
    text = run.stdout
    assert "Commands:" in text
    assert "Report options (report is the default command):" in text
    section = text[text.index("Report options") :]
    for option in ("--events", "--start", "--end", "--interval", "--category", "--format", "-o"):
        assert f"  {option}" in section, option
    assert "--help" not in section


@pytest.mark.parametrize("args", [("--help",), ("report", "--help"), ("ingest", "--help")])
def test_help_never_cuts_a_word_and_fits_80_columns(args: tuple[str, ...]) -> None:
    run = run_cli(*args, env={"COLUMNS": "80"})
    assert run.exit_code == 0
    assert "…" not in run.stdout
    assert max(len(line) for line in run.stdout.splitlines()) <= 80
    joined = " ".join(run.stdout.split())
    for name in ("ACTIVITY_REPORT_DB", "ACTIVITY_REPORT_MEMORY_LIMIT", "ACTIVITY_REPORT_TEMP_DIR"):
        assert f"[env var: {name}]" in joined, name


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (
            "activity-report ",
            ["report", "ingest", "info", "seats", "serve", "users", "orgs", "tokens", "pseudonyms"],
        ),
        ("activity-report in", ["ingest", "info"]),
        ("activity-report users ", ["import", "list"]),
        ("activity-report --category ", ["any", "ide", "login", "app", "tunnel", "web_terminal"]),
        ("activity-report --category w", ["web_terminal"]),
        ("activity-report report --category l", ["login"]),
        ("activity-report --ca", ["--category-map", "--category-map-file", "--category"]),
        ("activity-report --format c", ["csv"]),
    ],
)
def test_completion_of_commands_and_values(words: str, expected: list[str]) -> None:
    """Through the environment variable a shell's completion script sets."""
    env = {
        "_ACTIVITY_REPORT_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split(" ")) - 1),
    }
    run = run_cli(env=env)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.split() == expected


# --------------------------------------------------------------------------- docs

ROOT = Path(__file__).resolve().parent.parent
CITATION = re.compile(r"SPEC|issue #?[0-9]+", re.IGNORECASE)


def help_texts() -> dict[str, str]:
    commands = [(), ("report",), ("ingest",), ("info",), ("users",), ("users", "import")]
    texts = {" ".join(c) or "top": run_cli(*c, "--help").stdout for c in commands}
    texts["users list"] = run_cli("users", "list", "--help").stdout
    return texts


def test_readme_and_help_cite_nothing_a_user_does_not_have() -> None:
    documents = {"README.md": (ROOT / "README.md").read_text(encoding="utf-8")}
    documents |= {
        str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
        for p in sorted((ROOT / "benchmarks").glob("*.md"))
    }
    documents |= {f"--help of {name}": text for name, text in help_texts().items()}
    for name, text in documents.items():
        assert CITATION.search(text) is None, (name, CITATION.search(text))


def test_every_environment_variable_in_help_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set()
    for text in help_texts().values():
        named |= set(re.findall(r"ACTIVITY_REPORT_[A-Z_]+", " ".join(text.split())))
    assert "ACTIVITY_REPORT_EVENTS" in named
    for name in sorted(named):
        assert f"`{name}`" in readme, name


@pytest.mark.slow  # two reports over both sample files
def test_the_events_variable_takes_several_paths() -> None:
    run = run_cli(
        "--start", "2022-08-01", "--end", "2022-08-08", "--json",
        env={"ACTIVITY_REPORT_EVENTS": f"{PARQUET} {SAMPLE / 'events.csv'}"},
    )  # fmt: skip
    both = run_cli(
        "--events", str(PARQUET), "--events", str(SAMPLE / "events.csv"),
        "--start", "2022-08-01", "--end", "2022-08-08", "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.stdout == both.stdout


# --------------------------------------------------------------------------- aligned ranges


def test_a_relative_range_says_on_stderr_how_it_was_aligned() -> None:
    """'30 days ago' to 'now' by week starts on a Monday and ends before this week: say so."""
    args = ("--events", str(PARQUET), "--start", "30 days ago", "--end", "now", "--interval")
    run = run_cli(*args, "weekly", "--json")
    assert run.exit_code == 0, run.stderr
    assert "aligned" not in run.stdout
    json.loads(run.stdout)
    moment = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    note = re.search(
        r"activity-report: note: relative times are aligned to the start of a week in UTC, so "
        rf"that every run has the same buckets: --start '30 days ago' \(({moment})\) became "
        rf"({moment}); --end 'now' \(({moment})\) became ({moment}), leaving out the week in "
        r"progress; give dates or date-times to set the range exactly\n",
        run.stderr,
    )
    assert note is not None, run.stderr
    named_start, start, named_end, end = (datetime.fromisoformat(g) for g in note.groups())
    assert (start.weekday(), start.time(), end.weekday(), end.time()) == (0, time(), 0, time())
    assert named_start - timedelta(days=7) < start <= named_start
    assert named_end - timedelta(days=7) < end <= named_end
    assert named_end - named_start == timedelta(days=30)
    dated = run_cli(*args[:2], "--start", "2022-08-03", "--end", "2022-08-20", "--json")
    assert dated.exit_code == 0
    assert "aligned" not in dated.stderr


def test_a_report_says_when_a_zone_skipped_a_whole_day() -> None:
    run = run_cli(
        "--events", str(PARQUET), "--tz", "Pacific/Apia", "--start", "2011-12-28",
        "--end", "2012-01-02", "--interval", "daily", "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert len(json.loads(run.stdout)["activity"]) == 4
    assert run.stderr.splitlines()[0] == (
        "activity-report: note: Pacific/Apia skipped 2011-12-30 entirely (its clocks jumped over "
        "the day), so the report has no bucket for that day"
    )
