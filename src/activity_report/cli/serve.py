"""``serve``: the Activity API over HTTP, from the store."""

from __future__ import annotations

from typing import Annotated

import typer

from .options import DbOption, DebugOption, store_path


def serve_command(
    db: DbOption = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 for every interface.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 3000,
    busy_timeout: Annotated[
        float,
        typer.Option(help="Seconds a request waits while an ingest commits, before a 503.", min=0),
    ] = 5.0,
    request_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds a request may run before it is stopped with a 503; 0 for no limit.",
            min=0,
        ),
    ] = 120.0,
    max_connections: Annotated[
        int,
        typer.Option(
            help="Connections open at once; more are answered 503 and closed. Lowered to "
            "what `ulimit -n` allows.",
            min=1,
        ),
    ] = 1000,
    header_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds a connection may take to send its request (headers and body) "
            "before it is closed.",
            min=0.1,
        ),
    ] = 5.0,
    workers: Annotated[
        int | None,
        typer.Option(help="Reports computed at once. [default: the number of processors]", min=1),
    ] = None,
    queue: Annotated[
        int,
        typer.Option(
            help="Reports waiting for a worker; more are answered 503 with Retry-After.",
            min=0,
        ),
    ] = 32,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="The proxy in front of this server (addresses or networks, comma-separated, "
            "or *): only its X-Forwarded-For and X-Forwarded-Proto headers are believed. "
            "[default: no one's]",
        ),
    ] = None,
    max_cells: Annotated[
        int,
        typer.Option(
            help="Refuse (HTTP 400) a report that could hold more cells than this (buckets "
            "x active users): its JSON would cost the server about 100 bytes per cell, "
            "several times that in memory while it is built.",
            min=1,
        ),
    ] = 500_000,
    answer_cache_mb: Annotated[
        int,
        typer.Option(
            help="Megabytes of answers kept for repeated requests (least recently used "
            "first out); 0 keeps none.",
            min=0,
        ),
    ] = 64,
    debug: DebugOption = False,
) -> None:
    """Serve the Activity API over HTTP, from the store, until SIGTERM or Ctrl-C.

    GET /api/private/metrics/activity takes the report's options as query
    parameters and answers what --format json prints; it needs a token from
    `activity-report tokens create` in the Session-Token header. Also
    /metrics (Prometheus), /healthz and /openapi.json. Example:
    activity-report serve --db ~/activity.duckdb --port 3000
    """
    from ..server import Capacity, ServerConfig, Timing
    from ..server.answers import AnswerLimits
    from ..server.limits import machine_cpus
    from ..server.run import serve

    timing = Timing(busy_timeout=busy_timeout, request=request_timeout or None)
    capacity = Capacity(
        max_connections=max_connections,
        header_timeout=header_timeout,
        workers=workers or machine_cpus(),
        queue=queue,
    )
    answers = AnswerLimits(max_cells=max_cells, cache_bytes=answer_cache_mb * 2**20)
    serve(
        ServerConfig(store_path(db), timing=timing, capacity=capacity, answers=answers),
        host=host,
        port=port,
        forwarded_allow_ips=forwarded_allow_ips,
    )
