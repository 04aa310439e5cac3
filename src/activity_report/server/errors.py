"""Every error of the server, answered in one place: the status, the words, Retry-After.

:func:`respond` maps a core error to its answer: the Activity API's JSON
(message and detail), or for a page of the view the page itself showing the
problem (:func:`respond`'s ``html``), with the same status and headers.
Starlette's 404 and 405 take the same JSON shape, and anything unexpected a
500 whose body says nothing of the code (the traceback goes to stderr).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from ..errors import ActivityReportError, InvalidValue, Kind, plain_name
from .public import redact

STATUS = {
    Kind.usage: 400,
    Kind.data: 422,
    Kind.not_found: 404,
    Kind.conflict: 409,
    Kind.unavailable: 503,
    Kind.interrupted: 503,  # the server stopped the request (its client is gone, or it stops)
    Kind.internal: 500,
}
RETRY_AFTER_SECONDS = 5
_HTTP_MESSAGES = {
    401: "You must be authenticated to use this endpoint.",
    404: "Route not found.",
    405: "Method not allowed.",
}


class Unauthorized(Exception):
    """No token, or not a valid one; ``detail`` says which, never the token."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ClientGone(Exception):
    """The client closed the connection before its answer was ready."""


class TookTooLong(ActivityReportError):
    """A request ran past the server's limit and was stopped (HTTP 503, no Retry-After)."""

    kind = Kind.unavailable

    def __init__(self, seconds: float) -> None:
        super().__init__(
            "the report ran longer than this server allows ({seconds:g} s) and was stopped; "
            "ask for a shorter range or a longer interval",
            seconds=seconds,
        )


async def on_client_gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=499)  # nobody reads it; the log line shows it


def error_response(
    status: int, message: str, detail: str = "", headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"message": message, "detail": detail}, status, headers=headers)


def _answer(exc: ActivityReportError) -> tuple[int, str, dict[str, str]]:
    """The status, the message and the headers of ``exc``'s answer, wherever it is shown."""
    status = STATUS[exc.kind]
    detail = redact(exc.render(plain_name))  # no path, no process id for a client
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if isinstance(exc, InvalidValue):
        return status, f"Invalid query parameter {exc.param!r}.", {}
    if isinstance(exc, TookTooLong):  # the same request would take as long again: no Retry-After
        return status, "The request took too long.", {}
    if exc.kind is Kind.interrupted:
        return status, "The request was cancelled; try again.", retry
    if status == 503:
        return status, "The store is busy; try again shortly.", retry
    return status, detail.split(";")[0] + ".", {}


async def respond(
    request: Request,
    exc: ActivityReportError,
    html: Callable[[ActivityReportError], str] | None = None,
    page_headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer to ``exc``: JSON, or with ``html`` the page that shows it.

    A page shows a bad value next to its control and answers 200, as a form
    does; every other failure keeps its status and headers on a page too.
    """
    status, message, headers = _answer(exc)
    if status >= 500 and status != 503:
        return await on_unexpected(request, exc)
    if html is not None:
        shown = 200 if exc.kind is Kind.usage else status
        return HTMLResponse(html(exc), shown, headers={**(page_headers or {}), **headers})
    return error_response(status, message, redact(exc.render(plain_name)), headers or None)


async def on_core_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ActivityReportError)
    return await respond(request, exc)


async def on_unauthorized(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Unauthorized)
    return error_response(
        401, _HTTP_MESSAGES[401], exc.detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code, exc.detail)
    detail = f"{request.method} {request.url.path}"
    return error_response(exc.status_code, message, detail, headers=exc.headers)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    print(
        f"activity-report: error: {request.method} {request.url.path}: "
        f"unexpected {type(exc).__name__}",
        file=sys.stderr,
    )
    traceback.print_exception(exc, file=sys.stderr)
    return error_response(500, "Internal error.", "the server failed; see its log")


HANDLERS = {
    ActivityReportError: on_core_error,
    Unauthorized: on_unauthorized,
    ClientGone: on_client_gone,
    HTTPException: on_http,
    Exception: on_unexpected,
}
