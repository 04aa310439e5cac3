"""Every error of the server as JSON, in the Activity API's style: message and detail.

One place maps a failure to an answer: the core's error kinds to statuses,
Starlette's 404 and 405 to the same JSON shape, and anything unexpected to a
500 whose body says nothing of the code (the traceback goes to stderr).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

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


async def on_core_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ActivityReportError)
    status = STATUS[exc.kind]
    detail = redact(exc.render(plain_name))  # no path, no process id for a client
    if isinstance(exc, InvalidValue):
        return error_response(status, f"Invalid query parameter {exc.param!r}.", detail)
    if isinstance(exc, TookTooLong):  # the same request would take as long again
        return error_response(status, "The request took too long.", detail)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    if exc.kind is Kind.interrupted:
        return error_response(status, "The request was cancelled; try again.", detail, headers)
    if status == 503:
        return error_response(status, "The store is busy; try again shortly.", detail, headers)
    if status >= 500:
        return await on_unexpected(request, exc)
    return error_response(status, detail.split(";")[0] + ".", detail)


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
