"""The Python API (`ar.report`) and the one parameter table behind every front end."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import activity_report as ar
from activity_report.errors import InvalidValue, Kind, UsageError, flag_name, plain_name
from activity_report.query import parse_query
from activity_report.render import BY_FORMAT, FORMATS, Format
from activity_report.store import Store

from .conftest import SAMPLE, run_cli

CLI_MAIN_JOB = (
    "--start", "2022-08-01", "--end", "2022-08-31", "--category", "ide", "--interval", "1 week",
)  # fmt: skip


def cli_json(*args: str) -> object:
    result = run_cli(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_main_job_equals_the_cli_json() -> None:
    r = ar.report(
        events=[str(SAMPLE / "events.parquet")],
        users=str(SAMPLE / "users.csv"),
        start="2022-08-01",
        end="2022-08-31",
        category="ide",
        interval="1 week",
        tz="UTC",
    )
    expected = cli_json(
        "--events", str(SAMPLE / "events.parquet"), "--users", str(SAMPLE / "users.csv"),
        *CLI_MAIN_JOB,
    )  # fmt: skip
    assert r.to_api() == expected
    assert r.to_api()["users"]  # not an empty report equal to another one


def test_a_report_from_the_store_with_filters_equals_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    with Store.open(db) as store:
        store.ingest([str(SAMPLE / "events.csv")])
        store.import_users(str(SAMPLE / "users.csv"))
    r = ar.report(db=db, interval="1 day", org=["org-1"], user="joe2")
    expected = cli_json("--db", str(db), "--interval", "1 day", "--org", "org-1", "--user", "joe2")
    assert r.to_api() == expected


def test_bad_values_name_the_keyword_not_a_flag() -> None:
    with pytest.raises(UsageError) as caught:
        ar.report(events=[str(SAMPLE / "events.parquet")], interval="fortnightly")
    assert str(caught.value).startswith("invalid value for interval: 'fortnightly' (")
    assert caught.value.kind is Kind.usage


def test_a_front_end_spells_the_parameter_its_own_way() -> None:
    error = InvalidValue("max_buckets", "0", "give a whole number of at least 1")
    reason = "(give a whole number of at least 1)"
    assert error.render(flag_name) == f"invalid value for --max-buckets: '0' {reason}"
    assert error.render(plain_name) == str(error)
    assert str(error) == f"invalid value for max_buckets: '0' {reason}"
    assert error.exit_code == 2


def test_a_range_too_long_names_both_parameters_on_the_command_line() -> None:
    result = run_cli(
        "--events", str(SAMPLE / "events.parquet"), "--start", "2000-01-01", "--end",
        "2100-01-01", "--interval", "1 second",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "more than --max-buckets (100,000); use a longer --interval" in result.stderr
    with pytest.raises(UsageError) as caught:
        ar.report(
            events=[str(SAMPLE / "events.parquet")],
            start="2000-01-01",
            end="2100-01-01",
            interval="1 second",
        )
    assert "more than max_buckets (100,000); use a longer interval" in str(caught.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"nope": "1"}, "unknown parameter nope: the parameters are start, end, interval, tz, "),
        ({"categry": "ide"}, "unknown parameter categry (did you mean category?): the "),
        ({"tz": ["UTC", "UTC"]}, "invalid value for tz: \"['UTC', 'UTC']\" (give it once)"),
        ({"category": "desk"}, "invalid value for category: 'desk' (use one of any, ide, "),
        ({"max_buckets": "-3"}, "invalid value for max_buckets: '-3' (give a whole number"),
        ({"max_buckets": "9" * 30}, "invalid value for max_buckets: '999"),
    ],
)
def test_the_parameter_table_refuses_bad_values(values: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_query(values)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_the_page_spellings_of_category_and_interval() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    for spelling in ("web terminal", "web_terminal", "Web-Terminal"):
        assert parse_query({"category": spelling}, now=now).category == "web_terminal"
    weeks = {
        str(parse_query({"interval": s}, now=now).interval) for s in ("1 week", "1week", "weekly")
    }
    assert weeks == {"1 week"}
    query = parse_query({"org": ["a", "b"], "user": "joe2"}, now=now)
    assert (query.orgs, query.users) == (["a", "b"], ["joe2"])
    assert query.categories == ("ide", "login", "app", "tunnel", "web_terminal")


def test_the_render_registry_knows_every_format() -> None:
    assert {info.fmt for info in FORMATS} == set(Format)
    assert BY_FORMAT[Format.json].content_type == "application/json"
    assert BY_FORMAT[Format.csv].extensions == (".csv",)
