"""Where the report goes and in which format: stdout or -o FILE, chosen and checked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..errors import DataError, UsageError
from ..output import check_target, is_stdout, open_output
from ..render import BY_EXTENSION, ColorMode, Format
from .messages import note
from .streams import is_terminal, require_stdout


def choose_format(fmt: Format | None, as_json: bool, output: Path | None) -> Format:
    """--json, else --format, else -o's extension, else the table.

    An -o extension the tool does not know is a usage error rather than a
    silent table: a cron job asking for ``report.xlsx`` should fail loudly.
    """
    if as_json and fmt is not None and fmt is not Format.json:
        raise UsageError(f"--json conflicts with --format {fmt.value}; give one of them")
    if as_json:
        return Format.json
    if fmt is not None:
        return fmt
    if output is None or is_stdout(output):
        return Format.table
    suffix = output.suffix.lower()
    if suffix in BY_EXTENSION:
        return BY_EXTENSION[suffix]
    what = f"the extension {output.suffix!r} is unknown" if suffix else "it has no extension"
    raise UsageError(
        f"-o {output}: {what}; use one of {', '.join(BY_EXTENSION)}, or give --format "
        "(table, json, ndjson, csv, markdown, html)"
    )


def check_destination(output: Path | None) -> None:
    """Fail before the work, not after it, when the report cannot be written."""
    if is_stdout(output):
        require_stdout("the report")
    else:
        assert output is not None
        check_target(output)


def emit(
    report: Any,
    fmt: Format,
    output: Path | None,
    *,
    top: int,
    color: ColorMode,
    csv_raw: bool = False,
) -> None:
    """Write the report to stdout or to -o FILE (see :mod:`activity_report.output`).

    Only the table can carry ANSI codes: on stdout as --color and the terminal
    allow, in a file only with --color always.
    """
    if fmt is Format.table:
        from ..render.table import make_console
        from ..render.table import render as render_table

        if is_stdout(output):
            terminal = is_terminal(sys.stdout)
            console = make_console(sys.stdout, color=color, is_terminal=terminal)
            render_table(report, console, top=top)
            if terminal:
                _warn_of_a_flood(report, top, console.size.height)
            return
        assert output is not None
        with open_output(output) as handle:
            render_table(report, make_console(handle, color=color, is_terminal=False), top=top)
        return
    from ..render import writer

    write = writer(fmt, top=top, csv_raw=csv_raw)
    if is_stdout(output):
        try:
            write(report, sys.stdout)
            sys.stdout.flush()
        except OSError as exc:
            raise DataError(f"cannot write the report to stdout: {exc.strerror or exc}") from None
        return
    assert output is not None
    with open_output(output) as handle:
        write(report, handle)


#: A table longer than this many screens is no longer read, only scrolled.
SCREENS = 10


def _warn_of_a_flood(report: Any, top: int, height: int) -> None:
    """Say so when a table on a terminal ran many screens long, and what reads better."""
    users = len(report.users) if top == 0 else min(top, len(report.users))
    lines = len(report.activity) + users + 10  # the summary, headings and rules
    if lines <= SCREENS * max(height, 1):
        return
    note(
        f"warning: the table above is about {lines:,} lines, {lines // max(height, 1):,} "
        "screens of this terminal; a coarser --interval (such as daily or weekly) or -o FILE "
        "(report.html, report.csv) reads better"
    )
