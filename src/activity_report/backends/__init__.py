"""The engines behind a report, each in its own package, and the one place that picks one.

A backend turns the events into the answers :mod:`.protocol` names
(diagnostics, the data span, the cells), so the same model and renderers
make the output: :mod:`.duckdb` over event files or the store, :mod:`.spark`
over files, folders or URLs with Apache Spark. A backend's own dependencies
are imported only when it runs. :func:`open_source` chooses, for every front
end: Spark when asked, else DuckDB over the files, else over the store.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Literal

from ..errors import InvalidValue, UsageError
from .protocol import HEARTBEAT_US

if TYPE_CHECKING:
    from ..resources import Limits, RunContext
    from ..sources import Reading
    from .protocol import EventSource

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")


@contextlib.contextmanager
def open_source(
    events: Sequence[str] | None,
    db: str | os.PathLike[str] | None,
    *,
    users_file: str | None = None,
    limits: Limits | None = None,
    context: RunContext | None = None,
    engine: Engine = "duckdb",
    spark_remote: str | None = None,
    window: tuple[int | None, int | None, int] = (None, None, HEARTBEAT_US),
    reading: Reading | None = None,
    orgs_file: str | None = None,
    coder: str | None = None,
    ide_apps: Sequence[str] | None = None,
) -> Iterator[EventSource]:
    """The events a report reads: ``events`` (files, globs, folders), else the store ``db``.

    ``engine`` ``"spark"`` reads ``events`` with Apache Spark (``spark_remote``:
    a Spark Connect URL, else a local Spark); ``window`` is the report's
    ``(start_us, end_us, heartbeat_us)``, which lets Spark skip partitions.
    ``reading`` says how to read the files' columns, times and categories
    (default: the canonical ones); ``orgs_file`` names organizations.
    ``coder``: without ``events``, the URL of Coder's PostgreSQL database, read
    as events (its web IDEs: ``ide_apps``), instead of the store.
    """
    if engine not in ENGINES:
        raise InvalidValue("engine", str(engine), f"give one of {', '.join(ENGINES)}")
    if engine == "spark":
        if coder is not None and not events:
            raise UsageError(
                "{engine} spark reads {events}, not {coder}", params=("engine", "events", "coder")
            )
        if not events:
            raise UsageError(
                "{engine} spark reads {events} (files, folders or URLs), not a store",
                params=("engine", "events"),
            )
        from . import spark

        start_us, end_us, heartbeat_us = window
        yield spark.open_source(
            events,
            users_file=users_file,
            remote=spark_remote,
            start_us=start_us,
            end_us=end_us,
            heartbeat_us=heartbeat_us,
            context=context,
            reading=reading,
            orgs_file=orgs_file,
        )
        return
    from ..sources import Reading
    from .duckdb import open_files, open_store

    if not events and coder is not None and reading is not None and reading != Reading():
        raise UsageError(
            "{column}, {time_format}, {input_tz} and {category_map} say how to read event "
            "files; {coder} reads Coder's tables by their own mapping: drop them",
            params=("column", "time_format", "input_tz", "category_map", "coder"),
        )
    if not events and reading is not None and reading != Reading():
        raise UsageError(
            "{column}, {time_format}, {input_tz} and {category_map} say how to read event "
            "files: give them to ingest, or with {events}",
            params=("column", "time_format", "input_tz", "category_map", "events"),
        )
    if coder is not None and not events:
        from ..coder import open_coder
        from ..sources.coder import DEFAULT_IDE_APPS

        start_us, end_us, _ = window
        with open_coder(
            coder,
            users_file=users_file,
            orgs_file=orgs_file,
            start_us=start_us,
            end_us=end_us,
            ide_apps=DEFAULT_IDE_APPS if ide_apps is None else ide_apps,
            limits=limits,
            context=context,
        ) as from_coder:
            yield from_coder
        return
    if events:
        with open_files(
            events,
            users_file=users_file,
            limits=limits,
            context=context,
            reading=reading,
            orgs_file=orgs_file,
        ) as files:
            yield files
        return
    if db is None:
        raise ValueError("no events and no store to read")
    with open_store(
        db, users_file=users_file, limits=limits, context=context, orgs_file=orgs_file
    ) as store:
        yield store
