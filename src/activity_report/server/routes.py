"""The endpoints: the Activity API, health, the OpenAPI document and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..backends.duckdb import StoreSource
from ..intervals import bucket_count
from ..model import to_json
from ..query import Query, parse_query
from ..reporting import run
from ..resources import RunContext
from . import auth, metrics, openapi, params
from .errors import ClientGone, TookTooLong
from .limits import Lanes
from .reader import Signature, StoreReader

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")
ACTIVITY_PATH = "/api/private/metrics/activity"
_CACHE_SIZE = 256


class Answers:
    """Report bodies by query, valid while the store's signature is unchanged."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bodies: OrderedDict[tuple[Signature, Any], bytes] = OrderedDict()

    def get(self, key: tuple[Signature, Any]) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: tuple[Signature, Any], body: bytes) -> None:
        with self._lock:
            self._bodies[key] = body
            while len(self._bodies) > _CACHE_SIZE:
                self._bodies.popitem(last=False)


class Verified:
    """Tokens checked under a store signature: (signature, hash of the token) -> expiry.

    A token's row changes only when a writer commits, which changes the
    signature; so a token verified under the current signature is still
    valid until it expires. Only hashes of tokens are kept.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: OrderedDict[tuple[Signature, str], datetime | None] = OrderedDict()

    def valid(self, signature: Signature, presented: str) -> bool:
        with self._lock:
            key = (signature, _digest(presented))
            if key not in self._known:
                return False
            expires = self._known[key]
        return expires is None or datetime.now(UTC) < expires

    def add(self, signature: Signature, presented: str, expires: datetime | None) -> None:
        with self._lock:
            self._known[(signature, _digest(presented))] = expires
            while len(self._known) > _CACHE_SIZE:
                self._known.popitem(last=False)


def _digest(presented: str) -> str:
    return hashlib.sha256(presented.encode("utf-8", "surrogateescape")).hexdigest()


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


def routes(reader: StoreReader) -> list[BaseRoute]:
    """The server's routes over the store that ``reader`` opens."""
    limit = reader.timing.request
    answers = Answers()
    verified = Verified()
    gauges = metrics.Gauges()

    def authenticated(presented: str, context: RunContext, compute: Callable[..., T]) -> T:
        with reader.cursor() as (cursor, signature):
            context.track(cursor)
            if not verified.valid(signature, presented):
                token = auth.check(cursor, presented)
                verified.add(signature, presented, token.expires_at)
            with context.stops():
                return compute(cursor, signature, context)

    async def activity(request: Request) -> Response:
        presented = auth.presented_token(request)
        query = parse_query(query_values(request))
        now = reader.signature()
        if verified.valid(now, presented):  # nothing committed since: no need to open the store
            body = answers.get((now, _key(query)))
            if body is not None:
                return Response(body, media_type="application/json")

        def compute(
            cursor: duckdb.DuckDBPyConnection, signature: Signature, context: RunContext
        ) -> bytes:
            key = (signature, _key(query))
            body = answers.get(key)
            if body is None:
                source = StoreSource(reader.store(cursor), context=context)
                body = to_json(run(query, source).report, check=context.check).encode()
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
        presented = auth.presented_token(request)

        def compute(
            cursor: duckdb.DuckDBPyConnection, signature: Signature, context: RunContext
        ) -> str:
            return gauges.text(reader.store(cursor), signature)

        text = await run_cancellable(  # a few small sums: a monitor is answered under load too
            request, lambda context: authenticated(presented, context, compute), limit, cost=1
        )
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def schema(request: Request) -> Response:
        return JSONResponse(openapi.document())

    return [
        Route(ACTIVITY_PATH, activity, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", schema, methods=["GET"]),
    ]
