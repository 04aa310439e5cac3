"""``info``: what the store holds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import sources
from . import minute_runs, orgs
from .results import StoreInfo, _from_micros

if TYPE_CHECKING:
    import duckdb

    from .core import Store


def extent(con: duckdb.DuckDBPyConnection, runs: bool) -> tuple[int, int | None]:
    """How many events, and the latest one's time in microseconds (None when there is none).

    ``runs``: the store has runs of minutes (:mod:`.minute_runs`), each its minutes' events.
    """
    events, _first, last = minute_runs.extent(con, runs)
    return events, last


def organizations(con: duckdb.DuckDBPyConnection, runs: bool) -> list[str]:
    """The distinct organization ids of the events, sorted."""
    return minute_runs.organizations(con, runs)


def info(store: Store) -> StoreInfo:
    """Counts and spans of ``store`` (attached by the caller)."""
    con = store.con
    runs = minute_runs.STEP in store.applied
    events, first, last = minute_runs.extent(con, runs)
    categories = [(str(c), n) for c, n in minute_runs.tally(con, runs, "category")]
    organizations = minute_runs.tally(con, runs, "org")
    reasons = sources.tally(con, "rejects", "problem")
    users = int(con.execute("SELECT count(*) FROM users").fetchall()[0][0])
    # In whole seconds (a run's microseconds tell no one anything), as an
    # integer: DuckDB before 2.0 needs pytz to hand a TIMESTAMPTZ to Python.
    files, last_ingest = con.execute(
        "SELECT count(DISTINCT file), epoch_us(date_trunc('second', max(ingested_at))) FROM ingests"
    ).fetchall()[0]
    meta = dict(
        con.execute(
            "SELECT key, value FROM meta WHERE key IN ('created_by', 'written_by')"
        ).fetchall()
    )
    size = sum(p.stat().st_size for p in (store.path, Path(f"{store.path}.wal")) if p.exists())
    return StoreInfo(
        path=store.path,
        size_bytes=size,
        schema_version=len(store.applied),
        events=int(events),
        first_event=_from_micros(first),
        last_event=_from_micros(last),
        categories=categories,
        organizations=organizations,
        users=users,
        rejects=sum(n for _, n in reasons),
        rejected_reasons=reasons,
        ingested_files=int(files),
        last_ingest=_from_micros(last_ingest),
        created_by=meta.get("created_by"),
        written_by=meta.get("written_by"),
        org_names=orgs.stored_orgs(store),
    )
