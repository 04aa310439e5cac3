"""Runs of active minutes: how the store holds Coder's activity, read back as its events.

``ingest --coder`` counts as Coder's page does: each UTC minute in which a
user has activity of a category in an organization is one event, one
minute long, without an id (:mod:`..sources.coder`). A year of sessions is
ten times as many minutes, so the store keeps them as runs instead: the
table ``minute_runs`` (step ``0009_minute_runs``) holds one row per maximal
run of contiguous minutes of a user in a category and an organization,

* ``ts``: the start of its first minute; ``end_us``: the end of its last
  (microseconds, on whole UTC minutes);
* ``user_id``, ``category``, ``org``;
* ``ingest_file``: the ``ingests`` row of the ingest that last wrote it.

Runs of the same user, category and organization neither overlap nor touch
(:mod:`.runs_ingest` keeps it so), so a minute is in at most one run of its
kind. A run *is* its minutes: every reader of the store's events reads the
events table and the runs' minutes, each one minute long, with no id
(:func:`events_sql`); counts and spans are read from the runs without
listing them (:func:`tally`, :func:`extent`), and the rollups cut runs at
slot edges (:mod:`.rollups`). A reader that looks at a time range lists only
the minutes of the runs that overlap it.

A store that lacks the step (an older one, read before its upgrade) has no
runs: ``runs`` is False for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

STEP = "0009_minute_runs"
TABLE = "minute_runs"
MINUTE_US = 60_000_000

#: The canonical columns of a stored event, as the readers select them.
COLUMNS = "ts, end_us, user_id, category, org, event_id"


def _floor_minute(x: int) -> int:
    return x - x % MINUTE_US  # Python's % floors, also before 1970


def minutes_sql(
    lo: int | None = None, hi: int | None = None, schema: str = "", runs: str | None = None
) -> str:
    """SQL: the minutes of the runs that overlap ``[lo, hi)`` (either bound None: open), as
    events (:data:`COLUMNS`): only those minutes that overlap it, each one minute long.

    The runs are chosen before any is listed, so a short range lists a few minutes.
    ``schema`` prefixes the table's name (``store.main.``; default: none). ``runs``:
    a condition on the runs' ``ts`` and ``end_us`` that chooses fewer of them.
    """
    where, first, stop = [] if runs is None else [f"({runs})"], "ts", "end_us"
    if hi is not None:
        where.append(f"ts < {int(hi)}")
        stop = f"least(end_us, {int(hi)})"
    if lo is not None:
        where.append(f"end_us > {int(lo)}")
        first = f"greatest(ts, {_floor_minute(int(lo))})"
    condition = " AND ".join(where) or "true"
    return f"""SELECT m AS ts, m + {MINUTE_US} AS end_us, user_id, category, org,
                      CAST(NULL AS VARCHAR) AS event_id
               FROM (SELECT user_id, category, org,
                            unnest(range({first}, {stop}, {MINUTE_US})) AS m
                     FROM {schema}{TABLE} WHERE {condition})"""


def events_sql(
    runs: bool,
    lo: int | None = None,
    hi: int | None = None,
    schema: str = "",
    whole: bool = False,
) -> str:
    """SQL: the store's events (:data:`COLUMNS`), a parenthesized relation: the events
    table and, when the store has runs (``runs``), the minutes of those that overlap
    ``[lo, hi)`` (see :func:`minutes_sql`).

    With bounds, only events near the range are complete: the caller's conditions
    must keep only events that overlap it (or whose time lies in it). ``schema``
    prefixes the tables' names. ``whole``: each run as one row (its span), not
    its minutes: for a reader of the distinct users or organizations only.
    """
    stored = f"SELECT {COLUMNS} FROM {schema}events"
    if not runs:
        return f"({stored})"
    if whole:
        spans = f"""SELECT ts, end_us, user_id, category, org, CAST(NULL AS VARCHAR) AS event_id
                    FROM {schema}{TABLE}"""
        return f"({stored} UNION ALL {spans})"
    return f"({stored} UNION ALL {minutes_sql(lo, hi, schema)})"


def _weight() -> str:
    return f"(end_us - ts) // {MINUTE_US}"


def total(con: duckdb.DuckDBPyConnection, runs: bool) -> int:
    """How many events the store holds: its events table's rows and its runs' minutes."""
    sql = "SELECT count(*) FROM events"
    if runs:
        sql = f"SELECT ({sql}) + (SELECT coalesce(sum({_weight()}), 0) FROM {TABLE})"
    return int(con.execute(sql).fetchall()[0][0])


def extent(con: duckdb.DuckDBPyConnection, runs: bool) -> tuple[int, int | None, int | None]:
    """How many events, the earliest one's time and the latest one's (µs; None for none)."""
    events, first, last = con.execute("SELECT count(*), min(ts), max(ts) FROM events").fetchall()[0]
    if runs:
        minutes, run_first, run_last = con.execute(
            f"SELECT coalesce(sum({_weight()}), 0), min(ts), max(end_us) - {MINUTE_US} FROM {TABLE}"
        ).fetchall()[0]
        events += minutes
        first = min((x for x in (first, run_first) if x is not None), default=None)
        last = max((x for x in (last, run_last) if x is not None), default=None)
    return (
        int(events),
        None if first is None else int(first),
        None if last is None else int(last),
    )


def tally(
    con: duckdb.DuckDBPyConnection,
    runs: bool,
    column: str,
    where: str = "true",
    limit: int | None = None,
) -> list[tuple[str | None, int]]:
    """As :func:`..sources.tally` over the store's events (``column`` and ``where``
    name only ``user_id``, ``category`` or ``org``): each value with its count, most
    common first (ties by value, NULL last); a run counts its minutes."""
    parts = [f"SELECT {column} AS v, count(*) AS n FROM events WHERE {where} GROUP BY v"]
    if runs:
        parts.append(f"SELECT {column}, sum({_weight()}) FROM {TABLE} WHERE {where} GROUP BY 1")
    sql = (
        f"SELECT v, sum(n) FROM ({' UNION ALL '.join(parts)}) GROUP BY v "
        "ORDER BY sum(n) DESC, v NULLS LAST"
    )
    if limit is not None:
        sql += f" LIMIT {limit}"
    return [(None if v is None else str(v), int(n)) for v, n in con.execute(sql).fetchall()]


def organizations(con: duckdb.DuckDBPyConnection, runs: bool) -> list[str]:
    """The distinct organization ids of the stored events, sorted."""
    sql = "SELECT org FROM events WHERE org IS NOT NULL"
    if runs:
        sql += f" UNION SELECT org FROM {TABLE} WHERE org IS NOT NULL"
    rows = con.execute(f"SELECT DISTINCT org FROM ({sql}) ORDER BY org").fetchall()
    return [str(org) for (org,) in rows]
