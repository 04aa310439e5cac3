"""DuckDB's resources: its memory limit, its spill directory, and interrupts.

Events never come into Python: DuckDB scans, sorts and sums them, within
``--memory-limit`` (DuckDB's default: 80% of the machine's memory), spilling
what does not fit to files in ``--temp-dir`` (default: a folder of this
process in the system's temporary directory, which DuckDB makes only when it
spills and removes when the connection closes).

An interrupt (Ctrl-C) must stop a running query. DuckDB's Python client
checks for signals while a query runs, but drops the KeyboardInterrupt that
Python's default handler raises, and the query runs to its end. So
:func:`install_interrupt_handler` installs a handler that interrupts every
open connection (:func:`track`) and records that it did; the query then fails
with DuckDB's InterruptException, which :func:`was_interrupted` lets the
command line tell from a real error.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import tempfile
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from .errors import ActivityReportError, DataError, InvalidValue, first_line

if TYPE_CHECKING:
    import duckdb

_MEMORY = re.compile(
    r"(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[kmgt]i?b|b|%)", re.ASCII | re.IGNORECASE
)
_UNIT_BYTES = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40}
_UNIT_BYTES |= {unit[0]: size for unit, size in _UNIT_BYTES.items() if len(unit) == 2}
#: DuckDB refuses a limit it cannot count in bytes; far below that, no machine has it.
_MAX_MEMORY_BYTES = 1 << 60
_MEMORY_FORMS = "use a size such as 512MB, 2GB or 1.5GiB, or a share of the memory such as 50%"


#: Every connection: DuckDB never downloads or loads an extension on its own
#: (a path such as ``s3://...`` or ``md:``, or a SQLite file, would make it
#: try). A reporting tool never reaches the network by itself.
OFFLINE: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


@dataclass(frozen=True)
class Limits:
    """What a DuckDB connection may use: memory and a folder to spill to."""

    memory_limit: str | None = None
    temp_dir: str | None = None

    def config(self) -> dict[str, str | bool | int | float | list[str]]:
        """The connection's configuration (values passed as data, never as SQL)."""
        config: dict[str, str | bool | int | float | list[str]] = {
            "temp_directory": self.temp_dir or default_temp_dir(),
            **OFFLINE,
        }
        if self.memory_limit is not None:
            config["memory_limit"] = self.memory_limit
        return config


def default_temp_dir() -> str:
    return os.path.join(tempfile.gettempdir(), f"activity-report-{os.getpid()}")


def parse_memory_limit(text: str, *, param: str = "memory_limit") -> str:
    """``'2GB'``, ``'512 MiB'``, ``'50%'`` -> the same, as DuckDB spells it."""
    match = _MEMORY.fullmatch(text.strip())
    if match is None:
        raise InvalidValue(param, text, _MEMORY_FORMS)
    number, unit = float(match["number"]), match["unit"]
    if unit == "%":
        if not 0 < number <= 100:
            raise InvalidValue(param, text, "a share must be above 0% and at most 100%")
        return f"{match['number']}%"
    if number <= 0:
        raise InvalidValue(param, text, "it must be above zero")
    if number * _UNIT_BYTES[unit.lower().replace("ib", "")] >= _MAX_MEMORY_BYTES:
        raise InvalidValue(param, text, "that is more memory than any machine has")
    spelled = unit.upper().replace("IB", "iB")
    return f"{match['number']}{spelled}"


def check_temp_dir(text: str, *, param: str = "temp_dir") -> str:
    """A folder DuckDB can spill to: an existing writable one, or a new one to make."""
    if not text.strip():
        raise InvalidValue(param, text, "give a folder")
    path = Path(text).expanduser()
    if path.exists():
        if not path.is_dir():
            raise InvalidValue(param, text, "it is not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InvalidValue(param, text, "the folder is not writable")
        return str(path)
    parent = path.parent
    if not parent.is_dir():
        raise InvalidValue(
            param, text, f"neither it nor its parent folder {str(parent)!r} exists; create it first"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InvalidValue(param, text, "it does not exist and its parent folder is not writable")
    return str(path)


def connect(
    database: str = ":memory:", *, limits: Limits | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection within ``limits``, which an interrupt reaches."""
    import duckdb

    try:
        con = duckdb.connect(database, config=(limits or Limits()).config())
    except duckdb.Error as exc:
        raise DataError(f"cannot start DuckDB: {first_line(exc)}") from exc
    return track(con)


# --------------------------------------------------------------------------- interrupts

_OPEN: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
_STATE = {"interrupted": False, "terminated": False, "held": False}
_COMMITTED: list[str] = []  # what the run has made permanent, for an interrupt's message


def track(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Let an interrupt stop the queries of ``con``; returns ``con``."""
    _OPEN.add(con)
    return con


def interrupt_all() -> None:
    """Interrupt every running query of every tracked connection."""
    _STATE["interrupted"] = True
    for con in list(_OPEN):
        try:
            con.interrupt()
        except Exception:  # a closed connection has nothing to stop
            pass


def was_interrupted() -> bool:
    return _STATE["interrupted"]


def interruption() -> tuple[str, int]:
    """What to say, and the exit code, after an interrupt: 130 for Ctrl-C, 143 for SIGTERM."""
    return ("terminated", 143) if _STATE["terminated"] else ("interrupted", 130)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    interrupt_all()
    raise KeyboardInterrupt


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _STATE["terminated"] = True
    interrupt_all()
    raise KeyboardInterrupt


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back while a commit runs: it finishes, or never starts.

    A signal that comes meanwhile is remembered (:func:`was_held`), not raised:
    the run goes on and says that the commit finished. Signals can only be
    handled in the main thread; elsewhere the block just runs.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def hold(signum: int, frame: FrameType | None) -> None:
        _STATE["held"] = True

    for number in kept:
        signal.signal(number, hold)
    try:
        yield
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler)


def begin_run() -> None:
    """Forget what an earlier run in this process committed or held back."""
    _COMMITTED.clear()
    _STATE["held"] = False


def committed(what: str) -> None:
    """Record that ``what`` is now permanent (``'the ingest is committed'``)."""
    _COMMITTED.append(what)


def what_was_committed() -> str | None:
    return _COMMITTED[-1] if _COMMITTED else None


def was_held() -> bool:
    """Whether an interrupt came during a commit (and so did not stop it)."""
    return _STATE["held"]


def install_interrupt_handler() -> None:
    """Make Ctrl-C stop DuckDB's queries too (see the module's docstring).

    SIGTERM (``timeout``, systemd, ``kill``) ends a run the same way, so it
    removes what a run leaves behind: the copy of stdin, a half-written
    ``-o`` file, DuckDB's spill folder.
    """
    signal.signal(signal.SIGINT, _on_sigint)
    signal.signal(signal.SIGTERM, _on_sigterm)


# --------------------------------------------------------------------------- errors


def explain(exc: BaseException) -> ActivityReportError | None:
    """A one-line error, with its fix, for DuckDB running out of memory or disk."""
    kind = type(exc).__name__
    text = first_line(exc)
    if kind == "OutOfMemoryException":
        return DataError(
            f"DuckDB ran out of memory ({text}); raise --memory-limit, or point "
            "--temp-dir at a disk with room to spill to"
        )
    if kind == "IOException" and "temp" in text.lower():
        return DataError(f"DuckDB could not spill to disk ({text}); point --temp-dir elsewhere")
    return None
