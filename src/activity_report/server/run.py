"""Run the server in this process: uvicorn, one line per request, clean stop on signals."""

from __future__ import annotations

import signal
import sys

from ..store import Store
from .app import ServerConfig, create_app


def serve(config: ServerConfig, *, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT; uvicorn stops accepting, finishes requests, returns.

    The store must exist (it is opened once here, so that a bad --db fails at
    once rather than at the first request).
    """
    import uvicorn

    Store.open(config.db, read_only=True, limits=config.limits).close()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=host,
            port=port,
            access_log=False,  # the app logs one line per request itself
            log_level="warning",
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=10,
        )
    )
    print(f"activity-report: serving {config.db} on http://{host}:{port}", file=sys.stderr)
    # uvicorn stops gracefully on SIGTERM, then raises it again for the handler it found:
    # this one lets the command end normally (exit 0) rather than die of the signal.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("activity-report: stopped", file=sys.stderr)
