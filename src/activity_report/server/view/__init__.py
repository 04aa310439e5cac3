"""The Metrics view: a sign-in page, then the HTML report for the filters in the URL.

Plain server-rendered pages: the filters are a GET form, so the URL holds
them and a view can be bookmarked and shared; the chart and tables are the
HTML report's (:mod:`activity_report.render.html`). The only script submits
a select's change and fills in the browser's time zone when the URL names
none.

Signing in with a token starts a session (:mod:`.sessions`): a cookie
for this server's own page only, the token kept by the server. Every
request checks the token again, so a revoked token ends its sessions at
once.

The pieces: :mod:`.sessions` (the session cookie, and who may use it),
:mod:`.backend` (what the view asks of the store), :mod:`.filters` (the
URL's filters as the API's query), :mod:`.pages` (the HTML), :mod:`.assets`
(its CSS, script and icon), :mod:`.handlers` (the routes) and :mod:`.seats`
(the Seats page: daily active users, stickiness and dormant seats).
"""

from __future__ import annotations

from starlette.applications import Starlette

from ..answers import DEFAULT_MAX_CELLS
from ..reader import StoreReader
from . import seats
from .backend import Backend, StoreBackend
from .filters import CONTROLS, api_values, default_range
from .handlers import routes
from .pages import USERS_PER_PAGE, metrics_page, sign_in_page
from .sessions import SESSION_COOKIE, Sessions, SessionTokenMiddleware, from_the_page

__all__ = [
    "CONTROLS",
    "SESSION_COOKIE",
    "USERS_PER_PAGE",
    "Backend",
    "SessionTokenMiddleware",
    "Sessions",
    "StoreBackend",
    "api_values",
    "default_range",
    "from_the_page",
    "install",
    "metrics_page",
    "routes",
    "sign_in_page",
]


def install(app: Starlette, reader: StoreReader, max_cells: int = DEFAULT_MAX_CELLS) -> None:
    """Add the view to the server's app: its routes, and the cookie for the API.

    Its reports are bounded as the API's are: ``max_cells`` cells at most.
    """
    sessions = Sessions()
    backend = StoreBackend(reader, max_cells)
    app.router.routes.extend(routes(backend, sessions, reader.timing.request))
    app.router.routes.extend(seats.routes(reader, sessions, reader.timing.request))
    app.add_middleware(SessionTokenMiddleware, sessions=sessions)
