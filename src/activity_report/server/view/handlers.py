"""The view's routes: ``/``, sign-in and -out, the CSV download, and the static files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ...errors import ActivityReportError, Kind
from ...render import Format, renderer
from ...render import html as page
from ...resources import RunContext
from .. import params
from ..errors import error_response, on_core_error, respond
from ..routes import run_cancellable
from .assets import FAVICON, SCRIPT, VIEW_STYLE
from .backend import Backend
from .filters import CONTROLS, api_values, default_range, file_name
from .pages import CSV_PATH, SESSION_ENDED, metrics_page, sign_in_page
from .sessions import SESSION_COOKIE, Sessions, from_the_page, origin_of

SIGN_IN_BYTES = 8_192  # a token, the filters and a zone fit in far less
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def routes(backend: Backend, sessions: Sessions, limit: float | None = None) -> list[Route]:
    """The view's routes: ``/``, sign-in and -out, the CSV download, its CSS and script.

    A report that runs past ``limit`` seconds is stopped (as the API's are).
    """
    view = _View(backend, sessions, limit)
    return [
        Route("/", view.home, methods=["GET"]),
        Route("/signin", view.sign_in, methods=["POST"]),
        Route("/signout", view.sign_out, methods=["POST"]),
        Route(CSV_PATH, view.csv, methods=["GET"]),
        Route("/view.css", _static(page.STYLE + VIEW_STYLE, "text/css"), methods=["GET"]),
        Route("/view.js", _static(SCRIPT, "text/javascript"), methods=["GET"]),
        Route("/favicon.svg", _static(FAVICON, "image/svg+xml"), methods=["GET"]),
    ]


def _static(body: str, media_type: str) -> Callable[[Request], Any]:
    async def serve(request: Request) -> Response:
        return Response(
            body,
            media_type=f"{media_type}; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    return serve


class _View:
    def __init__(self, backend: Backend, sessions: Sessions, limit: float | None) -> None:
        self.backend, self.sessions, self.limit = backend, sessions, limit

    async def _token(self, request: Request) -> str | None:
        token = self.sessions.token(request.cookies.get(SESSION_COOKIE))
        if token is None or not await run_in_threadpool(self.backend.token_ok, token):
            return None
        return token

    async def home(self, request: Request) -> Response:
        if await self._token(request) is None:
            # A session whose token was revoked, or has expired, ends with a word why.
            ended = self.sessions.token(request.cookies.get(SESSION_COOKIE)) is not None
            if ended:
                self.sessions.end(request.cookies.get(SESSION_COOKIE))
            notice = SESSION_ENDED if ended else None
            return _page(sign_in_page(next_query=request.url.query, notice=notice))
        number = _page_number(request.query_params.get("page"))
        scope = self.sessions.scope(request.cookies.get(SESSION_COOKIE))
        filters = self._filters(request, None)
        organizations: Sequence[tuple[str, str | None]] = ()
        try:
            latest = await run_in_threadpool(self.backend.latest_event)
            filters = self._filters(request, latest)
            values = api_values(filters)
            organizations = await run_in_threadpool(self.backend.organizations)
            listed = organizations

            def render(context: RunContext) -> str:  # on a worker: a big page takes seconds
                report = self.backend.report(values, context, scope)
                context.check()
                return metrics_page(filters, listed, report, None, number)

            html = await run_cancellable(request, render, self.limit)
        except ActivityReportError as exc:  # the server's one responder, as this page shows it
            if exc.kind is Kind.usage and not organizations:  # the form still lists them
                organizations = await run_in_threadpool(self.backend.organizations)
            shown = organizations
            return await respond(
                request,
                exc,
                html=lambda problem: metrics_page(filters, shown, None, problem, number),
                page_headers=SECURITY_HEADERS,
            )
        return _page(html)

    def _filters(self, request: Request, latest: datetime | None) -> dict[str, str]:
        """The URL's filters; the defaults for those it lacks (the range: by ``latest``)."""
        given = {name: request.query_params.get(name) for name in CONTROLS}
        filters = {name: value for name, value in given.items() if value is not None}
        filters.setdefault("category", "any")
        filters.setdefault("interval", "week")
        filters.setdefault("tz", "UTC")
        filters.setdefault("org", "")
        if "start" not in filters or "end" not in filters:
            first, last = default_range(latest, date.today())
            filters.setdefault("start", first.isoformat())
            filters.setdefault("end", last.isoformat())
        return filters

    async def sign_in(self, request: Request) -> Response:
        if not from_the_page(request.headers, origin_of(request.scope)):
            return PlainTextResponse("sign in from this server's page", status_code=403)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > SIGN_IN_BYTES:
                return PlainTextResponse("the sign-in form is too large", status_code=413)
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        token = form.get("token", "").strip()
        next_query = form.get("next", "")
        scope = await run_in_threadpool(self.backend.token_scope, token) if token else None
        if scope is None:
            return _page(
                sign_in_page(
                    next_query=next_query,
                    error="That token is not valid: it is unknown, expired or revoked.",
                )
            )
        zone = form.get("tz", "")
        if zone and "tz" not in dict(parse_qsl(next_query)):
            next_query = f"{next_query}&{urlencode({'tz': zone})}".lstrip("&")
        response = RedirectResponse(_home(next_query), status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            self.sessions.start(token, scope),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    async def sign_out(self, request: Request) -> Response:
        if not from_the_page(request.headers, origin_of(request.scope)):
            return PlainTextResponse("sign out from this server's page", status_code=403)
        self.sessions.end(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    async def csv(self, request: Request) -> Response:
        """The CSV of the API's query parameters, for the view's download link."""
        if not from_the_page(request.headers, origin_of(request.scope)):
            return error_response(401, "sign in on this server's page to download")
        if await self._token(request) is None:
            return error_response(401, "sign in to download")
        scope = self.sessions.scope(request.cookies.get(SESSION_COOKIE))

        def render(context: RunContext) -> tuple[str, str]:  # on a worker, as the page
            report = self.backend.report(values, context, scope)
            context.check()
            return renderer(Format.csv)(report), file_name(report, "csv")

        try:
            values = params.from_query_string(request.scope.get("query_string", b""))
            body, name = await run_cancellable(request, render, self.limit)
        except ActivityReportError as exc:  # a bad parameter (400), a report too long (503)
            return await on_core_error(request, exc)  # as the API answers it
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def _page(body: str, status: int = 200) -> Response:
    return Response(
        body, status_code=status, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


def _home(next_query: str) -> str:
    """``/`` with the filters the sign-in page was asked with: never another site."""
    pairs = [
        (k, v) for k, v in parse_qsl(next_query, keep_blank_values=True) if k in (*CONTROLS, "page")
    ]
    return "/?" + urlencode(pairs) if pairs else "/"


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 1_000_000 else 1
