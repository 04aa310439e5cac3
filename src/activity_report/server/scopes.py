"""What a token's scope lets it see: a ``pseudonymous`` token's answers name no one.

Every answer with users in it (the API, the view's page and its CSV) goes
through :func:`scoped_report`: for a pseudonymous token the report is
pseudonymized with the store's key, whatever the request asks (a full one
gets pseudonyms when it asks ``pseudonymize=true``); its ``user``
filter takes pseudonyms only (an id or username would let it test a guess).
A full token may filter by pseudonym too. The scope is part of every cache
key, so a full answer is never served to a pseudonymous token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import DataError, InvalidValue
from ..model import Report
from ..pseudonyms import is_pseudonym, known_user_ids, resolve, shareable
from ..query import Query
from ..reporting import run
from ..store import keys

if TYPE_CHECKING:
    import duckdb

    from ..backends.protocol import EventSource

FULL = "full"
PSEUDONYMOUS = "pseudonymous"


class NamesNotAllowed(InvalidValue):
    """A pseudonymous token named a user by id or username (the value is not repeated)."""

    def render(self, name: Callable[[str], str]) -> str:
        return (
            f"invalid value for {name(self.param)}: this token is pseudonymous; give "
            "pseudonyms (anon- and 16 hex digits), not user ids or usernames"
        )


def check_query(query: Query, scope: str) -> None:
    """A pseudonymous token names users by pseudonym only."""
    if scope == FULL:
        return
    for value in query.users or ():
        if not is_pseudonym(value):
            raise NamesNotAllowed("user", value, "not a pseudonym")


def scoped_report(
    query: Query, source: EventSource, con: duckdb.DuckDBPyConnection, scope: str
) -> Report:
    """The report of ``query`` over ``source`` as a token of ``scope`` may see it."""
    check_query(query, scope)
    key = scope_key(query, con, scope)
    if key is not None and query.users:
        query = replace(query, users=resolve(query.users, key, known_user_ids(source)))
    report = run(query, source).report
    named = scope == FULL and not query.pseudonymize
    return shareable(report, None if named else key, query.min_users)


def scope_key(query: Query, con: duckdb.DuckDBPyConnection, scope: str) -> bytes | None:
    """The store's pseudonym key, when ``query`` or the token's ``scope`` needs it."""
    pseudonymous = scope != FULL or query.pseudonymize
    wants_key = pseudonymous or any(is_pseudonym(u) for u in query.users or ())
    key = keys.read(con) if wants_key else None
    if key is None and pseudonymous:
        raise DataError(
            "the store has no pseudonym key; make one with `activity-report pseudonyms rotate`"
        )
    return key
