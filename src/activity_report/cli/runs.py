"""The command's run, and the signals that cancel it.

The core keeps no state between runs: each command runs in a
:class:`~activity_report.resources.RunContext` made here, which every store
and source of the command is given. Signals are the command line's own
business: Ctrl-C (SIGINT) and SIGTERM (``timeout``, systemd, ``kill``) cancel
the current run, which interrupts its DuckDB queries. DuckDB's Python client
checks for signals while a query runs but drops the KeyboardInterrupt that
Python's default handler raises, so the query would run to its end: the
handler interrupts the run's connections first. What the run leaves behind
(the copy of stdin, a half-written ``-o`` file, DuckDB's spill folder) is
removed as it ends.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import click

from ..resources import RunContext


@dataclass
class Run:
    """One command's run: its context, and what its options say of errors.

    Click carries it as the root context's ``obj`` (see :func:`current`);
    ``debug`` is set by the ``--debug`` option once click has parsed it, so
    a value that only looks like ``--debug`` (``--org --debug``) is not it.
    """

    context: RunContext = field(default_factory=RunContext)
    debug: bool = False
    config: Path | None = None  # the configuration file read, if any


class _OnSignal:
    """The handler of SIGINT and SIGTERM: it cancels the run it is told of."""

    def __init__(self) -> None:
        self.run: Run | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        run = self.run
        if run is not None and not run.context.cancel(terminated=signum == signal.SIGTERM):
            return  # a commit is running: it finishes, and the run says so
        raise KeyboardInterrupt


@contextlib.contextmanager
def running() -> Iterator[Run]:
    """A run for one command, told to the signal handlers until it ends, then closed."""
    run = Run()
    handler = signal.getsignal(signal.SIGINT)
    told = handler if isinstance(handler, _OnSignal) else None
    outer = told.run if told is not None else None
    if told is not None:
        told.run = run
    try:
        yield run
    finally:
        if told is not None:
            told.run = outer
        run.context.close()


def current() -> RunContext:
    """The run of the command under way (click's root context carries it)."""
    run = click.get_current_context().find_root().obj
    if not isinstance(run, Run):
        raise RuntimeError("no command is running: a command runs inside running()")
    return run.context


def config_file() -> Path | None:
    """The configuration file the command under way read its defaults from, if any."""
    run = click.get_current_context().find_root().obj
    return run.config if isinstance(run, Run) else None


def set_debug(ctx: click.Context, param: Any, value: bool) -> bool:
    """``--debug``'s callback: the run shows tracebacks once the option is parsed as one."""
    run = ctx.find_root().obj
    if value and isinstance(run, Run):
        run.debug = True
    return value


def install_signal_handlers() -> None:
    """Make Ctrl-C and SIGTERM cancel the current run (see the module's docstring)."""
    handler = _OnSignal()
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
