"""The endpoints: the Activity API, health, the OpenAPI document and Prometheus metrics."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .. import sources
from ..errors import InvalidValue
from ..model import to_json
from ..query import Query, parse_query
from ..reporting import run
from ..resources import RunContext
from . import auth, metrics, openapi
from .answers import AnswerLimits, Answers, BoundedSource
from .errors import ClientGone, TookTooLong
from .keyring import Keyring, Verdict
from .reader import Signature, StoreReader

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")
ACTIVITY_PATH = "/api/private/metrics/activity"
MAX_FIELDS = 64  # parameters in one query string
MAX_VALUE = 256  # characters in one value
_ID = re.compile(r"[\w.@:+-]+")  # an organization id or a user id or username


@dataclass
class ServerSource(BoundedSource):
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
            raise InvalidValue(
                name[:MAX_VALUE], value[:40], f"no such parameter; use {', '.join(params)}"
            )
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
        with reader.cursor() as (cursor, signature):
            context.track(cursor)
            checked(cursor, signature, presented)
            with context.stops():
                return compute(cursor, signature, context)

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
            await run_cancellable(request, lambda context: refreshed(presented, context), limit)
        return presented, now

    async def activity(request: Request) -> Response:
        presented, now = await token_of(request)
        query = parse_query(query_values(request))
        body = answers.get((now, _key(query)))  # nothing committed since: no need to read
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
                    max_cells=limits.max_cells,
                )
                body = to_json(run(query, source).report).encode()
                answers.put(key, body)
            return body

        body = await run_cancellable(
            request, lambda context: authenticated(presented, context, compute), limit
        )
        return Response(body, media_type="application/json")

    async def prometheus(request: Request) -> Response:
        presented, _ = await token_of(request)

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
