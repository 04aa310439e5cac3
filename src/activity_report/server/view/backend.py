"""What the view needs from the server, and its answer over the server's store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from ... import tokens
from ...model import Report
from ...query import parse_query
from ...resources import RunContext
from .. import params
from ..answers import DEFAULT_MAX_CELLS, BoundedSource
from ..reader import StoreReader
from ..scopes import scoped_report


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

    def __init__(self, reader: StoreReader, max_cells: int = DEFAULT_MAX_CELLS) -> None:
        self.reader = reader
        self.max_cells = max_cells

    def token_ok(self, token: str) -> bool:
        if tokens.parse(token) is None:  # refused without reading the store
            return False
        with self.reader.cursor() as (cursor, _):
            return tokens.verify(cursor, token) is not None

    def token_scope(self, token: str) -> str | None:
        with self.reader.cursor() as (cursor, _):
            found = tokens.verify(cursor, token)
        return None if found is None else found.scope

    def organizations(self) -> Sequence[tuple[str, str | None]]:
        with self.reader.cursor() as (cursor, _):
            store = self.reader.store(cursor)
            orgs, names = store.organizations(), store.orgs()
        return [(org, names.get(org)) for org in orgs]

    def latest_event(self) -> datetime | None:
        with self.reader.cursor() as (cursor, _):
            _, last = self.reader.store(cursor).extent()
        if last is None:
            return None
        return datetime.fromtimestamp(last / 1_000_000, UTC)

    def report(
        self, values: Mapping[str, str | list[str]], context: RunContext, scope: str = "full"
    ) -> Report:
        """The API's checks and the API's report, for the same query string and scope."""
        query = parse_query(params.checked(params.pairs_of(dict(values))))
        with self.reader.cursor() as (cursor, _), context.stops():
            context.track(cursor)
            source = BoundedSource(
                self.reader.store(cursor), context=context, max_cells=self.max_cells
            )
            return scoped_report(query, source, cursor, scope)
