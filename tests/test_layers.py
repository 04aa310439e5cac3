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
    env = {**os.environ, "PYTHONPATH": str(src)}
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
    """A new module must be named as core, front end or renderer, or no contract checks it."""
    found = contracts()
    core = found["core"]["source_modules"]
    front_ends = [m for m in found["core"]["forbidden_modules"] if m.startswith("activity_report")]
    layers = [*core, *front_ends, *found["render"]["source_modules"]]
    modules = {dotted(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")}
    modules.discard("activity_report")  # the package's own __init__: the "root" contract
    unplaced = sorted(
        m for m in modules if not any(m == layer or m.startswith(layer + ".") for layer in layers)
    )
    assert unplaced == []
    assert found["root"]["forbidden_modules"] == found["core"]["forbidden_modules"]


PLANTED = [
    ("engine.py", "import rich", "core"),
    ("store.py", "from . import cli_server", "core"),
    ("__init__.py", "import typer", "root"),
    ("intervals.py", "from . import store", "pure"),
    ("times.py", "from .event_source import open_store", "pure"),  # through a chain
    ("render/csv.py", "import starlette", "render"),
    ("render/markdown.py", "import rich", "rich"),
    ("render/summary.py", "from . import table", "table"),
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
