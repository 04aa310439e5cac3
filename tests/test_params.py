"""The parameter table is the one source: every front end takes its parameters, same defaults."""

from __future__ import annotations

import inspect
from typing import Any

import click

import activity_report as ar
from activity_report.cli.app import command
from activity_report.intervals import parse_interval
from activity_report.query import PARAMS
from activity_report.server import openapi

from .test_server import ACTIVITY

TABLE = {p.name: p for p in PARAMS}
#: What the API and the CLI take beyond the report's parameters, and the server sets itself.
BEYOND = {
    *("events", "db", "users", "strict", "engine", "spark_remote", "memory_limit", "temp_dir"),
    *("coder", "ide_apps", "column", "time_format", "input_tz", "category_map"),
    *("category_map_file", "orgs_file"),
}
#: A Python keyword whose command-line option has another name.
CLI_NAME = {"orgs_file": "orgs"}


def text(value: Any) -> str | None:
    """A default as the table writes it: text, or None."""
    if value is None:
        return None
    if isinstance(value, bool):  # a flag: the table writes it as the query string does
        return "true" if value else "false"
    return str(getattr(value, "value", value))


def cli_options() -> dict[str, click.Option]:
    report = command.commands["report"]  # type: ignore[attr-defined]
    return {p.name: p for p in report.params if isinstance(p, click.Option) and p.name}


def test_every_report_parameter_is_a_cli_option_with_the_tables_default() -> None:
    options = cli_options()
    for param in PARAMS:
        option = options[param.name]
        assert f"--{param.name.replace('_', '-')}" in option.opts
        assert text(option.default) == param.default, param.name
        assert option.multiple is param.repeatable, param.name


def test_every_python_keyword_is_a_table_parameter_or_a_cli_option_with_its_default() -> None:
    keywords = inspect.signature(ar.report).parameters
    options = cli_options()
    for name, keyword in keywords.items():
        if name in TABLE:
            assert text(keyword.default) == TABLE[name].default, name
        elif name in BEYOND:
            option = options[CLI_NAME.get(name, name)]
            assert text(keyword.default) == text(option.default), name
        else:
            assert name in ("now", "context"), f"{name}: in no table and no CLI option"
    assert set(TABLE) <= set(keywords)


def test_every_http_parameter_is_a_table_parameter_with_its_default() -> None:
    document = openapi.document()
    parameters = document["paths"][ACTIVITY]["get"]["parameters"]
    assert {p["name"] for p in parameters} == set(TABLE) - {"max_buckets"}
    for parameter in parameters:
        default = parameter["schema"].get("default")
        assert default == TABLE[parameter["name"]].default, parameter["name"]


def test_the_default_heartbeat_is_one_constant() -> None:
    from activity_report.backends.protocol import HEARTBEAT_US
    from activity_report.intervals import parse_heartbeat
    from activity_report.query import Query
    from activity_report.store import rollups

    table = TABLE["heartbeat"].default
    assert table is not None
    assert parse_heartbeat(table).micros == HEARTBEAT_US
    assert Query(interval=parse_interval("1 day")).heartbeat_us == HEARTBEAT_US
    assert rollups.HEARTBEAT_US is HEARTBEAT_US
