"""What an HTTP answer may say of the machine: no file paths, no process ids.

The core's messages name files and processes for the operator at a shell
(``/srv/store.duckdb: the store is in use by process 16267``). A client of
the server, who may hold no valid token yet, learns neither: the server's
errors go through :func:`redact`, and a store the reader cannot open is
reported by :func:`store_error` in words of its own.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ActivityReportError, Kind

#: An absolute path of two parts or more, not inside a URL (``http://host/a/b``).
_PATH = re.compile(r"(?<![\w:/.~-])/(?:[^\s/:;,'\"()<>]+/)+[^\s/:;,'\"()<>]*")
#: A process id, as the store's lock errors name the holder.
_PID = re.compile(r"\bprocess \d+|\(PID \d+\)|\bPID \d+", re.IGNORECASE)

BUSY = (
    "the store is in use by another process (an ingest, or a change of tokens or users); "
    "try again shortly"
)


def redact(text: str, *paths: str | os.PathLike[str]) -> str:
    """``text`` without file paths (``paths`` become "the store") and process ids."""
    for path in paths:
        for spelling in {os.fspath(path), str(Path(path).expanduser().resolve())}:
            text = text.replace(f"{spelling}: ", "").replace(spelling, "the store")
    text = _PATH.sub("<path>", text)
    return _PID.sub("another process", text)


def store_error(exc: ActivityReportError, path: Path) -> ActivityReportError:
    """The error of opening the store at ``path``, as a client may read it (same kind)."""
    if exc.kind is Kind.unavailable:
        return ActivityReportError(BUSY, kind=Kind.unavailable)
    return ActivityReportError(redact(str(exc), path), kind=exc.kind)
