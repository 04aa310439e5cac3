"""The command line: commands, exit codes, and what goes to which stream."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import SAMPLE, run_cli

MAIN_JOB = (
    "--events",
    str(SAMPLE / "events.parquet"),
    "--users",
    str(SAMPLE / "users.csv"),
    "--start",
    "2022-08-01",
    "--end",
    "2022-08-31",
    "--category",
    "ide",
    "--interval",
    "1 week",
)

JOE = "6004ad77-a7a69a24d779dd9f44357014"
ALICE = "5f905429-ba6e4ac480eb4c0ead160b47"
BOB = "627935e2-838713a0437b43f006b26244"


def test_main_job_json_matches_the_seed() -> None:
    run = run_cli(*MAIN_JOB, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""
    report = json.loads(run.stdout)
    assert [b["duration"] for b in report["activity"]] == [604_800_000_000_000] * 4 + [
        172_800_000_000_000
    ]
    assert report["activity"][0]["user_activity"] == [
        {"user_id": JOE, "duration": 72_000_000_000_000, "count": 1200},
        {"user_id": ALICE, "duration": 30_780_000_000_000, "count": 513},
        {"user_id": BOB, "duration": 2_760_000_000_000, "count": 46},
    ]
    joe = report["users"][JOE]
    assert joe["name"] == "Joe"
    assert joe["username"] == "joe2"
    assert joe["roles"] == ["site-member", "site-manager"]
    assert joe["avatar_hash"] == "671b4b1db753a55396036354ff526c8df02e0a53bb4ce4990010a96ab8782ffd"


def test_report_subcommand_is_the_default_command() -> None:
    plain = run_cli(*MAIN_JOB, "--json")
    named = run_cli("report", *MAIN_JOB, "--json")
    assert named.exit_code == 0
    assert named.stdout == plain.stdout


def test_format_json_equals_json_flag() -> None:
    assert run_cli(*MAIN_JOB, "--format", "json").stdout == run_cli(*MAIN_JOB, "--json").stdout


def test_table_is_the_default_format_and_names_users() -> None:
    run = run_cli(*MAIN_JOB)
    assert run.exit_code == 0
    assert "Joe" in run.stdout
    assert "2022-08-29" in run.stdout
    assert not run.stdout.lstrip().startswith("{")


def test_events_from_environment_variable() -> None:
    args = list(MAIN_JOB)
    del args[0:2]  # drop --events PATH
    run = run_cli(*args, "--json", env={"ACTIVITY_REPORT_EVENTS": str(SAMPLE / "events.csv")})
    assert run.exit_code == 0, run.stderr
    assert run.stdout == run_cli(*MAIN_JOB, "--json").stdout


def test_csv_and_parquet_give_the_same_report() -> None:
    csv_args = list(MAIN_JOB)
    csv_args[1] = str(SAMPLE / "events.csv")
    assert run_cli(*csv_args, "--json").stdout == run_cli(*MAIN_JOB, "--json").stdout


def test_events_from_stdin(events_csv: Callable[..., Path]) -> None:
    text = "time,user_id,category\n2024-01-01T10:00:00Z,u1,ide\n2024-01-01T10:01:00Z,u1,ide\n"
    run = run_cli(
        "--events", "-", "--start", "2024-01-01", "--end", "2024-01-02", "--json", input=text
    )
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["activity"][0]["user_activity"] == [
        {"user_id": "u1", "duration": 120_000_000_000, "count": 2}
    ]


def test_several_events_options_are_read_together(events_csv: Callable[..., Path]) -> None:
    first = events_csv([("2024-01-01T10:00:00Z", "u1", "ide")], name="a.csv")
    second = events_csv([("2024-01-01T11:00:00Z", "u2", "login")], name="b.csv")
    run = run_cli(
        "--events", str(first), "--events", str(second),
        "--start", "2024-01-01", "--end", "2024-01-02", "--json",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    users = [u["user_id"] for u in json.loads(run.stdout)["activity"][0]["user_activity"]]
    assert sorted(users) == ["u1", "u2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--interval", "1 fortnight"),
            "activity-report: error: invalid value for --interval: '1 fortnight'",
        ),
        (
            ("--category", "coffee"),
            "activity-report: error: invalid value for --category: 'coffee'",
        ),
        (
            ("--tz", "Mars/Olympus"),
            "activity-report: error: invalid value for --tz: 'Mars/Olympus'",
        ),
        (("--start", "2022-08-31", "--end", "2022-08-01"), "activity-report: error: --end"),
        (("--json", "--format", "csv"), "activity-report: error: --json conflicts with --format"),
        (("--no-such-option",), "activity-report: error: no such option: --no-such-option"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    run = run_cli("--events", str(SAMPLE / "events.parquet"), *args)
    assert run.exit_code == 2
    assert run.stdout == ""
    assert run.stderr.startswith(message)
    assert run.stderr.count("\n") == 1
    assert "Traceback" not in run.stderr


def test_too_many_buckets_is_a_usage_error_with_the_count() -> None:
    run = run_cli(
        "--events", str(SAMPLE / "events.parquet"), "--start", "2022-08-01", "--end",
        "2022-08-31", "--interval", "1 minute", "--max-buckets", "1000",
    )  # fmt: skip
    assert run.exit_code == 2
    assert "43,200" in run.stderr
    assert "--max-buckets" in run.stderr


def test_missing_file_is_a_data_error() -> None:
    run = run_cli("--events", "no/such/file.csv")
    assert run.exit_code == 1
    assert run.stdout == ""
    assert run.stderr == "activity-report: error: no/such/file.csv: no such file or directory\n"


def test_missing_column_names_file_column_and_columns_found(
    events_csv: Callable[..., Path],
) -> None:
    path = events_csv([("2024-01-01T10:00:00Z", "ide")], header=("time", "category"))
    run = run_cli("--events", str(path))
    assert run.exit_code == 1
    assert run.stderr == (
        f"activity-report: error: {path}: no user_id column (accepted names: user_id, user, "
        "user_uuid); columns found: time, category; name the one to use with --column "
        "user=NAME\n"
    )


def test_invalid_rows_are_reported_and_strict_fails(events_csv: Callable[..., Path]) -> None:
    path = events_csv(
        [
            ("2024-01-01T10:00:00Z", "u1", "ide"),
            ("not a time", "u1", "ide"),
            ("2024-01-01T10:05:00Z", "", "ide"),
        ]
    )
    args = ("--events", str(path), "--start", "2024-01-01", "--end", "2024-01-02", "--json")
    lenient = run_cli(*args)
    assert lenient.exit_code == 0
    assert json.loads(lenient.stdout)["users"]["u1"]["total_count"] == 1
    assert "skipped 2 invalid rows" in lenient.stderr
    assert "1 unparseable time" in lenient.stderr
    assert "1 missing user_id" in lenient.stderr
    strict = run_cli(*args, "--strict")
    assert strict.exit_code == 1
    assert strict.stdout == ""
    assert strict.stderr.startswith("activity-report: error: 2 invalid rows")


def test_unknown_categories_are_counted_on_stderr(events_csv: Callable[..., Path]) -> None:
    path = events_csv(
        [
            ("2024-01-01T10:00:00Z", "u1", "IDE"),
            ("2024-01-01T10:01:00Z", "u1", "coffee"),
            ("2024-01-01T10:02:00Z", "u1", "coffee"),
            ("2024-01-01T10:03:00Z", "u1", "Web Terminal"),
        ]
    )
    run = run_cli("--events", str(path), "--start", "2024-01-01", "--end", "2024-01-02", "--json")
    assert run.exit_code == 0
    assert json.loads(run.stdout)["users"]["u1"]["total_count"] == 2
    assert "2 events have an unknown category" in run.stderr
    assert "'coffee' (2)" in run.stderr


def test_empty_result_exits_0_with_a_note(events_csv: Callable[..., Path]) -> None:
    path = events_csv([("2024-01-01T10:00:00Z", "u1", "ide")])
    run = run_cli("--events", str(path), "--start", "2024-02-01", "--end", "2024-02-02", "--json")
    assert run.exit_code == 0
    report = json.loads(run.stdout)
    assert report["users"] == {}
    assert report["activity"][0]["user_activity"] == []
    assert "note:" in run.stderr


def test_version() -> None:
    """One version: the package's, the command's, and the changelog's newest entry."""
    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    run = run_cli("--version")
    assert run.exit_code == 0
    assert run.stdout == f"activity-report {project['version']}\n"
    assert project["version"] == "0.2.0"
    changelog = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## ([0-9.]+)", changelog, re.MULTILINE)
    assert releases[:2] == ["0.2.0", "0.1.0"]


def test_short_help_option() -> None:
    run = run_cli("report", "-h")
    assert run.exit_code == 0
    assert "--interval" in run.stdout


def test_core_does_not_import_typer_or_rich() -> None:
    """The core can serve an HTTP API or a notebook unchanged (STYLE.md)."""
    code = (
        "import sys\n"
        "import activity_report.reporting, activity_report.engine, activity_report.sources\n"
        "import activity_report.intervals, activity_report.times, activity_report.model\n"
        "import activity_report.directory, activity_report.errors\n"
        "bad = [m for m in ('typer', 'rich', 'click') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_a_report_on_files_does_not_import_the_store() -> None:
    """Start-up counts in every report: the store's modules wait for a report on a store."""
    code = (
        "import sys\n"
        "from activity_report.cli import main\n"
        f"code = main([*{MAIN_JOB!r}, '--json', '-o', {'/dev/null'!r}])\n"
        "print(code, sorted(m for m in sys.modules if m.startswith('activity_report.store')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip().splitlines()[-1:] == ["0 []"], result.stderr


@pytest.mark.parametrize(("given", "seen"), [(None, "0"), ("1", "1")])
def test_the_command_line_asks_numpy_for_no_hugepages_unless_told(
    given: str | None, seen: str
) -> None:
    """NumPy reads the setting once, when imported: the package must not import it first."""
    code = (
        "import os, sys\n"
        "import activity_report\n"
        "before = 'numpy' in sys.modules\n"
        "import activity_report.cli, numpy\n"
        "print(before, os.environ['NUMPY_MADVISE_HUGEPAGE'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if given is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = given
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.split() == ["False", seen]


def test_console_script_runs_end_to_end_in_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "activity_report", *MAIN_JOB, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)["activity"][4]["duration"] == 172_800_000_000_000


@pytest.mark.parametrize(
    "command",
    [("ingest", str(SAMPLE / "events.csv")), ("info",), ("users", "import", "users.csv")],
)
def test_store_commands_check_memory_limit(command: tuple[str, ...], tmp_path: Path) -> None:
    run = run_cli(*command, "--db", str(tmp_path / "s.duckdb"), "--memory-limit", "lots")
    assert run.exit_code == 2
    assert run.stderr.startswith("activity-report: error: invalid value for --memory-limit: 'lots'")
    assert not (tmp_path / "s.duckdb").exists()


def test_ingest_with_limits_then_report_from_the_store(tmp_path: Path) -> None:
    db = str(tmp_path / "s.duckdb")
    ingest = run_cli(
        "ingest", str(SAMPLE / "events.parquet"), "--db", db, "--memory-limit", "1GB",
        "--temp-dir", str(tmp_path),
    )  # fmt: skip
    assert ingest.exit_code == 0, ingest.stderr
    args = [a for a in MAIN_JOB if a != str(SAMPLE / "events.parquet") and a != "--events"]
    from_store = run_cli(*args, "--db", db, "--json")
    assert from_store.exit_code == 0, from_store.stderr
    assert from_store.stdout == run_cli(*MAIN_JOB, "--json").stdout


@pytest.mark.parametrize(
    ("args", "traceback"),
    [
        (["--org", "--debug"], False),  # --debug is --org's value here, not the option
        (["--org", "x", "--debug"], True),
        (["--debug"], True),
    ],
)
def test_only_a_parsed_debug_option_shows_a_traceback(
    tmp_path: Path, args: list[str], traceback: bool
) -> None:
    missing = str(tmp_path / "nonexistent.csv")
    result = subprocess.run(
        [sys.executable, "-m", "activity_report", "--events", missing, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert ("Traceback" in result.stderr) is traceback, result.stderr
    if not traceback:
        assert result.stderr == f"activity-report: error: {missing}: no such file or directory\n"


@pytest.mark.parametrize(("args", "traceback"), [(["--debug"], True), ([], False)])
def test_seats_debug_shows_a_traceback_as_the_report_s_does(
    tmp_path: Path, args: list[str], traceback: bool
) -> None:
    missing = str(tmp_path / "nonexistent.csv")
    result = subprocess.run(
        [sys.executable, "-m", "activity_report", "seats", "--events", missing, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert ("Traceback" in result.stderr) is traceback, result.stderr
