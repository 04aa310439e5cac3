"""Output through the command line: formats, -o FILE, --color, --top, `| head`.

The golden files in tests/golden/ are the README's main job in each format,
compared byte for byte. After a deliberate change, rewrite them with
``UPDATE_GOLDEN=1 python -m pytest tests/test_output_cli.py`` and read the diff.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import json
import os
import pty
import re
import signal
import stat
import struct
import subprocess
import sys
import termios
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import pytest
from markdown_it import MarkdownIt

from activity_report.model import Report
from activity_report.render import csv as render_csv
from activity_report.render import table as render_table

from .conftest import ROOT, SAMPLE, Run
from .conftest import invoke as cli_invoke

MAIN_JOB = (
    "--events", str(SAMPLE / "events.parquet"), "--users", str(SAMPLE / "users.csv"),
    "--start", "2022-08-01", "--end", "2022-08-31", "--category", "ide", "--interval", "1 week",
)  # fmt: skip
GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_FILES = {
    "table": "main_job.txt",
    "json": "main_job.json",
    "ndjson": "main_job.ndjson",
    "csv": "main_job.csv",
    "markdown": "main_job.md",
    "html": "main_job.html",
}
ENV: dict[str, str | None] = {"COLUMNS": "80", "NO_COLOR": None}
"""Not a terminal: 80 columns unless COLUMNS says otherwise; pinned for the goldens."""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CSV_HEADER = "time,bucket_duration,user_id,name,username,count,duration\n"


def run(*args: str, env: dict[str, str | None] | None = None) -> Run:
    """Like conftest's run_cli, with ENV pinned; a None value unsets a variable."""
    result = cli_invoke(args, env={**ENV, **(env or {})})
    return Run(result.exit_code, result.stdout, result.stderr)


def golden(fmt: str) -> str:
    return (GOLDEN / GOLDEN_FILES[fmt]).read_text(encoding="utf-8")


def flat_from_json() -> list[dict[str, Any]]:
    """The records csv and ndjson must hold, derived from the JSON golden."""
    report = json.loads(golden("json"))
    return [
        {
            "time": bucket["time"],
            "bucket_duration": bucket["duration"],
            "user_id": user["user_id"],
            "name": report["users"][user["user_id"]]["name"],
            "username": report["users"][user["user_id"]]["username"],
            "count": user["count"],
            "duration": user["duration"],
        }
        for bucket in report["activity"]
        for user in bucket["user_activity"]
    ]


# --- golden files -----------------------------------------------------------


@pytest.mark.parametrize("fmt", list(GOLDEN_FILES))
def test_main_job_matches_its_golden_file(fmt: str) -> None:
    result = run(*MAIN_JOB, "--format", fmt)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    path = GOLDEN / GOLDEN_FILES[fmt]
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(result.stdout.encode("utf-8"))
    assert result.stdout.encode("utf-8") == path.read_bytes()


def test_json_golden_is_the_activity_api_shape() -> None:
    report = json.loads(golden("json"))
    assert [b["time"] for b in report["activity"]] == [
        "2022-08-01T00:00:00Z", "2022-08-08T00:00:00Z", "2022-08-15T00:00:00Z",
        "2022-08-22T00:00:00Z", "2022-08-29T00:00:00Z",
    ]  # fmt: skip
    assert len(report["users"]) == 15


def test_csv_reads_back_with_the_csv_module() -> None:
    text = golden("csv")
    assert text.startswith(CSV_HEADER)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    expected = [
        {key: "" if value is None else str(value) for key, value in record.items()}
        for record in flat_from_json()
    ]
    assert rows == expected
    assert len(rows) == 60
    assert rows[0] == {
        "time": "2022-08-01T00:00:00Z",
        "bucket_duration": "604800000000000",
        "user_id": "6004ad77-a7a69a24d779dd9f44357014",
        "name": "Joe",
        "username": "joe2",
        "count": "1200",
        "duration": "72000000000000",
    }


def test_ndjson_reads_back_line_by_line_with_json() -> None:
    text = golden("ndjson")
    assert text.endswith("}\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert records == flat_from_json()
    assert list(records[0]) == [
        "time", "bucket_duration", "user_id", "name", "username", "count", "duration",
    ]  # fmt: skip


def markdown_tables(text: str) -> list[list[list[str]]]:
    """The GFM tables of ``text``: rows of cells, split on unescaped pipes."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            assert line.endswith(" |"), line
            current.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif current:
            tables.append(current)
            current = []
    return tables


def test_markdown_has_two_well_formed_tables() -> None:
    text = golden("markdown")
    buckets, users = markdown_tables(text)
    for table in (buckets, users):
        assert {len(row) for row in table} == {len(table[0])}
        assert all(re.fullmatch(r"---:?", cell) for cell in table[1])
    assert buckets[0] == ["start", "length", "active users", "events", "active time"]
    assert [row[0] for row in buckets[2:]] == [
        "2022-08-01", "2022-08-08", "2022-08-15", "2022-08-22", "2022-08-29",
    ]  # fmt: skip
    assert users[0] == ["name", "username", "roles", "events", "active time", "share"]
    assert users[2] == ["Joe", "joe2", "site-member, site-manager", "5,050", "3d 4h", "19.9%"]
    assert len(users) == 2 + 10
    assert text.endswith("\n5 more users not shown; `--top 0` lists all.\n")
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert html.count("<table>") == 2
    assert html.count("<tr>") == (1 + 5) + (1 + 10)


def test_table_at_80_columns_has_no_line_wider_than_80() -> None:
    lines = golden("table").splitlines()
    assert max(len(line) for line in lines) <= 80
    assert (
        lines[0]
        == "2022-08-01 through 2022-08-30 UTC, every 1 week, category ide, all organizations"
    )
    assert lines[1] == "15 active users, 24,110 events, 16d 0h active time"
    assert (
        "Joe              joe2        site-member, site-manager     5,050    3d 4h  19.9%" in lines
    )
    assert lines[-1] == "5 more users not shown; --top 0 lists all"
    assert all(line == line.rstrip() for line in lines)


# --- empty reports --------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "expected"), [("csv", CSV_HEADER), ("ndjson", "")])
def test_no_activity_gives_a_header_or_nothing_and_exit_0(
    events_csv: Callable[..., Path], fmt: str, expected: str
) -> None:
    path = events_csv([("2024-01-01T10:00:00Z", "u1", "ide")])
    result = run(
        "--events", str(path), "--start", "2024-02-01", "--end", "2024-02-02", "--format", fmt
    )
    assert result.exit_code == 0
    assert result.stdout == expected
    assert result.stderr == ("activity-report: note: no activity in the range for these filters\n")


def test_no_matching_events_table_says_so_in_one_line(events_csv: Callable[..., Path]) -> None:
    path = events_csv([("2024-01-01T10:00:00Z", "u1", "ide")])
    result = run("--events", str(path), "--category", "login")
    assert result.exit_code == 0
    assert result.stdout == ("No events match (category login, all organizations, time zone UTC)\n")


# --- --top -------------------------------------------------------------------------


def test_top_limits_the_users_and_says_how_many_are_not_shown() -> None:
    result = run(*MAIN_JOB, "--top", "3")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    start = lines.index("Top users")
    assert [line.split()[0] for line in lines[start + 3 : start + 6]] == ["Joe", "Priya", "Alice"]
    assert lines[start + 6 :] == ["12 more users not shown; --top 0 lists all"]


def test_top_0_lists_every_user_under_users() -> None:
    result = run(*MAIN_JOB, "--top", "0", "--format", "markdown")
    assert result.exit_code == 0
    assert "### Users\n" in result.stdout
    assert len(markdown_tables(result.stdout)[1]) == 2 + 15
    assert "not shown" not in result.stdout


def test_negative_top_is_a_usage_error() -> None:
    result = run(*MAIN_JOB, "--top", "-1")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--top" in result.stderr


# --- -o FILE -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("r.json", "json"),
        ("r.ndjson", "ndjson"),
        ("r.jsonl", "ndjson"),
        ("r.csv", "csv"),
        ("r.md", "markdown"),
        ("r.markdown", "markdown"),
        ("R.CSV", "csv"),
        ("r.txt", "table"),
        ("r.html", "html"),
        ("Weekly.HTM", "html"),
    ],
)
def test_output_file_takes_its_format_from_the_extension(
    tmp_path: Path, name: str, fmt: str
) -> None:
    target = tmp_path / name
    result = run(*MAIN_JOB, "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""
    assert target.read_bytes() == golden(fmt).encode("utf-8")
    assert os.listdir(tmp_path) == [name]


def test_format_wins_over_the_extension(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    assert run(*MAIN_JOB, "--format", "csv", "-o", str(target)).exit_code == 0
    assert target.read_text(encoding="utf-8") == golden("csv")


def test_output_replaces_an_existing_file_and_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old\n")
    target.chmod(0o640)
    assert run(*MAIN_JOB, "-o", str(target)).exit_code == 0
    assert target.read_text(encoding="utf-8") == golden("json")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_new_output_file_gets_the_umask_permissions(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    old = os.umask(0o027)
    try:
        assert run(*MAIN_JOB, "-o", str(target)).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "report.xlsx",
            "the extension '.xlsx' is unknown; use one of .json, .ndjson, .jsonl, .csv, .md, "
            ".markdown, .txt, .html, .htm, or give --format (table, json, ndjson, csv, markdown, "
            "html)\n",
        ),
        (
            "report",
            "it has no extension; use one of .json, .ndjson, .jsonl, .csv, .md, "
            ".markdown, .txt, .html, .htm, or give --format (table, json, ndjson, csv, markdown, "
            "html)\n",
        ),
    ],
)
def test_an_unknown_extension_without_format_is_a_usage_error(
    tmp_path: Path, name: str, message: str
) -> None:
    target = tmp_path / name
    result = run(*MAIN_JOB, "-o", str(target))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"activity-report: error: -o {target}: {message}"
    assert os.listdir(tmp_path) == []


def test_a_missing_output_folder_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "no" / "report.csv"
    result = run(*MAIN_JOB, "-o", str(target))
    assert result.exit_code == 2
    assert result.stderr == (
        f"activity-report: error: -o {target}: the folder {target.parent} does not exist; "
        "create it first\n"
    )


def _write_half_then(exc: BaseException) -> Callable[..., None]:
    def write(report: Report, out: Any, *args: Any, **kwargs: Any) -> None:
        stream: TextIO = getattr(out, "file", out)  # the table gets a rich Console
        stream.write(CSV_HEADER)
        stream.flush()
        raise exc

    return write


@pytest.mark.parametrize("existing", [None, "yesterday's report\n"])
@pytest.mark.parametrize(
    ("module", "attribute", "name"),
    [(render_csv, "write", "report.csv"), (render_table, "render", "report.txt")],
)
def test_an_interrupted_write_leaves_no_partial_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    existing: str | None,
    module: Any,
    attribute: str,
    name: str,
) -> None:
    target = tmp_path / name
    if existing is not None:
        target.write_text(existing)
    monkeypatch.setattr(module, attribute, _write_half_then(KeyboardInterrupt()))
    result = run(*MAIN_JOB, "-o", str(target))
    assert result.exit_code == 130
    assert result.stderr == "activity-report: error: interrupted\n"
    if existing is None:
        assert os.listdir(tmp_path) == []
    else:
        assert os.listdir(tmp_path) == [name]
        assert target.read_text() == existing


def test_a_failing_write_is_a_data_error_and_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.csv"
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(render_csv, "write", _write_half_then(full))
    result = run(*MAIN_JOB, "-o", str(target))
    assert result.exit_code == 1
    assert result.stderr == (
        f"activity-report: error: -o {target}: cannot write it: No space left on device\n"
    )
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("error", [KeyboardInterrupt(), PermissionError(errno.EACCES, "denied")])
def test_an_interrupt_as_the_temporary_file_is_made_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    # The file is made, then the interrupt of a signal arrives before the writer
    # holds it: it is removed. A file that could not be made is not removed
    # (its name may be another's), and the failure is a data error.
    target = tmp_path / "report.csv"
    real_open = os.open

    def open_then_fail(path: str, flags: int, mode: int = 0o777) -> int:
        if not str(path).startswith(str(tmp_path)):
            return real_open(path, flags, mode)
        if isinstance(error, KeyboardInterrupt):
            os.close(real_open(path, flags, mode))
        else:
            Path(path).write_text("another's")
        raise error

    monkeypatch.setattr(os, "open", open_then_fail)
    result = run(*MAIN_JOB, "-o", str(target))
    if isinstance(error, KeyboardInterrupt):
        assert (result.exit_code, result.stderr) == (130, "activity-report: error: interrupted\n")
        assert os.listdir(tmp_path) == []
    else:
        assert result.exit_code == 1
        assert result.stderr.startswith(f"activity-report: error: -o {target}: cannot create")
        assert [Path(n).suffix for n in os.listdir(tmp_path)] == [".tmp"]


# --- --color -----------------------------------------------------------------------


def plain(text: str) -> str:
    return "".join(line.rstrip() + "\n" for line in ANSI.sub("", text).splitlines())


def test_table_not_to_a_terminal_has_no_escape_codes_by_default() -> None:
    result = run(*MAIN_JOB)
    assert "\x1b" not in result.stdout
    assert result.stdout == golden("table")


@pytest.mark.parametrize("no_color", [None, "1"])
def test_color_always_colours_a_pipe_even_with_no_color(no_color: str | None) -> None:
    result = run(*MAIN_JOB, "--color", "always", env={"NO_COLOR": no_color})
    assert result.exit_code == 0
    assert "\x1b[1m" in result.stdout  # bold headings
    assert "\x1b[32m" in result.stdout  # green bars
    assert plain(result.stdout) == golden("table")


def test_color_never_has_no_escape_codes() -> None:
    result = run(*MAIN_JOB, "--color", "never")
    assert result.stdout == golden("table")


@pytest.mark.parametrize("fmt", ["json", "ndjson", "csv", "markdown"])
def test_machine_formats_never_have_escape_codes(fmt: str) -> None:
    result = run(*MAIN_JOB, "--format", fmt, "--color", "always")
    assert result.stdout == golden(fmt)


def test_table_to_a_file_is_plain_unless_color_always(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    assert run(*MAIN_JOB, "-o", str(target)).exit_code == 0
    assert "\x1b" not in target.read_text(encoding="utf-8")
    assert run(*MAIN_JOB, "-o", str(target), "--color", "always").exit_code == 0
    assert "\x1b[32m" in target.read_text(encoding="utf-8")


def test_an_unknown_color_mode_is_a_usage_error() -> None:
    result = run(*MAIN_JOB, "--color", "sometimes")
    assert result.exit_code == 2
    assert result.stderr == (
        "activity-report: error: invalid value for --color: 'sometimes' (use one of auto, "
        "always, never)\n"
    )


def run_in_terminal(*args: str, env: dict[str, str]) -> str:
    """Run the tool with stdout on a real 80x50 pseudo-terminal; return what it drew."""
    drawn, stderr = drawn_and_said(*args, env=env)
    assert stderr == ""
    return drawn


def drawn_and_said(*args: str, env: dict[str, str], rows: int = 50) -> tuple[str, str]:
    """What the tool drew on an 80-column pseudo-terminal of ``rows``, and its stderr."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, 80, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "COLUMNS"}}
    environ.update({"TERM": "xterm-256color", **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "activity_report", *args],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=environ,
        cwd=ROOT,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n"), stderr.decode("utf-8")


@pytest.mark.slow  # the CLI on terminals, in children
def test_a_table_many_screens_long_on_a_terminal_says_what_reads_better() -> None:
    hourly = (*MAIN_JOB[:4], "--start", "2022-08-01", "--end", "2022-08-08", "--interval", "1h")
    drawn, said = drawn_and_said(*hourly, env={"NO_COLOR": "1"}, rows=12)
    assert drawn.count("\n2022-08-0") == 7 * 24  # every bucket is still drawn
    assert said == (
        "activity-report: warning: the table above is about 188 lines, 15 screens of this "
        "terminal; a coarser --interval (such as daily or weekly) or -o FILE (report.html, "
        "report.csv) reads better\n"
    )
    assert drawn_and_said(*hourly, env={"NO_COLOR": "1"}, rows=50)[1] == ""  # 4 screens
    piped = subprocess.run(
        [sys.executable, "-m", "activity_report", *hourly],
        capture_output=True, text=True, check=True, cwd=ROOT, env={**os.environ, "LINES": "12"},
    )  # fmt: skip
    assert piped.stderr == ""


def test_a_terminal_gets_colour_and_rows_that_fit_80_columns() -> None:
    drawn = run_in_terminal(*MAIN_JOB, env={})
    assert "\x1b[32m" in drawn
    assert plain(drawn) == golden("table")


def test_no_color_in_a_terminal_means_no_escape_codes() -> None:
    drawn = run_in_terminal(*MAIN_JOB, env={"NO_COLOR": "1"})
    assert "\x1b" not in drawn
    assert drawn == golden("table")


# --- pipes, help ---------------------------------------------------------------------

HOURLY = (
    "--events", str(SAMPLE / "events.parquet"), "--start", "2022-08-01", "--end", "2022-09-01",
    "--interval", "1 hour", "--format", "csv",
)  # fmt: skip
"""About 170 kB of CSV: more than a pipe holds, so the writer meets the closed pipe."""


def test_a_reader_closing_the_pipe_ends_the_writer_quietly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "activity_report", *HOURLY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    process.wait(timeout=60)
    assert first == CSV_HEADER.encode()
    assert stderr == b""
    assert process.returncode == -signal.SIGPIPE  # like cat or grep: ended by SIGPIPE


def test_pipe_into_head_prints_one_line_and_no_error() -> None:
    command = " ".join(["'" + sys.executable + "'", "-m", "activity_report"])
    command += " " + " ".join(f"'{arg}'" for arg in HOURLY) + " | head -1"
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0
    assert result.stdout == CSV_HEADER
    assert result.stderr == ""


@pytest.mark.parametrize("args", [("-h",), ("report", "-h"), ("--help",)])
def test_help_has_an_example(args: tuple[str, ...]) -> None:
    result = run(*args)
    assert result.exit_code == 0
    assert "Example" in result.stdout


def test_readme_shows_the_real_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "$ activity-report " + " ".join(
        f'"{arg}"' if " " in arg else arg for arg in MAIN_JOB
    ).replace(str(SAMPLE), "sample_data")
    start = readme.index(command + "\n") + len(command) + 1
    assert readme[start : readme.index("```", start)] == golden("table")
    assert readme.count("5 more users not shown") == 1  # the table is shown once
