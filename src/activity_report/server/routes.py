"""The endpoints: the Activity API, health, the OpenAPI document and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..intervals import bucket_count
from ..model import to_json_bytes
from ..query import Query, parse_query
from ..resources import RunContext
from . import auth, metrics, openapi, params
from .answers import AnswerLimits, Answers, BoundedSource
from .errors import ClientGone, TookTooLong
from .keyring import Keyring, Verdict
from .limits import Lanes
from .reader import Signature, StoreReader
from .scopes import check_query, scoped_report

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")
ACTIVITY_PATH = "/api/private/metrics/activity"


def query_values(request: Request) -> dict[str, str | list[str]]:
    """The query string, checked by the rule of :mod:`.params`."""
    return params.from_query_string(request.scope.get("query_string", b""))


def _key(query: Query) -> Any:
    return (
        str(query.interval),
        query.zone.name,
        query.start,
        query.end,
        query.category,
        tuple(query.orgs or ()),
        tuple(query.users or ()),
        query.heartbeat_us,
        query.max_buckets,
        query.min_users,
        query.pseudonymize,
    )


async def run_cancellable(
    request: Request,
    work: Callable[[RunContext], T],
    timeout: float | None = None,
    *,
    cost: int | None = None,
) -> T:
    """Run ``work`` on a worker, in a run of its own; cancel it if the client leaves.

    The request's queries are those of its run only (:meth:`.RunContext.cancel`):
    the other requests go on. Past ``timeout`` seconds (counted from now, the
    wait for a worker included) the run is cancelled too, and the request fails
    with :class:`.TookTooLong` at once: the worker's run stops at its next check
    of its context, and the client does not wait for that. With every worker
    busy and the queue full, it fails with :class:`.limits.ServerBusy` at once.
    ``cost`` (the report's buckets, when known) lets a small report take the
    small reports' own worker (:class:`.limits.Lanes`).
    """
    context = RunContext()
    pool = _pool(request)
    task: asyncio.Future[T]
    if pool is None:  # no app (a bare test's request): a thread of anyio's
        task = asyncio.ensure_future(anyio.to_thread.run_sync(_closing, work, context))
    else:
        task = asyncio.wrap_future(pool.submit(cost, _closing, work, context))
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            wait = 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic()))
            done, _ = await asyncio.wait({task}, timeout=wait)
            if done:
                return task.result()
            gone = await request.is_disconnected()
            if gone or (deadline is not None and time.monotonic() >= deadline):
                context.cancel()
                task.add_done_callback(_forget)  # its outcome no longer has a reader
                raise ClientGone() if gone else TookTooLong(timeout or 0)
    except BaseException:
        context.cancel()
        raise


def _pool(request: Request) -> Lanes | None:
    app = getattr(request, "scope", {}).get("app")
    return getattr(getattr(app, "state", None), "work", None)


def _forget(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: asyncio does not log it as never retrieved


def _buckets(query: Query) -> int | None:
    """The report's buckets, when its range is given: what it costs, roughly."""
    if query.start is None or query.end is None or query.end <= query.start:
        return None
    return bucket_count(query.start, query.end, query.interval, query.zone.info)


def _closing(work: Callable[[RunContext], T], context: RunContext) -> T:
    with context:
        context.check()  # cancelled while it waited for a worker: it never starts
        return work(context)


def routes(reader: StoreReader, limits: AnswerLimits | None = None) -> list[BaseRoute]:
    """The server's routes over the store that ``reader`` opens, within ``limits``."""
    limit = reader.timing.request
    limits = limits or AnswerLimits()
    answers = Answers(limits.cache_bytes)
    keyring = Keyring()
    gauges = metrics.Gauges()

    def checked(cursor: duckdb.DuckDBPyConnection, signature: Signature, presented: str) -> None:
        keyring.refresh(cursor, signature)
        if keyring.judge(presented, signature) is not Verdict.valid:
            raise auth.refused()

    def authenticated(presented: str, context: RunContext, compute: Callable[..., T]) -> T:
        """``compute(cursor, signature, context, scope)`` for a valid token of that scope."""
        with reader.cursor() as (cursor, signature):
            context.track(cursor)
            checked(cursor, signature, presented)
            scope = keyring.scope(presented, signature)
            if scope is None:  # revoked or expired in the instant between
                raise auth.refused()
            with context.stops():
                return compute(cursor, signature, context, scope)

    def refreshed(presented: str, context: RunContext) -> None:
        with reader.cursor() as (cursor, signature):
            context.track(cursor)
            checked(cursor, signature, presented)

    async def token_of(request: Request) -> tuple[str, Signature]:
        """The request's token, checked first: a bad one is refused before anything is read.

        Returns it with the signature it was found valid under.
        """
        presented = auth.presented_token(request)
        now = reader.signature()
        verdict = keyring.judge(presented, now)
        if verdict is Verdict.invalid:
            raise auth.refused()
        if verdict is Verdict.unknown:  # tokens were made or revoked since the copy
            await run_cancellable(
                request, lambda context: refreshed(presented, context), limit, cost=1
            )
        return presented, now

    async def activity(request: Request) -> Response:
        presented, now = await token_of(request)
        query = parse_query(query_values(request))
        known = keyring.scope(presented, now)
        if known is not None:  # nothing committed since: no need to read
            check_query(query, known)
            body = answers.get((now, (known, _key(query))))
            if body is not None:
                return Response(body, media_type="application/json")

        def compute(
            cursor: duckdb.DuckDBPyConnection, signature: Signature, context: RunContext, scope: str
        ) -> bytes:
            key = (signature, (scope, _key(query)))  # a full answer is never a pseudonymous one
            body = answers.get(key)
            if body is None:
                source = BoundedSource(
                    reader.store(cursor), context=context, max_cells=limits.max_cells
                )
                body = to_json_bytes(
                    scoped_report(query, source, cursor, scope), check=context.check
                )
                answers.put(key, body)
            return body

        body = await run_cancellable(
            request,
            lambda context: authenticated(presented, context, compute),
            limit,
            cost=_buckets(query),
        )
        return Response(body, media_type="application/json")

    async def prometheus(request: Request) -> Response:
        presented, _ = await token_of(request)

        def compute(
            cursor: duckdb.DuckDBPyConnection, signature: Signature, context: RunContext, scope: str
        ) -> str:
            return gauges.text(reader.store(cursor), signature)  # counts only: no one named

        text = await run_cancellable(  # a few small sums: a monitor is answered under load too
            request, lambda context: authenticated(presented, context, compute), limit, cost=1
        )
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def schema(request: Request) -> Response:
        return JSONResponse(openapi.document())

    from . import seats  # its module imports this one

    return [
        Route(ACTIVITY_PATH, activity, methods=["GET"]),
        *seats.routes(reader, authenticated),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", schema, methods=["GET"]),
    ]
