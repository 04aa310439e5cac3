"""The layering in pyproject.toml holds, covers every module, and breaks on a wrong import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "activity_report"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(cwd: Path, src: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the package under ``src``, with the pyproject.toml in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "200"}  # one line per contract
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def dotted(path: Path) -> str:
    """``render/html/__init__.py`` -> ``activity_report.render.html``."""
    name = ".".join(("activity_report", *path.with_suffix("").parts))
    return name.removesuffix(".__init__")


def contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def test_the_contracts_are_kept() -> None:
    result = lint_imports(ROOT, ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_module_is_in_a_layer() -> None:
    """A new module must be named by a contract (core, front end, renderer), or none checks it."""
    packages: set[str] = set()  # listed with everything under them
    modules: set[str] = set()  # listed alone
    for contract in contracts().values():
        named = [*contract.get("source_modules", []), *contract.get("forbidden_modules", [])]
        internal = {m for m in named if m.split(".")[0] == "activity_report"}
        (packages if contract.get("as_packages", True) else modules).update(internal)
    found = {dotted(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")}
    unplaced = sorted(
        m
        for m in found
        if m not in modules and not any(m == p or m.startswith(p + ".") for p in packages)
    )
    assert unplaced == []
    assert "activity_report" in modules


def test_the_core_and_its_package_inits_forbid_the_same() -> None:
    found = contracts()
    assert found["root"]["forbidden_modules"] == found["core"]["forbidden_modules"]


PLANTED = [
    ("engine.py", "import rich", "core"),
    ("store/core.py", "from ..cli import serve", "core"),
    ("resources.py", "import signal", "core"),  # a front end handles signals, not the core
    ("__init__.py", "import typer", "root"),
    ("intervals.py", "from . import store", "pure"),
    ("times.py", "from .backends.duckdb import open_store", "pure"),  # through a chain
    ("render/csv.py", "import starlette", "render"),
    ("render/markdown.py", "import rich", "rich"),
    ("render/summary.py", "from . import table", "table"),
    ("server/metrics.py", "from .. import engine", "frontends"),  # reporting answers
    ("store/core.py", "from ..reporting import run", "layers"),  # the store is under reporting
    ("backends/protocol.py", "from .. import sources", "layers"),  # the vocabulary is at the bottom
]


@pytest.mark.parametrize(("module", "statement", "contract"), PLANTED)
def test_an_import_made_inside_a_function_breaks_its_contract(
    tmp_path: Path, module: str, statement: str, contract: str
) -> None:
    shutil.copytree(PACKAGE, tmp_path / "src" / "activity_report")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with (tmp_path / "src" / "activity_report" / module).open("a", encoding="utf-8") as file:
        file.write(f"\n\ndef _planted() -> None:\n    {statement}\n")
    result = lint_imports(tmp_path, tmp_path / "src")
    assert result.returncode == 1, result.stdout
    assert f"{contracts()[contract]['name']} BROKEN" in result.stdout
    assert f"{dotted(Path(module))} ->" in result.stdout


def test_the_csv_lines_duckdb_sets_aside_are_read_in_one_place() -> None:
    """Reports and ingest list the malformed CSV lines through ``sources.reject_lines_sql``:
    only it reads the columns of DuckDB's rejects tables, so both count, word and
    place those lines alike."""
    readers = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(column in path.read_text(encoding="utf-8") for column in ("error_type", "csv_line"))
    )
    assert readers == ["sources/csv.py"]
