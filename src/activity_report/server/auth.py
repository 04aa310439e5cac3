"""The token of a request: from its headers only, checked against the store.

Accepted: ``Session-Token``, ``Coder-Session-Token`` (as Coder's API takes
them) and ``Authorization: Bearer``. Never from the query string, which ends
up in logs and browser histories. The check is :class:`.keyring.Keyring`'s: a
copy of the store's tokens table, read again after every commit, so a token
revoked from the shell fails at the next request.
"""

from __future__ import annotations

from starlette.requests import Request

from .errors import Unauthorized

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


def refused() -> Unauthorized:
    """The one answer to a token that is not valid, whatever is wrong with it."""
    return Unauthorized("the token is unknown, expired or revoked")
