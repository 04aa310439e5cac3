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
from ...resources import RunContext
from ..reader import StoreReader
from ..routes import query_values
from ..scopes import scoped_report
from .filters import listed


class Backend(Protocol):
    """What the view needs from the server: tokens, the store's organizations, reports."""

    def token_ok(self, token: str) -> bool:
        """A known, unexpired, unrevoked token."""

    def token_scope(self, token: str) -> str | None:
        """The scope of a valid token (``full`` or ``pseudonymous``); None for an invalid one."""

    def organizations(self) -> Sequence[tuple[str, str | None]]:
        """``(id, name or None)`` of every organization in the store."""

    def latest_event(self) -> datetime | None:
        """The store's latest event, for the default range; None when it is empty."""

    def report(
        self, values: Mapping[str, str | list[str]], context: RunContext, scope: str = "full"
    ) -> Report:
        """The API's report for its query parameters, in ``context``; raises its errors.

        A cancel of ``context`` (its client left) stops the report's queries.
        ``scope`` is the signed-in token's: a pseudonymous one names no one.
        """


class StoreBackend:
    """The view's backend over the server's store reader: what the API itself uses."""

    def __init__(self, reader: StoreReader) -> None:
        self.reader = reader

    def token_ok(self, token: str) -> bool:
        with self.reader.cursor() as (cursor, _):
            return tokens.verify(cursor, token) is not None

    def token_scope(self, token: str) -> str | None:
        with self.reader.cursor() as (cursor, _):
            found = tokens.verify(cursor, token)
        return None if found is None else found.scope

    def organizations(self) -> Sequence[tuple[str, str | None]]:
        with self.reader.cursor() as (cursor, _):
            rows = cursor.execute(
                "SELECT DISTINCT org FROM events WHERE org IS NOT NULL ORDER BY org"
            ).fetchall()
        return [(str(org), None) for (org,) in rows]

    def latest_event(self) -> datetime | None:
        with self.reader.cursor() as (cursor, _):
            row = cursor.execute("SELECT max(ts) FROM events").fetchone()
        if row is None or row[0] is None:
            return None
        return datetime.fromtimestamp(row[0] / 1_000_000, UTC)

    def report(
        self, values: Mapping[str, str | list[str]], context: RunContext, scope: str = "full"
    ) -> Report:
        """The API's checks and the API's report, for the same query string and scope."""
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
            return scoped_report(query, source, cursor, scope)
