"""What the view needs from the server, and its answer over the server's store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlencode

from starlette.requests import Request

from ... import tokens
from ...event_source import DuckDBSource
from ...model import Report
from ...query import parse_query
from ...reporting import run
from ...resources import RunContext
from ..reader import StoreReader
from ..routes import query_values
from .filters import listed


class Backend(Protocol):
    """What the view needs from the server: tokens, the store's organizations, reports."""

    def token_ok(self, token: str) -> bool:
        """A known, unexpired, unrevoked token."""

    def organizations(self) -> Sequence[tuple[str, str | None]]:
        """``(id, name or None)`` of every organization in the store."""

    def latest_event(self) -> datetime | None:
        """The store's latest event, for the default range; None when it is empty."""

    def report(self, values: Mapping[str, str | list[str]], context: RunContext) -> Report:
        """The API's report for its query parameters, in ``context``; raises its errors.

        A cancel of ``context`` (its client left) stops the report's queries.
        """


class StoreBackend:
    """The view's backend over the server's store reader: what the API itself uses."""

    def __init__(self, reader: StoreReader) -> None:
        self.reader = reader

    def token_ok(self, token: str) -> bool:
        with self.reader.cursor() as (cursor, _):
            return tokens.verify(cursor, token) is not None

    def organizations(self) -> Sequence[tuple[str, str | None]]:
        with self.reader.cursor() as (cursor, _):
            rows = cursor.execute(
                "SELECT DISTINCT org FROM events WHERE org IS NOT NULL ORDER BY org"
            ).fetchall()
            # The directory (``orgs import``), in a store that has its table.
            named = cursor.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'orgs' "
                "AND schema_name = 'main' AND NOT temporary"
            ).fetchall()[0][0]
            names: dict[str, str] = {}
            if named:
                rows_named = cursor.execute("SELECT id, name FROM orgs").fetchall()
                names = {str(i): str(n) for i, n in rows_named}
        return [(str(org), names.get(str(org))) for (org,) in rows]

    def latest_event(self) -> datetime | None:
        with self.reader.cursor() as (cursor, _):
            row = cursor.execute("SELECT max(ts) FROM events").fetchone()
        if row is None or row[0] is None:
            return None
        return datetime.fromtimestamp(row[0] / 1_000_000, UTC)

    def report(self, values: Mapping[str, str | list[str]], context: RunContext) -> Report:
        """The API's checks and the API's report, for the same query string."""
        pairs = [(k, v) for k, vs in values.items() for v in listed(vs)]
        checked = query_values(Request({"type": "http", "query_string": urlencode(pairs).encode()}))
        query = parse_query(checked)
        with self.reader.cursor() as (cursor, _), context.stops():
            context.track(cursor)
            store = self.reader.store(cursor)
            source = DuckDBSource(
                cursor,
                store.events_view(),
                store=store,
                rollup=store.rollup_cells,
                context=context,
            )
            return run(query, source).report
