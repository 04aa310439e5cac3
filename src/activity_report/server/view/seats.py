"""The view's Seats page: the daily active users chart, stickiness and the dormant seats.

The same filters as the activity page (the URL holds them; each page's top
bar links to the other with them), answered as the seats API answers them
(:mod:`..seats`), shown with the HTML report's seats section
(:mod:`activity_report.render.html.seats`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import tokens
from ...errors import ActivityReportError
from ...render.html import seats as seats_html
from ...render.html import text
from ...resources import RunContext
from ...seats import Seats
from ..reader import StoreReader
from ..routes import run_cancellable
from ..scopes import FULL
from ..seats import SEATS_PATH, scoped_seats, seats_query
from .backend import StoreBackend
from .filters import CONTROLS, api_values, default_range, listed
from .handlers import SECURITY_HEADERS
from .pages import _controls, _document, _errors_by_control, sign_in_page, topbar
from .sessions import SESSION_COOKIE, Sessions

SEATS_PAGE = "/seats"


def routes(reader: StoreReader, sessions: Sessions, limit: float | None = None) -> list[Route]:
    """``/seats``: the page, for a signed-in session (else the sign-in form)."""
    backend = StoreBackend(reader)

    def answer(values: Mapping[str, str | list[str]], context: RunContext, scope: str) -> Seats:
        pairs = [(k, v) for k, vs in values.items() for v in listed(vs)]
        wanted = seats_query(urlencode(pairs).encode())
        with reader.cursor() as (cursor, _), context.stops():
            context.track(cursor)
            return scoped_seats(reader, cursor, wanted, context, scope)

    def scope_of(token: str) -> str | None:
        """The token's scope (``full`` where tokens have none); None if it is not valid."""
        with reader.cursor() as (cursor, _):
            found = tokens.verify(cursor, token)
        return None if found is None else str(getattr(found, "scope", FULL))

    async def page(request: Request) -> Response:
        token = sessions.token(request.cookies.get(SESSION_COOKIE))
        scope = None if token is None else await run_in_threadpool(scope_of, token)
        if scope is None:
            return _html(sign_in_page(next_query=request.url.query))
        filters = await run_in_threadpool(_filters, backend, request)
        seats: Seats | None = None
        problem: ActivityReportError | None = None
        try:
            values = api_values(filters)
            seats = await run_cancellable(request, lambda c: answer(values, c, scope), limit)
        except ActivityReportError as exc:
            problem = exc
        organizations = await run_in_threadpool(backend.organizations)
        return _html(seats_page(filters, organizations, seats, problem))

    return [Route(SEATS_PAGE, page, methods=["GET"])]


def _filters(backend: StoreBackend, request: Request) -> dict[str, str]:
    """The URL's filters, with the activity page's defaults for those it lacks.

    Not ``min_users``: the seats are counts, with nothing to withhold.
    """
    given = {name: request.query_params.get(name) for name in CONTROLS if name != "min_users"}
    filters = {name: value for name, value in given.items() if value is not None}
    for name, default in (("category", "any"), ("interval", "week"), ("tz", "UTC"), ("org", "")):
        filters.setdefault(name, default)
    if "start" not in filters or "end" not in filters:
        first, last = default_range(backend.latest_event(), date.today())
        filters.setdefault("start", first.isoformat())
        filters.setdefault("end", last.isoformat())
    return filters


def seats_page(
    filters: Mapping[str, str],
    organizations: Sequence[tuple[str, str | None]],
    seats: Seats | None,
    problem: ActivityReportError | None,
) -> str:
    """The filters, then the seats (or the error next to the control at fault)."""
    errors = _errors_by_control(problem)
    parts = [
        topbar(filters, SEATS_PAGE),
        '<main class="report">\n',
        _controls(filters, organizations, errors, action=SEATS_PAGE),
    ]
    if "" in errors:
        parts.append(f'<p class="error" role="alert" id="error">{text(errors[""])}</p>\n')
    if seats is not None:
        values = api_values(filters)
        query = urlencode([(k, v) for k, vs in values.items() for v in listed(vs)])
        parts.append(
            '<p class="asked">Days from the Start date to the End date, in the time zone; '
            "a seat is dormant after 90 days without activity up to the End date. Download: "
            f'<a id="download-json" href="{SEATS_PATH}?{text(query)}" download="seats.json">'
            "JSON</a></p>\n"
        )
        parts.append(seats_html.section(seats))
    parts.append("</main>\n")
    return _document("Seats - Metrics", "".join(parts))


def _html(body: str) -> Response:
    return Response(body, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)
