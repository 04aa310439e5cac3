"""Reading the rollups: whether they answer a report, and its cells, count and span.

:mod:`.rollups` writes the tables (see its notes on what they hold); this
module only reads them, for the store's reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import engine, sources
from ..backends.protocol import Filters
from ..errors import DataError, Kind
from ..model import CellColumns
from . import minute_runs
from .rollups import DAY_US, HEARTBEAT_US, SLOT_US

if TYPE_CHECKING:
    import duckdb


def answerable(edges: Sequence[int], filters: Filters, heartbeat_us: int) -> bool:
    """Whether the rollups give exactly what the events would."""
    categories = set(filters.categories)
    return (
        heartbeat_us == HEARTBEAT_US
        and all(edge % SLOT_US == 0 for edge in edges)
        and (categories == set(sources.CATEGORIES) or len(categories) == 1)
        and (filters.orgs is None or len(filters.orgs) == 1)
    )


def filter_sql(filters: Filters, params: dict[str, object]) -> str:
    """SQL: the rollup rows of ``filters`` (one that :func:`answerable` accepts).

    A single row (see :mod:`.rollups`) holds its category and organization
    and stands for any category and all organizations too.
    """
    clauses = []
    every = set(filters.categories) == set(sources.CATEGORIES)
    if every and filters.orgs is None:
        clauses.append("((category IS NULL AND org IS NULL) OR single)")
    elif every:
        clauses.append("org = $org AND (category IS NULL OR single)")
    elif filters.orgs is None:
        clauses.append("category = $category AND (org IS NULL OR single)")
    else:
        clauses.append("category = $category AND org = $org")
    if not every:
        params["category"] = filters.categories[0]
    if filters.orgs is not None:
        params["org"] = filters.orgs[0]
    if filters.users is not None:
        clauses.append("uid IN (SELECT uid FROM rollup_users WHERE list_contains($users, user_id))")
        params["users"] = list(filters.users)
    return " AND ".join(clauses)


def cells(con: duckdb.DuckDBPyConnection, edges: Sequence[int], filters: Filters) -> CellColumns:
    """Counts and durations per bucket and user, from the rollups (see :func:`answerable`).

    Days when every edge is a UTC midnight, else slots. Equal buckets find
    their index by division; others join a table of the range's days or
    slots and their buckets (a hash join on equal keys: no range join).
    """
    daily = all(edge % DAY_US == 0 for edge in edges)
    table, column, unit = (
        ("rollups_daily", "day", DAY_US) if daily else ("rollups", "slot", SLOT_US)
    )
    params: dict[str, object] = {"start": edges[0], "end": edges[-1]}
    where = filter_sql(filters, params)
    widths = {hi - lo for lo, hi in zip(edges, edges[1:], strict=False)}
    if len(widths) == 1:
        source = f"""SELECT ({column} - $start) // {widths.pop()} AS bucket, uid, count, duration
                     FROM {table}
                     WHERE {where} AND {column} >= $start AND {column} < $end"""
    else:
        params["edges"] = list(edges)
        source = f"""SELECT k.bucket, r.uid, r.count, r.duration
                     FROM {table} r JOIN (
                         SELECT i - 1 AS bucket,
                                unnest(range($edges[i], $edges[i + 1], {unit})) AS {column}
                         FROM range(1, len($edges)) t(i)
                     ) k USING ({column})
                     WHERE {where} AND r.{column} >= $start AND r.{column} < $end"""
    # BIGINT, not the sums' HUGEINT: NumPy columns. In any order: the report sorts them.
    found = con.execute(
        f"""SELECT g.bucket, k.user_id, CAST(g.n AS BIGINT) AS n,
                   CAST(g.duration AS BIGINT) AS duration
            FROM (SELECT bucket, uid, sum(count) AS n, sum(duration) AS duration
                  FROM ({source}) GROUP BY ALL) g
            JOIN rollup_users k USING (uid)
            WHERE g.n > 0 OR g.duration > 0""",
        params,
    ).fetchnumpy()
    return columns(found)


def columns(found: dict[str, Any]) -> CellColumns:
    """The cells of a result's columns ``bucket``, ``user_id``, ``n`` and ``duration``
    (``fetchnumpy``'s)."""
    return CellColumns(
        bucket=np.asarray(found["bucket"], dtype=np.int64),
        user_id=np.asarray(found["user_id"], dtype=object).tolist(),
        count=np.asarray(found["n"], dtype=np.int64),
        duration_us=np.asarray(found["duration"], dtype=np.int64),
    )


def counted(con: duckdb.DuckDBPyConnection) -> int:
    """How many stored events the rollups count: those of the known categories."""
    return int(
        con.execute(
            "SELECT coalesce(sum(count), 0) FROM rollups_daily "
            "WHERE (category IS NULL AND org IS NULL) OR single"
        ).fetchall()[0][0]
    )


def span(
    con: duckdb.DuckDBPyConnection, filters: Filters, runs: bool = False
) -> tuple[int, int] | None:
    """The earliest event and the latest covered moment of the events ``filters`` match.

    What :func:`.engine.data_span` gives without bounds, at the default
    heartbeat, for a filter :func:`answerable` accepts. The rollups give the
    first slot with an event and the last slot with an event or coverage; the
    exact moments are read from the few events in those two slots (their time
    bounds let the scans skip every other row group), and from the minutes of the runs
    that overlap those slots (``runs``: the store has runs, see :mod:`.minute_runs`).
    """
    params: dict[str, object] = {}
    where = filter_sql(filters, params)
    first, last = con.execute(
        f"SELECT min(slot) FILTER (count > 0), max(slot) FROM rollups WHERE {where}", params
    ).fetchall()[0]
    if first is None:
        return None
    events, params = engine.filter_sql(filters, valid_only=False)
    first, last = int(first), int(last)
    near_first = minute_runs.events_sql(runs, first, first + SLOT_US)
    # Every matching event before the first slot would have counted there.
    earliest = con.execute(
        f"SELECT min(ts) FROM {near_first} WHERE ts >= $first AND ts < $first + $slot AND {events}",
        {**params, "first": first, "slot": SLOT_US},
    ).fetchall()[0][0]
    # An event that reaches into the last slot is a heartbeat that starts at
    # most one heartbeat before it, or carries an end time past its start.
    reach = "max(greatest(coalesce(end_us, ts + $heartbeat), ts + 1))"
    near_last = minute_runs.events_sql(runs, last - HEARTBEAT_US, last + SLOT_US)
    latest = con.execute(
        f"""SELECT max(m) FROM (
                SELECT {reach} AS m FROM {near_last}
                WHERE ts > $last - $heartbeat AND ts < $last + $slot AND {events}
                UNION ALL
                SELECT {reach} FROM {near_last}
                WHERE end_us > $last AND ts < $last + $slot AND {events}
            )""",
        {**params, "last": last, "slot": SLOT_US, "heartbeat": HEARTBEAT_US},
    ).fetchall()[0][0]
    if earliest is None or latest is None:
        raise DataError(
            "the store's rollups disagree with its events; read the files with {events}, "
            "and report this bug",
            kind=Kind.internal,
            params=("events",),
        )
    return int(earliest), int(latest)
