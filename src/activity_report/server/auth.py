"""The token of a request: from its headers only, checked against the store.

Accepted: ``Session-Token``, ``Coder-Session-Token`` (as Coder's API takes
them) and ``Authorization: Bearer``. Never from the query string, which ends
up in logs and browser histories. The check reads the store's tokens table
at every request, so a token revoked from the shell fails at the next one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from .. import tokens
from .errors import Unauthorized

if TYPE_CHECKING:
    import duckdb

HEADERS = ("session-token", "coder-session-token")


def presented_token(request: Request) -> str:
    """The token the request carries; :class:`Unauthorized` if it carries none."""
    for name in HEADERS:
        value = request.headers.get(name)
        if value:
            return value.strip()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    raise Unauthorized(
        "no token: send it in the Session-Token header (or Authorization: Bearer); "
        "make one with `activity-report tokens create`"
    )


def check(con: duckdb.DuckDBPyConnection, presented: str) -> tokens.Token:
    token = tokens.verify(con, presented)
    if token is None:
        raise Unauthorized("the token is unknown, expired or revoked")
    return token
