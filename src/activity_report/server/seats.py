"""``GET /api/private/metrics/seats``: the seats JSON of ``activity-report seats --json``.

It takes the activity endpoint's parameters (the same names, values and
checks) but ``min_users``, plus ``dormant_after`` (``60d``) and ``growth``
(``true``), and the same tokens. A pseudonymous token (or ``pseudonymize=true``)
gets the dormant seats by pseudonym, without names or usernames. The body
is byte for byte what the command line prints for the same request over the
same store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..backends.duckdb import StoreSource
from ..errors import InvalidValue
from ..pseudonyms import known_user_ids, resolve
from ..query import parse_query
from ..resources import RunContext
from ..seats import (
    DEFAULT_DORMANT_DAYS,
    Seats,
    SeatsQuery,
    parse_dormant_after,
    pseudonymize,
    run_seats,
    to_json,
)
from . import params
from .auth import presented_token
from .reader import Signature, StoreReader
from .routes import run_cancellable
from .scopes import FULL, check_query, scope_key

if TYPE_CHECKING:
    import duckdb

SEATS_PATH = "/api/private/metrics/seats"
#: The parameters of seats only; the others are the activity endpoint's.
OWN_PARAMS = ("dormant_after", "growth")
_TRUE, _FALSE = ("true", "1", "yes", ""), ("false", "0", "no")

Authenticated = Callable[[str, RunContext, Callable[..., Any]], Any]


def seats_query(query_string: bytes) -> SeatsQuery:
    """The request's seats query: its own parameters, then the activity endpoint's checks."""
    own: dict[str, str] = {}
    rest = []
    for piece in query_string.split(b"&"):
        name, _, value = piece.partition(b"=")
        key = name.decode("ascii", "replace")
        if key in OWN_PARAMS:
            text = unquote_plus(value.decode("ascii", "replace"))
            if key in own:
                raise InvalidValue(key, text, "give it once")
            own[key] = text
        elif piece:
            rest.append(piece)
    values = params.from_query_string(b"&".join(rest))
    if "min_users" in values:
        raise InvalidValue(
            "min_users",
            str(values["min_users"]),
            "the seats are counts, with no interval to withhold; drop min_users",
        )
    growth = own.get("growth", "false").strip().lower()
    if growth not in _TRUE + _FALSE:
        raise InvalidValue("growth", own["growth"], "use true or false")
    dormant = own.get("dormant_after")
    return SeatsQuery(
        parse_query(values),
        DEFAULT_DORMANT_DAYS if dormant is None else parse_dormant_after(dormant),
        growth in _TRUE,
    )


def seats_answer(
    reader: StoreReader,
    cursor: duckdb.DuckDBPyConnection,
    request: SeatsQuery,
    context: RunContext,
) -> Seats:
    """The seats over the store ``reader`` opened, read through ``cursor``."""
    source = StoreSource(reader.store(cursor), context=context)
    return run_seats(request, source).seats


def scoped_seats(
    reader: StoreReader,
    cursor: duckdb.DuckDBPyConnection,
    request: SeatsQuery,
    context: RunContext,
    scope: str,
) -> Seats:
    """The seats as a token of ``scope`` may see them: a pseudonymous one's name no one.

    A full token gets pseudonyms too when it asks ``pseudonymize=true``; a
    pseudonymous token's ``user`` filter takes pseudonyms only.
    """
    query = request.query
    check_query(query, scope)
    key = scope_key(query, cursor, scope)
    if key is not None and query.users:
        source = StoreSource(reader.store(cursor), context=context)
        query = replace(query, users=resolve(query.users, key, known_user_ids(source)))
        request = replace(request, query=query)
    seats = seats_answer(reader, cursor, request, context)
    named = scope == FULL and not query.pseudonymize
    return seats if named or key is None else pseudonymize(seats, key)


def routes(reader: StoreReader, authenticated: Authenticated) -> list[BaseRoute]:
    """The seats endpoint; ``authenticated(token, context, compute)`` checks the token.

    ``compute`` takes the token's scope too, where tokens have one.
    """

    async def seats(request: Request) -> Response:
        presented = presented_token(request)
        wanted = seats_query(request.scope.get("query_string", b""))

        def compute(
            cursor: duckdb.DuckDBPyConnection,
            signature: Signature,
            context: RunContext,
            scope: str = FULL,
        ) -> bytes:
            return to_json(scoped_seats(reader, cursor, wanted, context, scope)).encode()

        body: bytes = await run_cancellable(
            request,
            lambda context: authenticated(presented, context, compute),
            reader.timing.request,
        )
        return Response(body, media_type="application/json")

    return [Route(SEATS_PATH, seats, methods=["GET"])]
