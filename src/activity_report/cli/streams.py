"""The standard streams: closed ones made safe, and whether one is a terminal."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from ..errors import DataError

#: The standard streams that were closed when the run began (now /dev/null).
_CLOSED_STREAMS: set[str] = set()


def guard_standard_streams() -> None:
    """Put /dev/null on a closed stdin, stdout or stderr, and remember it.

    Else the first file the run opens (the store, a temporary file) would get
    that descriptor, and writes meant for the stream would land in the file;
    and Python, finding stderr closed, would print warnings to stdout. A
    closed stderr then silences diagnostics (the exit code still tells); a
    closed stdout is an error wherever the run has something to write there.
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        _CLOSED_STREAMS.add(name)
        opened = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
        if opened != fd:
            os.dup2(opened, fd)
            os.close(opened)
        setattr(sys, name, open(fd, "r" if fd == 0 else "w", encoding="utf-8", closefd=False))


def require_stdout(what: str) -> None:
    if "stdout" in _CLOSED_STREAMS:
        raise DataError(
            f"stdout is closed: nowhere to write {what}; redirect stdout (> FILE) or give -o FILE"
            if what == "the report"
            else f"stdout is closed: nowhere to write {what}; redirect stdout (> FILE)"
        )


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
