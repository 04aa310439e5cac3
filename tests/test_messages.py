"""The core's messages name parameters, never command-line flags: each front end words them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import activity_report as ar
from activity_report.errors import ActivityReportError, flag_name, plain_name

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "activity_report"
FRONT_ENDS = ("cli", "server", "render", "__main__.py")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
COMMAND = re.compile(r"`activity-report [^`]*`")  # a command to run, quoted whole


def messages(path: Path) -> list[tuple[int, str]]:
    """The string constants of ``path`` that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def test_no_core_message_names_a_flag() -> None:
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {text!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not path.relative_to(PACKAGE).parts[0].startswith(FRONT_ENDS)
        for line, text in messages(path)
        if FLAG.search(COMMAND.sub("", text))
    ]
    assert found == []


def test_a_python_caller_reads_parameters_and_the_command_line_flags(tmp_path: Path) -> None:
    with pytest.raises(ActivityReportError) as caught:
        ar.report(db=tmp_path)  # a folder, not a store's file
    assert str(caught.value) == f"{tmp_path}: is a directory; db takes the store's file name"
    assert caught.value.render(plain_name) == str(caught.value)
    assert caught.value.render(flag_name) == (
        f"{tmp_path}: is a directory; --db takes the store's file name"
    )


def test_a_warning_names_the_parameter_as_its_reader_spells_it(tmp_path: Path) -> None:
    events = tmp_path / "e.csv"
    events.write_text("time,user_id,category\n2024-01-01T00:00:00Z,ann,ide\n", encoding="utf-8")
    result = ar.report(events=str(events), org=["nope"])
    assert [str(w) for w in result.warnings] == [
        "org 'nope' matches no organization id in the data"
    ]
    assert [w.render(flag_name) for w in result.warnings] == [
        "--org 'nope' matches no organization id in the data"
    ]
