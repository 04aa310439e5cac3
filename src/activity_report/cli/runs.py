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
from types import FrameType

from ..resources import RunContext

#: The runs under way, the innermost last: the command line runs one at a time.
_RUNNING: list[RunContext] = []


@contextlib.contextmanager
def running() -> Iterator[RunContext]:
    """A run for one command: the current one until it ends, then closed."""
    context = RunContext()
    _RUNNING.append(context)
    try:
        yield context
    finally:
        _RUNNING.remove(context)
        context.close()


def current() -> RunContext:
    """The run of the command under way."""
    if not _RUNNING:
        raise RuntimeError("no command is running: a command runs inside running()")
    return _RUNNING[-1]


def install_signal_handlers() -> None:
    """Make Ctrl-C and SIGTERM cancel the current run (see the module's docstring)."""
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _RUNNING and not _RUNNING[-1].cancel(terminated=signum == signal.SIGTERM):
        return  # a commit is running: it finishes, and the run says so
    raise KeyboardInterrupt
