"""Signed-in browsers, and which requests may use their session cookie.

Signing in with a token starts a session: an HttpOnly, SameSite=Strict
cookie holding a random id, the token kept by the server. The API accepts
that cookie, instead of a token header, only for requests the page makes
(the browser says ``Sec-Fetch-Site: same-origin``, or, from browsers that
do not send it, an ``Origin`` or ``Referer`` of this server); a page on
another site, or another port, cannot use it.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send

SESSION_COOKIE = "activity_report_session"
SESSION_HOURS = 12


@dataclass
class Sessions:
    """Signed-in browsers: a random id -> the token it signed in with and its scope, in memory.

    The scope (``full`` or ``pseudonymous``) is the token's: a session of a
    pseudonymous token sees pseudonyms only.
    """

    hours: float = SESSION_HOURS
    most: int = 10_000  # sessions kept at once
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    _scopes: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, token: str, scope: str = "full") -> str:
        session = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for old in [k for k, (_, until) in self._tokens.items() if until < now]:
                del self._tokens[old]
                self._scopes.pop(old, None)
            while len(self._tokens) >= self.most:  # the oldest session goes first
                self._scopes.pop(oldest := next(iter(self._tokens)), None)
                del self._tokens[oldest]
            self._tokens[session] = (token, now + self.hours * 3600)
            self._scopes[session] = scope
        return session

    def token(self, session: str | None) -> str | None:
        if not session:
            return None
        with self._lock:
            found = self._tokens.get(session)
            if found is None:
                return None
            if found[1] < time.monotonic():
                del self._tokens[session]
                return None
            return found[0]

    def scope(self, session: str | None) -> str:
        """The session's scope; ``pseudonymous`` for a session it does not know (the safe one)."""
        with self._lock:
            return self._scopes.get(session or "", "pseudonymous")

    def end(self, session: str | None) -> None:
        if session:
            with self._lock:
                self._tokens.pop(session, None)
                self._scopes.pop(session, None)


def from_the_page(headers: Headers, origin: str) -> bool:
    """Did this server's own page make the request (not another site or port)?"""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    sent = headers.get("origin")
    if sent is not None:
        return sent == origin
    referer = headers.get("referer")
    return referer is not None and (referer == origin or referer.startswith(origin + "/"))


def origin_of(scope: Scope) -> str:
    headers = Headers(scope=scope)
    return f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"


class SessionTokenMiddleware:
    """Lets the API accept the view's session cookie, for the view's own requests only.

    A request to the API with no token header of its own, the session cookie
    and proof that this server's page sent it gets the session's token as its
    ``Session-Token`` header; the API then checks it as any other.
    """

    def __init__(self, app: ASGIApp, sessions: Sessions, prefix: str = "/api/") -> None:
        self.app, self.sessions, self.prefix = app, sessions, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            headers = Headers(scope=scope)
            has_token = any(
                name in headers for name in ("session-token", "coder-session-token")
            ) or headers.get("authorization", "").lower().startswith("bearer ")
            if not has_token and from_the_page(headers, origin_of(scope)):
                token = self.sessions.token(_cookie(headers, SESSION_COOKIE))
                if token is not None:
                    scope = {**scope, "headers": list(scope["headers"])}  # not the caller's
                    MutableHeaders(scope=scope).append("session-token", token)
        await self.app(scope, receive, send)


def _cookie(headers: Headers, name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
