"""A writer waiting for the store says so, and the server lets it in.

DuckDB gives a file to one process that writes or to several that read. The
server reads in windows and closes the store for a short gap between them; a
writer that only retried could miss every gap while requests keep coming, and
give up. So a writer that finds the store held leaves a mark beside it,
``<store>.writer-waiting.<pid>``, touches it at each attempt and removes it
once it has the store or gives up. A server that sees a fresh mark keeps the
store closed, for up to a turn, instead of opening its next window.

A mark not touched for :data:`FRESH` seconds is a writer gone (killed, or on
another machine's clock): readers ignore it, and the next writer removes it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

#: Seconds a mark counts after its writer last touched it.
FRESH = 2.0
#: A writer touches its mark at least this often (seconds between attempts).
ATTEMPTS_EVERY = 0.1

_INFIX = ".writer-waiting."


class Mark:
    """One waiting writer's mark beside the store at ``store``."""

    def __init__(self, store: Path) -> None:
        self.path = store.with_name(f"{store.name}{_INFIX}{os.getpid()}")
        self.touched = False

    def touch(self) -> None:
        """Say again that the writer is waiting (made at the first touch).

        A mark that cannot be written (a folder we may not write to) is no
        mark: the writer then only retries, as it would without one.
        """
        try:
            self.path.touch()
        except OSError:
            return
        self.touched = True

    def remove(self) -> None:
        if self.touched:
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)


def waiting(store: Path) -> bool:
    """Whether a writer says, by a fresh mark, that it waits for the store at ``store``."""
    now = time.time()
    return any(now - touched < FRESH for _, touched in _marks(store))


def remove_stale(store: Path) -> None:
    """Remove the marks of writers gone (not touched for ten times :data:`FRESH`)."""
    now = time.time()
    for mark, touched in _marks(store):
        if now - touched > 10 * FRESH:
            mark.unlink(missing_ok=True)


def _marks(store: Path) -> list[tuple[Path, float]]:
    prefix = f"{store.name}{_INFIX}"
    found: list[tuple[Path, float]] = []
    try:
        with os.scandir(store.parent) as entries:
            for entry in entries:
                if entry.name.startswith(prefix):
                    try:
                        found.append((Path(entry.path), entry.stat().st_mtime))
                    except OSError:
                        continue  # removed as we looked: its writer has the store
    except OSError:
        return []
    return found
