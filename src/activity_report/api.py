"""The Python API: one report from a notebook or a script, as the command line makes it.

    import activity_report as ar

    r = ar.report(events=["sample_data/events.parquet"], users="sample_data/users.csv",
                  start="2022-08-01", end="2022-08-31", category="ide", interval="1 week")
    r.to_api()  # the dict `activity-report --format json` prints

Values are the command line's, as text (or, for ``max_buckets``, a number);
bad ones raise :class:`.errors.UsageError` whose message names the keyword.

Reports may run side by side in threads. To stop one, give it a
:class:`.resources.RunContext` and call its ``cancel()`` from another thread:
the report raises :class:`.errors.Interrupted`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime

from . import reporting as core
from .event_source import open_files, open_store
from .query import DEFAULT_MAX_BUCKETS, parse_query
from .resources import Limits, RunContext, check_temp_dir, parse_memory_limit
from .store import default_path


def report(
    *,
    events: str | Sequence[str] | None = None,
    db: str | os.PathLike[str] | None = None,
    coder: str | None = None,
    ide_apps: Sequence[str] | None = None,
    users: str | None = None,
    start: str | None = None,
    end: str | None = None,
    interval: str = "1 week",
    tz: str = "UTC",
    category: str = "any",
    orgs: str | Sequence[str] | None = None,
    users_filter: str | Sequence[str] | None = None,
    heartbeat: str = "1 minute",
    max_buckets: int = DEFAULT_MAX_BUCKETS,
    strict: bool = False,
    now: datetime | None = None,
    memory_limit: str | None = None,
    temp_dir: str | None = None,
    context: RunContext | None = None,
) -> core.ReportResult:
    """The report of ``events`` (files, globs, directories), else of Coder's database
    at the URL ``coder`` (its web IDEs: ``ide_apps``), else of the store ``db``.

    ``users`` is a user directory file (else the store's names users);
    ``orgs`` and ``users_filter`` keep only those organizations and users
    (ids or usernames). The result's :meth:`~.reporting.ReportResult.to_api` is
    the Activity API's JSON object; ``.report`` the report itself,
    ``.diagnostics`` the invalid rows skipped and ``.notes`` what the command
    line would add on stderr.

    ``context`` lets the caller cancel the report from another thread
    (``context.cancel()``; the report then raises :class:`.errors.Interrupted`);
    its temporary files (the copy of a FIFO's events) are removed when the
    caller closes it. Without one, the report has its own, closed before it
    returns.
    """
    query = parse_query(
        {
            "tz": tz,
            "category": category,
            "interval": interval,
            "start": start,
            "end": end,
            "org": orgs,
            "user": users_filter,
            "heartbeat": heartbeat,
            "max_buckets": max_buckets,
        },
        now=now,
        strict=strict,
    )
    limits = Limits(
        parse_memory_limit(memory_limit) if memory_limit is not None else None,
        check_temp_dir(temp_dir) if temp_dir is not None else None,
    )
    if events:
        files = [events] if isinstance(events, str) else list(events)
        with open_files(files, users_file=users, limits=limits, context=context) as source:
            return core.run(query, source)
    if coder:
        from .coder import open_coder
        from .sources.coder import DEFAULT_IDE_APPS

        with open_coder(
            coder,
            users_file=users,
            start_us=None if query.start is None else core.to_micros(query.start),
            end_us=None if query.end is None else core.to_micros(query.end),
            ide_apps=DEFAULT_IDE_APPS if ide_apps is None else ide_apps,
            limits=limits,
            context=context,
        ) as source:
            return core.run(query, source)
    path = db or default_path()
    with open_store(path, users_file=users, limits=limits, context=context) as source:
        return core.run(query, source)
