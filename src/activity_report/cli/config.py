"""A config file of options, so that cron lines stay short.

``--config FILE``, else ``activity-report.toml`` in the current directory,
else none. The file holds options by their long names (``events``, ``db``,
``column``, ``time-format``...); each command takes the ones it has. The
values become click's ``default_map``: an option given on the command line
(or by its environment variable) wins over the file, and the file over the
built-in defaults.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ..errors import InvalidValue, UsageError

DEFAULT_FILE = "activity-report.toml"


def config_path(argv: Sequence[str]) -> Path | None:
    """The file ``--config`` names in ``argv``, else ``activity-report.toml`` here if it exists."""
    for index, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--config" and index + 1 < len(argv):
            return _given(argv[index + 1])
        if arg.startswith("--config="):
            return _given(arg.removeprefix("--config="))
    found = Path(DEFAULT_FILE)
    return found if found.is_file() else None


def _given(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.is_file():
        raise InvalidValue("config", text, "no such file")
    return path


def default_map(path: Path, group: click.Group) -> dict[str, Any]:
    """The file's options as click's ``default_map`` for each command of ``group``.

    A key no command has is an error naming it.
    """
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML: {exc}") from exc
    commands = _commands(group)
    known = {key for params in commands.values() for key in params}
    for key, value in values.items():
        if _key(key) not in known:
            close = difflib.get_close_matches(_key(key), sorted(known), n=1)
            hint = f"; did you mean {close[0].replace('_', '-')!r}?" if close else ""
            raise UsageError(f"{path}: unknown key {key!r}: the keys are options' long names{hint}")
        if isinstance(value, dict):
            raise UsageError(f"{path}: key {key!r} holds a table; give it a value")
    mapped: dict[str, Any] = {}
    for name, params in commands.items():
        target: dict[str, Any] = {}
        for key, value in values.items():
            param = params.get(_key(key))
            if param is not None:
                many = getattr(param, "multiple", False) or param.nargs == -1
                if many and not isinstance(value, list):
                    value = [value]
                target[param.name or _key(key)] = value
        *parents, last = name.split(" ")
        level = mapped
        for parent in parents:
            level = level.setdefault(parent, {})
        level[last] = target
    return mapped


def _key(key: str) -> str:
    return key.strip().lower().replace("-", "_")


def _commands(group: click.Group) -> dict[str, dict[str, click.Parameter]]:
    """Every command (``users import`` for a subgroup's), with its options by long name.

    An event file argument (``ingest PATHS``) is the ``events`` key too.
    """
    found: dict[str, dict[str, click.Parameter]] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            for sub, options in _commands(command).items():
                found[f"{name} {sub}"] = options
            continue
        params: dict[str, click.Parameter] = {}
        for param in command.params:
            if isinstance(param, click.Argument) and param.name == "paths":
                params["events"] = param
            for opt in getattr(param, "opts", ()):
                if opt.startswith("--") and opt not in ("--help", "--config", "--debug"):
                    params[_key(opt[2:])] = param
        found[name] = params
    return found
