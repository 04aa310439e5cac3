"""The endpoints: the Activity API, health, the OpenAPI document and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .. import sources
from ..errors import InvalidValue, UnknownParameter
from ..event_source import DuckDBSource
from ..model import to_json
from ..query import Query, parse_query
from ..reporting import run
from ..resources import RunContext
from . import auth, metrics, openapi
from .errors import ClientGone, TookTooLong
from .reader import Signature, StoreReader

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")
ACTIVITY_PATH = "/api/private/metrics/activity"
MAX_FIELDS = 64  # parameters in one query string
MAX_VALUE = 256  # characters in one value
_ID = re.compile(r"[\w.@:+-]+")  # an organization id or a user id or username
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


class ServerSource(DuckDBSource):
    """The store's events with no diagnostics: stored rows are valid, and no one reads them."""

    def diagnostics(self) -> sources.Diagnostics:
        return sources.Diagnostics(0, 0, [], [], 0, [])


def query_values(request: Request) -> dict[str, str | list[str]]:
    """The query string, checked: known names, repeated only where allowed, UTF-8, short."""
    raw = request.scope.get("query_string", b"")
    try:
        pairs = parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise InvalidValue("query", _shown(raw), "not valid UTF-8 once percent-decoded") from None
    except ValueError:
        raise InvalidValue("query", _shown(raw), f"more than {MAX_FIELDS} parameters") from None
    params = {p.name: p for p in openapi.HTTP_PARAMS}
    values: dict[str, str | list[str]] = {}
    for name, value in pairs:
        param = params.get(name)
        if param is None:
            raise UnknownParameter(name[:MAX_VALUE], value[:40], list(params))
        if len(value) > MAX_VALUE:
            raise InvalidValue(name, value[:40] + "...", f"longer than {MAX_VALUE} characters")
        if param.repeatable:
            if not _ID.fullmatch(value):
                raise InvalidValue(name, value, "an id or username: letters, digits, . _ @ : + -")
            listed = values.setdefault(name, [])
            assert isinstance(listed, list)
            listed.append(value)
        elif name in values:
            raise InvalidValue(name, value, "give it once")
        else:
            values[name] = value
    return values


def _shown(raw: bytes) -> str:
    text = raw.decode("ascii", errors="backslashreplace")
    return text if len(text) <= 60 else text[:60] + "..."


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
    request: Request, work: Callable[[RunContext], T], timeout: float | None = None
) -> T:
    """Run ``work`` in a worker thread, in a run of its own; cancel it if the client leaves.

    The request's queries are those of its run only (:meth:`.RunContext.cancel`):
    the other requests go on. Past ``timeout`` seconds the run is cancelled too,
    and the request fails with :class:`.TookTooLong`.
    """
    context = RunContext()
    task = asyncio.ensure_future(anyio.to_thread.run_sync(_closing, work, context))
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.05)
            if done:
                return task.result()
            gone = await request.is_disconnected()
            if gone or (deadline is not None and time.monotonic() > deadline):
                context.cancel()
                try:
                    await task  # DuckDB was interrupted: it fails, or it had just finished
                finally:
                    raise ClientGone() if gone else TookTooLong(timeout or 0)
    except BaseException:
        context.cancel()
        raise


def _closing(work: Callable[[RunContext], T], context: RunContext) -> T:
    with context:
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
                store = reader.store(cursor)  # this request's view
                source = ServerSource(
                    cursor,
                    store.events_view(),
                    store=store,
                    rollup=store.rollup_cells,
                    context=context,
                )
                body = to_json(run(query, source).report).encode()
                answers.put(key, body)
            return body

        body = await run_cancellable(
            request, lambda context: authenticated(presented, context, compute), limit
        )
        return Response(body, media_type="application/json")

    async def prometheus(request: Request) -> Response:
        presented = auth.presented_token(request)

        def compute(
            cursor: duckdb.DuckDBPyConnection, signature: Signature, context: RunContext
        ) -> str:
            return gauges.text(reader.store(cursor), signature)

        text = await run_cancellable(
            request, lambda context: authenticated(presented, context, compute), limit
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
