"""The Metrics view: a sign-in page, then the HTML report for the filters in the URL.

Plain server-rendered pages: the filters are a GET form, so the URL holds
them and a view can be bookmarked and shared; the chart and tables are the
HTML report's (:mod:`..render.html`). The only script submits a select's
change and fills in the browser's time zone when the URL names none.

Signing in with a token starts a session: an HttpOnly, SameSite=Strict
cookie holding a random id, the token kept by the server. The API accepts
that cookie, instead of a token header, only for requests the page makes
(the browser says ``Sec-Fetch-Site: same-origin``, or, from browsers that
do not send it, an ``Origin`` or ``Referer`` of this server); a page on
another site, or another port, cannot use it. Every request checks the
token again, so a revoked token ends its sessions at once.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import tokens
from ..errors import ActivityReportError
from ..event_source import DuckDBSource
from ..model import Report, rfc3339
from ..query import parse_query
from ..render import Format, renderer
from ..render import html as page
from ..reporting import run
from .reader import StoreReader
from .routes import query_values

SESSION_COOKIE = "activity_report_session"
SESSION_HOURS = 12
USERS_PER_PAGE = 50
SIGN_IN_BYTES = 8_192  # a token, the filters and a zone fit in far less
API_PATH = "/api/private/metrics/activity"
CSV_PATH = "/metrics/activity.csv"
ACTIONS = (
    ("any", "Any"),
    ("ide", "IDE"),
    ("login", "Login"),
    ("app", "App"),
    ("tunnel", "Tunnel"),
    ("web_terminal", "Web Terminal"),
)
INTERVALS = ("day", "week", "month", "quarter", "2 week", "90 day", "year", "1 hour")
CONTROLS = ("org", "category", "start", "end", "interval", "tz")
"""The filters the URL holds, in the form's order; each has its own error slot."""
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Backend(Protocol):
    """What the view needs from the server: tokens, the store's organizations, reports."""

    def token_ok(self, token: str) -> bool:
        """A known, unexpired, unrevoked token."""

    def organizations(self) -> Sequence[tuple[str, str | None]]:
        """``(id, name or None)`` of every organization in the store."""

    def latest_event(self) -> datetime | None:
        """The store's latest event, for the default range; None when it is empty."""

    def report(self, values: Mapping[str, str | list[str]]) -> Report:
        """The API's report for its query parameters; raises its errors."""


@dataclass
class Sessions:
    """Signed-in browsers: a random id -> the token it signed in with, in memory."""

    hours: float = SESSION_HOURS
    most: int = 10_000  # sessions kept at once
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, token: str) -> str:
        session = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            for old in [k for k, (_, until) in self._tokens.items() if until < now]:
                del self._tokens[old]
            while len(self._tokens) >= self.most:  # the oldest session goes first
                del self._tokens[next(iter(self._tokens))]
            self._tokens[session] = (token, now + self.hours * 3600)
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

    def end(self, session: str | None) -> None:
        if session:
            with self._lock:
                self._tokens.pop(session, None)


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


# --------------------------------------------------------------------------- the store


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
        return [(str(org), None) for (org,) in rows]

    def latest_event(self) -> datetime | None:
        with self.reader.cursor() as (cursor, _):
            row = cursor.execute("SELECT max(ts) FROM events").fetchone()
        if row is None or row[0] is None:
            return None
        return datetime.fromtimestamp(row[0] / 1_000_000, UTC)

    def report(self, values: Mapping[str, str | list[str]]) -> Report:
        """The API's checks and the API's report, for the same query string."""
        pairs = [(k, v) for k, vs in values.items() for v in _listed(vs)]
        checked = query_values(Request({"type": "http", "query_string": urlencode(pairs).encode()}))
        query = parse_query(checked)
        with self.reader.cursor() as (cursor, _):
            store = self.reader.store(cursor)
            source = DuckDBSource(
                cursor, store.events_view(), store=store, rollup=store.rollup_cells
            )
            return run(query, source).report


def install(app: Starlette, reader: StoreReader) -> None:
    """Add the view to the server's app: its routes, and the cookie for the API."""
    sessions = Sessions()
    app.router.routes.extend(routes(StoreBackend(reader), sessions))
    app.add_middleware(SessionTokenMiddleware, sessions=sessions)


# --------------------------------------------------------------------------- routes


def routes(backend: Backend, sessions: Sessions) -> list[Route]:
    """The view's routes: ``/``, sign-in and -out, the CSV download, its CSS and script."""
    view = _View(backend, sessions)
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
    def __init__(self, backend: Backend, sessions: Sessions) -> None:
        self.backend, self.sessions = backend, sessions

    async def _token(self, request: Request) -> str | None:
        token = self.sessions.token(request.cookies.get(SESSION_COOKIE))
        if token is None or not await run_in_threadpool(self.backend.token_ok, token):
            return None
        return token

    async def home(self, request: Request) -> Response:
        if await self._token(request) is None:
            return _page(sign_in_page(next_query=request.url.query))
        filters = await run_in_threadpool(self._filters, request)
        try:
            report: Report | None = await run_in_threadpool(
                self.backend.report, api_values(filters)
            )
            problem = None
        except ActivityReportError as exc:
            report, problem = None, exc
        organizations = await run_in_threadpool(self.backend.organizations)
        number = _page_number(request.query_params.get("page"))
        return _page(metrics_page(filters, organizations, report, problem, number))

    def _filters(self, request: Request) -> dict[str, str]:
        """The URL's filters; the defaults for those it lacks."""
        given = {name: request.query_params.get(name) for name in CONTROLS}
        filters = {name: value for name, value in given.items() if value is not None}
        filters.setdefault("category", "any")
        filters.setdefault("interval", "week")
        filters.setdefault("tz", "UTC")
        filters.setdefault("org", "")
        if "start" not in filters or "end" not in filters:
            first, last = default_range(self.backend.latest_event(), date.today())
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
        if not token or not await run_in_threadpool(self.backend.token_ok, token):
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
            self.sessions.start(token),
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
            return _json_error(401, "sign in on this server's page to download")
        if await self._token(request) is None:
            return _json_error(401, "sign in to download")
        values: dict[str, str | list[str]] = {}
        for name, value in request.query_params.multi_items():
            if name in ("org", "user"):
                listed = values.setdefault(name, [])
                assert isinstance(listed, list)
                listed.append(value)
            else:
                values[name] = value
        try:
            report = await run_in_threadpool(self.backend.report, values)
        except ActivityReportError as exc:
            return _json_error(400, str(exc))
        body = renderer(Format.csv)(report)
        name = _file_name(report, "csv")
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def _json_error(status: int, message: str) -> Response:
    import json

    return Response(
        json.dumps({"message": message, "detail": ""}),
        status_code=status,
        media_type="application/json",
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


def default_range(latest: datetime | None, today: date) -> tuple[date, date]:
    """The last whole calendar month before the latest event's (or today's) month.

    A store fed every night shows last month; a store of old events shows
    its last whole month rather than an empty page.
    """
    anchor = latest.date() if latest is not None else today
    last = anchor.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def api_values(filters: Mapping[str, str]) -> dict[str, str | list[str]]:
    """The view's filters as the API's query parameters.

    End is the last day shown, as a date picker reads: the API's end is the
    next midnight. A value that is not a date is passed on as it is, for
    the API to judge.
    """
    values: dict[str, str | list[str]] = {
        "category": filters["category"],
        "interval": filters["interval"],
        "tz": filters["tz"],
        "start": filters["start"],
        "end": _day_after(filters["end"]),
    }
    if filters.get("org"):
        values["org"] = [filters["org"]]
    return values


def _day_after(text: str) -> str:
    try:
        return (date.fromisoformat(text) + timedelta(days=1)).isoformat()
    except ValueError:
        return text


def _file_name(report: Report, ext: str) -> str:
    meta = report.meta
    if meta is None:
        return f"activity.{ext}"
    return f"activity-{meta.start:%Y-%m-%d}-{meta.category}.{ext}"


# --------------------------------------------------------------------------- pages


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{page.text(title)}</title>\n"
        '<link rel="icon" href="/favicon.svg" type="image/svg+xml">\n'
        '<link rel="stylesheet" href="/view.css">\n'
        '<script src="/view.js" defer></script>\n'
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )


def sign_in_page(*, next_query: str = "", error: str | None = None) -> str:
    """A token field and a button; no data at all."""
    message = (
        f'<p class="error" id="token-error" role="alert">{page.text(error)}</p>' if error else ""
    )
    described = ' aria-describedby="token-error" aria-invalid="true"' if error else ""
    return _document(
        "Sign in - Metrics",
        '<main class="report signin">\n<h1>Metrics</h1>\n'
        "<p>Sign in with a session token (<code>activity-report tokens create</code>).</p>\n"
        '<form method="post" action="/signin">\n'
        '<label for="token">Session token</label>\n'
        f'<input id="token" name="token" type="password" autocomplete="off" required autofocus'
        f"{described}>\n{message}\n"
        f'<input type="hidden" name="next" value="{page.text(next_query)}">\n'
        '<input type="hidden" name="tz" id="signin-tz" value="">\n'
        '<button type="submit">Sign in</button>\n</form>\n</main>\n',
    )


def metrics_page(
    filters: Mapping[str, str],
    organizations: Sequence[tuple[str, str | None]],
    report: Report | None,
    problem: ActivityReportError | None,
    page_number: int = 1,
) -> str:
    """The filters, then the report (or the error next to the control at fault)."""
    errors = _errors_by_control(problem)
    parts = [
        '<header class="topbar"><h1>Metrics</h1>'
        '<form method="post" action="/signout"><button type="submit" class="link">'
        "Sign out</button></form></header>\n",
        '<main class="report">\n',
        _controls(filters, organizations, errors),
    ]
    if "" in errors:
        parts.append(f'<p class="error" role="alert" id="error">{page.text(errors[""])}</p>\n')
    if report is not None:
        parts.append(_asked(filters, report))
        parts.append(page.summary_section(report, last_day=True))
        if report.activity:
            parts += [
                '<section aria-labelledby="by-interval">\n',
                '<h2 id="by-interval">Activity by interval</h2>\n',
                page.chart(report),
                '<div class="tall">',
                page.buckets_table(report),
                "</div>",
                "</section>\n",
            ]
            parts.append(_users(filters, report, page_number))
    parts.append("</main>\n")
    return _document("Metrics", "".join(parts))


def _errors_by_control(problem: ActivityReportError | None) -> dict[str, str]:
    """The error's message, under the control it concerns ('' for none in particular)."""
    if problem is None:
        return {}
    params = tuple(getattr(problem, "params", ()) or ())
    param = getattr(problem, "param", None)
    named = [param] if param else list(params)
    message = str(problem)
    for name in named:
        if name in CONTROLS:
            return {name: message}
    return {"": message}


def _controls(
    filters: Mapping[str, str],
    organizations: Sequence[tuple[str, str | None]],
    errors: Mapping[str, str],
) -> str:
    def field_(name: str, label: str, control: str) -> str:
        error = errors.get(name)
        note = (
            f'<span class="error" id="{name}-error" role="alert">{page.text(error)}</span>'
            if error
            else ""
        )
        return f'<div class="field"><label for="f-{name}">{label}</label>{control}{note}</div>\n'

    def invalid(name: str) -> str:
        return f' aria-invalid="true" aria-describedby="{name}-error"' if name in errors else ""

    def options(choices: Sequence[tuple[str, str]], chosen: str) -> str:
        return "".join(
            f'<option value="{page.text(value)}"{" selected" if value == chosen else ""}>'
            f"{page.text(label)}</option>"
            for value, label in choices
        )

    orgs = [("", "All"), *((oid, name or oid) for oid, name in organizations)]
    if filters.get("org") and filters["org"] not in {oid for oid, _ in orgs}:
        orgs.append((filters["org"], filters["org"]))
    intervals = "".join(f'<option value="{i}"></option>' for i in INTERVALS)
    return (
        '<form id="filters" class="filters" method="get" action="/">\n'
        + field_(
            "org",
            "Organization",
            f'<select id="f-org" name="org"{invalid("org")}>'
            f"{options(orgs, filters.get('org', ''))}</select>",
        )
        + field_(
            "category",
            "Action",
            f'<select id="f-category" name="category"{invalid("category")}>'
            f"{options(ACTIONS, filters['category'])}</select>",
        )
        + field_(
            "start",
            "Start",
            f'<input id="f-start" name="start" type="date" '
            f'value="{page.text(filters["start"])}"{invalid("start")}>',
        )
        + field_(
            "end",
            "End",
            f'<input id="f-end" name="end" type="date" '
            f'value="{page.text(filters["end"])}"{invalid("end")}>',
        )
        + field_(
            "interval",
            "Interval",
            f'<input id="f-interval" name="interval" list="intervals" '
            f'value="{page.text(filters["interval"])}"{invalid("interval")}>'
            f'<datalist id="intervals">{intervals}</datalist>',
        )
        + field_(
            "tz",
            "Time zone",
            f'<input id="f-tz" name="tz" value="{page.text(filters["tz"])}"{invalid("tz")}>',
        )
        + '<div class="field"><button type="submit">Show</button></div>\n</form>\n'
    )


def _asked(filters: Mapping[str, str], report: Report) -> str:
    """The exact range asked for, and the downloads of the same report."""
    values = api_values(filters)
    query = urlencode([(k, v) for k, vs in values.items() for v in _listed(vs)])
    meta = report.meta
    exact = ""
    if meta is not None:
        exact = (
            f"From {page.text(rfc3339(meta.start))} up to {page.text(rfc3339(meta.end))} "
            "(the End date is the last day shown)."
        )
    return (
        f'<p class="asked"><span id="asked">{exact}</span> Download: '
        f'<a id="download-json" href="{API_PATH}?{page.text(query)}" '
        f'download="{page.text(_file_name(report, "json"))}">JSON</a> · '
        f'<a id="download-csv" href="{CSV_PATH}?{page.text(query)}" '
        f'download="{page.text(_file_name(report, "csv"))}">CSV</a></p>\n'
    )


def _listed(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def _users(filters: Mapping[str, str], report: Report, number: int) -> str:
    """The users table, a page of USERS_PER_PAGE at a time, with links to the others."""
    total = len(report.users)
    if total == 0:
        return '<section><h2 id="users">Users</h2><p class="note">No active users.</p></section>\n'
    pages = max(1, -(-total // USERS_PER_PAGE))
    number = min(number, pages)
    first = (number - 1) * USERS_PER_PAGE
    shown = report.users[first : first + USERS_PER_PAGE]
    links = ""
    if pages > 1:

        def link(to: int, label: str, rel: str) -> str:
            query = urlencode([*((k, filters[k]) for k in CONTROLS if k in filters), ("page", to)])
            return f'<a rel="{rel}" href="/?{page.text(query)}">{label}</a>'

        previous = link(number - 1, "Previous", "prev") if number > 1 else ""
        following = link(number + 1, "Next", "next") if number < pages else ""
        links = (
            f'<nav class="pages" aria-label="Users pages">{previous}'
            f"<span>Users {first + 1:,}-{first + len(shown):,} of {total:,}</span>"
            f"{following}</nav>\n"
        )
    return (
        '<section aria-labelledby="users">\n<h2 id="users">Users</h2>\n'
        + links
        + page.users_table(shown, report.total_duration)
        + links
        + "</section>\n"
    )


VIEW_STYLE = """
.topbar{display:flex;align-items:center;justify-content:space-between;max-width:960px;\
margin:0 auto;padding:12px 20px;background:var(--bg);border-bottom:1px solid var(--line)}
.topbar h1{font-size:1.2rem;margin:0}
button{font:inherit;padding:6px 14px;border-radius:6px;border:1px solid var(--time);\
background:var(--time);color:#fff;cursor:pointer}
button.link{background:none;color:var(--time);border-color:var(--line)}
.filters{display:grid;grid-template-columns:repeat(auto-fill,minmax(118px,1fr));gap:10px;\
align-items:start;margin:0 0 8px}
.field{display:flex;flex-direction:column;gap:4px;min-width:0}
.field label{font-size:.85rem;color:var(--muted)}
.field input,.field select{font:inherit;padding:5px 6px;border:1px solid var(--line);\
border-radius:6px;background:var(--bg);color:var(--fg);min-width:0;width:100%}
.field button{margin-top:22px}
[aria-invalid=true]{border-color:#b3261e!important;outline:1px solid #b3261e}
.error{color:#b3261e;font-size:.85rem;overflow-wrap:anywhere}
.asked{color:var(--muted);font-size:.9rem}
.tall{max-height:28rem;overflow:auto}
.pages{display:flex;gap:16px;align-items:center;margin:8px 0;font-size:.9rem}
.signin{max-width:420px;margin-top:10vh;border-radius:8px}
.signin form{display:flex;flex-direction:column;gap:8px}
.signin input{font:inherit;padding:8px;border:1px solid var(--line);border-radius:6px}
code{font-size:.9em}
"""

FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
    '<rect x="2" y="8" width="3" height="6" fill="#0072B2"/>'
    '<rect x="6.5" y="4" width="3" height="10" fill="#0072B2"/>'
    '<rect x="11" y="2" width="3" height="12" fill="#D55E00"/></svg>'
)

SCRIPT = """\
// The Metrics view: the browser's time zone when the URL names none; a
// changed select shows its report at once (the form works without this).
"use strict";
(function () {
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
  var signIn = document.getElementById("signin-tz");
  if (signIn) signIn.value = zone;  // signing in lands on the browser's zone at once
  var form = document.getElementById("filters");
  if (!form) return;
  if (zone && !new URLSearchParams(location.search).has("tz")) {
    form.elements.namedItem("tz").value = zone;
    location.replace("/?" + new URLSearchParams(new FormData(form)).toString());
    return;
  }
  form.addEventListener("change", function (event) {
    if (event.target instanceof HTMLSelectElement) form.requestSubmit();
  });
})();
"""
