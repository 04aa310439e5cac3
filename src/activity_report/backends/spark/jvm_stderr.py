"""The local JVM's start-up chatter, kept off stderr; everything else it says gets through.

Java prints ``WARNING: Using incubator modules`` and Spark's launcher prints
how to set the log level before any logging configuration applies, so no
setting silences them. The JVM is started with a stderr that is a pipe: a
thread passes its lines on to the real stderr, except those.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

#: Lines of the JVM's start that tell a report's reader nothing.
CHATTER = re.compile(
    rb"WARNING: Using incubator modules: .*"
    rb"|Setting default log level to .*"
    rb"|To adjust logging level use sc\.setLogLevel\(newLevel\)\..*"
)


@contextlib.contextmanager
def without_chatter() -> Iterator[threading.Thread]:
    """Processes started inside inherit a stderr that drops :data:`CHATTER`.

    This process's own stderr is the real one again on leaving; the thread
    (yielded, to join) relays until the last of those processes closes it.
    """
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    real = os.dup(2)
    os.dup2(write_end, 2)
    os.close(write_end)
    relay = threading.Thread(target=_relay, args=(read_end, real), daemon=True)
    relay.start()
    try:
        yield relay
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)


def _relay(read_end: int, real: int) -> None:
    with os.fdopen(read_end, "rb") as lines, os.fdopen(real, "wb", buffering=0) as out:
        for line in lines:
            if not CHATTER.fullmatch(line.rstrip(b"\r\n")):
                out.write(line)
