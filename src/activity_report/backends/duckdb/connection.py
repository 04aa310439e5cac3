"""A DuckDB connection set up for reports, and a run for a source that was given none."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ... import resources

if TYPE_CHECKING:
    import duckdb


def connect(
    memory_limit: str | None = None,
    temp_dir: str | None = None,
    *,
    context: resources.RunContext | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for reports.

    UTC session time zone: text timestamps without an offset are UTC.
    No progress bar: DuckDB draws it on stdout, which carries only the report.
    Memory is bounded by ``memory_limit``; what does not fit spills to
    ``temp_dir`` (see :mod:`activity_report.resources`), and ``context``'s
    cancel interrupts its queries.
    """
    con = resources.connect(limits=resources.Limits(memory_limit, temp_dir), context=context)
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    return con


@contextlib.contextmanager
def owned(context: resources.RunContext | None) -> Iterator[resources.RunContext]:
    """``context``, or a private one closed (its temporary files removed) when the block ends."""
    if context is not None:
        yield context
        return
    with resources.RunContext() as private:
        yield private
