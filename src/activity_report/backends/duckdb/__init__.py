"""The DuckDB engine: reports over event files or the store, in-process.

:func:`open_files` reads files, globs, directories or a stream into a
:class:`FileSource`; :func:`open_store` opens the store read-only as a
:class:`StoreSource`. Both are
:class:`~activity_report.backends.protocol.EventSource`\\ s that answer with
the SQL of :mod:`activity_report.engine`.
"""

from __future__ import annotations

from .connection import connect, owned
from .files import FileSource, open_files
from .store import StoreSource, open_store

__all__ = ["FileSource", "StoreSource", "connect", "open_files", "open_store", "owned"]
