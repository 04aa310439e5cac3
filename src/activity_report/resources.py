"""DuckDB's resources: its memory limit, its spill directory, and each run's state.

Events never come into Python: DuckDB scans, sorts and sums them, within
``--memory-limit`` (DuckDB's default: 80% of the machine's memory), spilling
what does not fit to files in ``--temp-dir`` (default: a folder of this
process in the system's temporary directory, which DuckDB makes only when it
spills and removes when the connection closes).

A run's state (its connections, temporary files, commits and whether it was
cancelled) lives in a :class:`RunContext` its caller owns, never in this
module: reports run side by side in threads, and cancelling one (Ctrl-C on
the command line, a client gone from the server) interrupts its queries only.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from .errors import ActivityReportError, DataError, Interrupted, InvalidValue, first_line

if TYPE_CHECKING:
    import duckdb

#: ``os.open`` flags of a new file, made only if no file has its name: a temporary
#: file named before it is made (its name random) never opens another's.
NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)

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
    database: str = ":memory:",
    *,
    limits: Limits | None = None,
    context: RunContext | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection within ``limits``, which ``context``'s cancel reaches."""
    import duckdb

    config = (limits or Limits()).config()
    if context is not None:
        context.check()
        if not (limits and limits.temp_dir):
            config["temp_directory"] = context.spill_dir()
    try:
        con = duckdb.connect(database, config=config)
    except duckdb.Error as exc:
        raise DataError(f"cannot start DuckDB: {first_line(exc)}") from exc
    return con if context is None else context.track(con)


# --------------------------------------------------------------------------- runs


class RunContext:
    """One run's state, owned by its caller: what to interrupt, commit and remove.

    A run (a report, an ingest, a request of the server) registers here the
    DuckDB connections it opens (:meth:`track`), the temporary files it makes
    (:meth:`add_temp`) and what it commits (:meth:`committed`). Its caller may
    :meth:`cancel` it from any thread: that interrupts the queries of this run
    only, and the run then ends with :class:`.errors.Interrupted`. Closing the
    context (or leaving its ``with`` block) removes its temporary files.
    Nothing here is shared between runs: reports run side by side in threads.

    The core never handles signals; a front end that does (the command line)
    calls :meth:`cancel` from its handler. A commit runs inside
    :meth:`shielded`: a cancel that comes meanwhile is remembered (:attr:`held`)
    and does not stop it.
    """

    def __init__(self) -> None:
        # Reentrant: a signal handler runs in the main thread, maybe while it holds the lock.
        self._lock = threading.RLock()
        self._connections: weakref.WeakSet[duckdb.DuckDBPyConnection] = weakref.WeakSet()
        self._temp: list[str] = []
        self._committed: list[str] = []
        self._shields = 0
        self._spill = f"{default_temp_dir()}-{secrets.token_hex(4)}"
        self._spills = 0
        #: Cancelled: its queries were interrupted, or will fail to start.
        self.interrupted = False
        #: Cancelled as SIGTERM asks (the command line exits 143, not 130).
        self.terminated = False
        #: A cancel came during a commit, which went on and finished.
        self.held = False

    # ------------------------------------------------------------- interrupts

    def track(self, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        """Let :meth:`cancel` stop the queries of ``con``; returns ``con``."""
        with self._lock:
            self._connections.add(con)
        return con

    def cancel(self, *, terminated: bool = False) -> bool:
        """Interrupt this run's running queries, from any thread; later checks fail.

        During a commit (:meth:`shielded`) nothing is interrupted: the cancel is
        remembered as :attr:`held` and False returned; the commit finishes.
        """
        with self._lock:
            if self._shields:
                self.held = True
                return False
            self.interrupted = True
            self.terminated = self.terminated or terminated
            connections = list(self._connections)
        for con in connections:
            try:
                con.interrupt()
            except Exception:  # a closed connection has nothing to stop
                pass
        return True

    def check(self) -> None:
        """Raise :class:`.errors.Interrupted` if the run was cancelled.

        DuckDB's interrupt stops the query that runs at that moment only;
        a run checks between its queries, so a cancel never goes unseen.
        """
        if self.interrupted:
            raise Interrupted("terminated" if self.terminated else "interrupted")

    @contextlib.contextmanager
    def stops(self) -> Iterator[None]:
        """Its block, ending in :class:`.errors.Interrupted` if the run was cancelled.

        A query that a cancel interrupted fails with DuckDB's own error; this
        makes it (and a block that finished despite a cancel) the one error.
        """
        try:
            yield
        except Exception as exc:
            if self.interrupted and not isinstance(exc, Interrupted):
                raise Interrupted("terminated" if self.terminated else "interrupted") from exc
            raise
        self.check()

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        """Hold cancels back while a commit runs: it finishes, or never starts.

        A cancel that comes meanwhile is remembered (:attr:`held`), not acted
        upon: the run goes on and can say that the commit finished.
        """
        with self._lock:
            self.check()
            self._shields += 1
        try:
            yield
        finally:
            with self._lock:
                self._shields -= 1

    # ------------------------------------------------------------- commits

    def committed(self, what: str) -> None:
        """Record that ``what`` is now permanent (``'the ingest is committed'``)."""
        self._committed.append(what)

    def what_was_committed(self) -> str | None:
        return self._committed[-1] if self._committed else None

    # ------------------------------------------------------------- temporary files

    def spill_dir(self) -> str:
        """A folder of this run's own for a connection to spill to (made only if it spills).

        DuckDB removes the folder it made when its connection closes, but not
        one that another connection spilled to meanwhile: so each connection
        gets its own.
        """
        with self._lock:
            self._spills += 1
            return f"{self._spill}-{self._spills}"

    def add_temp(self, path: str) -> str:
        """Remove the file (or empty folder) ``path`` when the run closes; returns it."""
        with self._lock:
            self._temp.append(path)
        return path

    def new_temp_file(self, prefix: str, suffix: str = "") -> tuple[int, str]:
        """A new empty file in the system's temporary folder, removed when the run closes:
        its descriptor, open for writing, and its path.

        Its name is added before the file is made, so a signal at any moment leaves
        nothing behind (made first, a file could outlive a signal that came before it
        was added).
        """
        return self._new_temp(prefix, suffix, lambda path: os.open(path, NEW_FILE, 0o600))

    def new_temp_folder(self, prefix: str) -> str:
        """A new empty folder in the system's temporary folder, removed when the run closes
        (as :meth:`new_temp_file`: named first, then made)."""
        return self._new_temp(prefix, "", lambda path: os.mkdir(path, 0o700))[1]

    def _new_temp(
        self, prefix: str, suffix: str, make: Callable[[str], int | None]
    ) -> tuple[int, str]:
        folder = tempfile.gettempdir()
        while True:
            path = os.path.join(folder, f"{prefix}{secrets.token_hex(8)}{suffix}")
            self.add_temp(path)
            try:
                made = make(path)
            except FileExistsError:  # another's: not ours to remove
                with self._lock:
                    self._temp.remove(path)
                continue
            return (-1 if made is None else made), path

    def temp_files(self) -> list[str]:
        """The temporary files and folders the run still has, oldest first."""
        with self._lock:
            return list(self._temp)

    def close(self) -> None:
        """Remove the run's temporary files and folders, the newest first."""
        while True:
            with self._lock:
                if not self._temp:
                    return
                name = self._temp.pop()
            try:
                if os.path.isdir(name) and not os.path.islink(name):
                    os.rmdir(name)
                else:
                    os.unlink(name)
            except OSError:
                pass

    def __enter__(self) -> RunContext:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --------------------------------------------------------------------------- errors


def explain(exc: BaseException, committed: str | None = None) -> ActivityReportError | None:
    """A one-line error, with its fix, for DuckDB running out of memory or disk.

    ``committed``: what the run committed before it failed, if anything (see
    :meth:`RunContext.committed`); a full disk then says it is kept.
    """
    full = disk_full(exc, committed)
    if full is not None:
        return full
    kind = type(exc).__name__
    text = first_line(exc)
    if kind == "OutOfMemoryException":
        return DataError(
            "DuckDB ran out of memory ({text}); raise {memory_limit}, or point "
            "{temp_dir} at a disk with room to spill to",
            params=("memory_limit", "temp_dir"),
            text=text,
        )
    if kind == "IOException" and "temp" in text.lower():
        return DataError(
            "DuckDB could not spill to disk ({text}); point {temp_dir} elsewhere",
            params=("temp_dir",),
            text=text,
        )
    return None


#: How a full disk reads in an error: the C library's words, and its code's name.
_NO_SPACE = re.compile(r"no space left on device|disk (?:is )?full|ENOSPC", re.IGNORECASE)
#: The file DuckDB (or Python) failed to write, as its messages name it.
_WRITTEN = re.compile(r"""(?:Could not write(?: all bytes to)? file|write to) ["']([^"']+)["']""")


def disk_full(exc: BaseException, committed: str | None = None) -> DataError | None:
    """One line for a write that failed because the disk is full, naming the file; else None.

    A store's commit that failed changed nothing. A commit that was written
    to the store's write-ahead log before the store's own file could not be
    (``committed`` says what it was) is kept: DuckDB applies the log when the
    store is next opened.
    """
    text = str(exc)
    if not (_NO_SPACE.search(text) or getattr(exc, "errno", None) == 28):
        return None
    found = _WRITTEN.search(text) or re.search(r"""["']([^"']+)["']""", text)
    path = found[1] if found else getattr(exc, "filename", None)
    where = f"cannot write {path}" if path else "cannot write"
    if path and _is_temporary(str(path)):
        return DataError(
            "the disk is full: {where} (a temporary file); point {temp_dir} at a disk with "
            "room, or free some space on its disk, and run it again",
            params=("temp_dir",),
            where=where,
        )
    if committed:
        store = re.sub(r"\.wal$", "", str(path)) if path else "the store"
        return DataError(
            f"the disk is full: {where}; {committed}, kept in {store}.wal, which DuckDB "
            "applies when the store is next opened: free some space on its disk first"
        )
    return DataError(
        f"the disk is full: {where}; nothing was changed: free some space on its disk and "
        "run it again"
    )


def _is_temporary(path: str) -> bool:
    """Whether ``path`` is one of DuckDB's spill files (in a run's spill folder)."""
    return "duckdb_temp" in os.path.basename(path) or "/activity-report-" in path
