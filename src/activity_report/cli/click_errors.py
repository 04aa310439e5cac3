"""click's own errors (unknown options, bad values, stray words) in the tool's words."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import click

from .messages import PROG, one_line

_EXTRA_ARGS = re.compile(r"Got unexpected extra arguments? \((.*)\)", re.DOTALL)
_NOT_ONE_OF = re.compile(r"(.*) is not one of (.*)\.", re.DOTALL)
_NOT_A_NUMBER = re.compile(r"(.*?) is not (?:in the range|a valid integer)", re.DOTALL)


def click_message(exc: click.ClickException) -> str:
    """click's own errors in the tool's words: lower-case, options unquoted, the fix named."""
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    path = ctx.command_path if ctx is not None else PROG
    if isinstance(exc, click.MissingParameter) and exc.param is not None:
        name = exc.param.human_readable_name
        if isinstance(exc.param, click.Argument):
            return f"missing argument {name.rstrip('.')}: see `{path} --help`"
        return f"missing option {_option_name(exc.param)}: see `{path} --help`"
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        return _bad_value(exc)
    if isinstance(exc, click.NoSuchOption):
        near = sorted(exc.possibilities or ())
        hint = f" (did you mean {' or '.join(near)}?)" if near else ""
        return f"no such option: {exc.option_name}{hint}; see `{path} --help`"
    if isinstance(exc, click.BadOptionUsage) and "requires an argument" in exc.message:
        return f"{exc.option_name} needs a value" + (f"; see `{path} --help`" if ctx else "")
    extra = _EXTRA_ARGS.fullmatch(exc.message.strip())
    if extra is not None:
        return _extra_arguments(extra[1].split() or [extra[1]], ctx)
    if ctx is not None and isinstance(ctx.command, click.Group):
        names = ", ".join(sorted(ctx.command.list_commands(ctx)))
        if exc.message.startswith("Missing command"):
            return f"{path} needs a command: {names}"
        if exc.message.startswith("No such command"):
            given = exc.message.removeprefix("No such command ").split(".")[0]
            hint = _closest(given.strip("'\""), ctx.command.list_commands(ctx))
            return f"no such command {given} for {path}{hint}: use one of {names}"
    text = one_line(exc.format_message()).rstrip(".")
    text = re.sub(r"'(-{1,2}[\w-]+)'", r"\1", text)
    return text[:1].lower() + text[1:]


def _option_name(param: click.Parameter) -> str:
    """An option's long name (``--format``), else its only one."""
    return max(param.opts, key=len) if param.opts else param.human_readable_name


def _bad_value(exc: click.BadParameter) -> str:
    """``invalid value for --format: 'xml' (use one of table, json, ...)``, as the core says it."""
    assert exc.param is not None
    name = _option_name(exc.param)
    kind = exc.param.type
    message = exc.message.strip()
    if isinstance(kind, click.Choice) and (match := _NOT_ONE_OF.fullmatch(message)):
        choices = ", ".join(str(c) for c in kind.choices)
        return f"invalid value for {name}: {match[1]} (use one of {choices})"
    if isinstance(kind, click.IntRange | click.types.IntParamType) and (
        match := _NOT_A_NUMBER.match(message)
    ):
        value = match[1].strip("'")
        least = getattr(kind, "min", None)
        forms = "a whole number" + (f" of {least} or more" if least is not None else "")
        return f"invalid value for {name}: {value!r} (use {forms})"
    return f"invalid value for {name}: {one_line(message).rstrip('.')}"


def _extra_arguments(extra: list[str], ctx: click.Context | None) -> str:
    """Words no option took: most often the files of a glob the shell expanded."""
    shown = repr(extra[0]) + (f" and {len(extra) - 1} more" if len(extra) > 1 else "")
    if ctx is None or ctx.command.name != "report":
        path = ctx.command_path if ctx is not None else PROG
        return f"unexpected argument {shown}: see `{path} --help`"
    first = Path(extra[0])
    root = ctx.find_root()
    names = root.command.list_commands(root) if isinstance(root.command, click.Group) else []
    near = "" if first.exists() else _closest(extra[0], names)
    if near:
        return f"no such command {extra[0]!r}{near}; the commands are {', '.join(names)}"
    if first.exists() or len(extra) > 1:
        suffix = "".join(first.suffixes) if first.suffix else ""
        glob = str(first.parent / f"*{suffix}") if first.parent != Path() else f"*{suffix}"
        return (
            f"unexpected argument {shown}: quote a glob (--events '{glob}') "
            "or repeat --events for each file"
        )
    return f"unexpected argument {shown}: the commands are {', '.join(names)}"


def _closest(word: str, names: list[str]) -> str:
    """`` (did you mean ingest?)`` for a command name mistyped, else nothing."""
    near = difflib.get_close_matches(word.lower(), names, n=1, cutoff=0.6)
    return f" (did you mean {near[0]}?)" if near else ""
