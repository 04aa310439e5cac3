"""The DuckDB engine: reports over event files or the store, in-process.

:func:`open_files` reads files, globs, directories or a stream;
:func:`open_store` opens the store read-only. Both yield an
:class:`~activity_report.backends.protocol.EventSource` that answers with the
SQL of :mod:`activity_report.engine`.
"""

from __future__ import annotations

from .files import DuckDBSource, connect, open_files, open_store, owned

__all__ = ["DuckDBSource", "connect", "open_files", "open_store", "owned"]
