"""The commands `serve` and `tokens`: the Activity API over HTTP, and its API tokens."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from .store import Store

WRITE_WAIT_SECONDS = 10.0  # how long `tokens` waits for a server's read window to close

tokens_app = typer.Typer(
    name="tokens",
    help="API tokens for `activity-report serve`; the store keeps only their hashes.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def register(app: typer.Typer) -> None:
    """Add `serve` and `tokens` to the command line's ``app``."""
    app.command("serve")(serve_command)
    app.add_typer(tokens_app)


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="The store (a DuckDB file). Default: $XDG_DATA_HOME/activity-report/"
        "events.duckdb, else ~/.local/share/activity-report/events.duckdb.",
        envvar="ACTIVITY_REPORT_DB",
        show_default=False,
    ),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]


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
    debug: DebugOption = False,
) -> None:
    """Serve the Activity API over HTTP, from the store, until SIGTERM or Ctrl-C.

    GET /api/private/metrics/activity takes the report's options as query
    parameters and answers what --format json prints; it needs a token from
    `activity-report tokens create` in the Session-Token header. Also
    /metrics (Prometheus), /healthz and /openapi.json. Example:
    activity-report serve --db ~/activity.duckdb --port 3000
    """
    from .server import ServerConfig, Timing
    from .server.run import serve

    timing = Timing(busy_timeout=busy_timeout)
    serve(ServerConfig(_store_path(db), timing=timing), host=host, port=port)


@tokens_app.command("create")
def tokens_create_command(
    name: Annotated[
        str | None,
        typer.Option(
            help="A name to list and revoke it by. Default: token-ID.", show_default=False
        ),
    ] = None,
    lifetime: Annotated[
        str, typer.Option(help="How long it works: '30d', '12 hours', or never.")
    ] = "30d",
    db: DbOption = None,
    debug: DebugOption = False,
) -> None:
    """Make an API token and print it, alone, on stdout: it is shown only once.

    Example: API_KEY=$(activity-report tokens create --name grafana)
    """
    from . import tokens

    span = tokens.parse_lifetime(lifetime)
    with _writable(db) as store, store.writing(), store.atomic():
        secret, token = tokens.create(store.con, name, span)
    sys.stdout.write(secret + "\n")
    sys.stdout.flush()
    expiry = (
        f"expires {token.expires_at.isoformat(timespec='seconds')}"
        if token.expires_at
        else "never expires"
    )
    print(f"activity-report: made token {token.name} (id {token.id}); it {expiry}", file=sys.stderr)


@tokens_app.command("list")
def tokens_list_command(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
    debug: DebugOption = False,
) -> None:
    """List the tokens: id, name, dates. Secrets are never shown again."""
    from . import tokens
    from .store import Store

    with Store.open(_store_path(db), read_only=True) as store:
        found = tokens.list_tokens(store.con)
    if as_json:
        sys.stdout.write(json.dumps([t.to_dict() for t in found], indent=2) + "\n")
        return
    for token in found:
        row = token.to_dict()
        state = "revoked" if token.revoked_at else "active"
        print(f"{row['id']}  {row['name']}  {state}  created {row['created_at']}  "
              f"expires {row['expires_at'] or 'never'}")  # fmt: skip


@tokens_app.command("revoke")
def tokens_revoke_command(
    token: Annotated[str, typer.Argument(help="The token's name or id.", show_default=False)],
    db: DbOption = None,
    debug: DebugOption = False,
) -> None:
    """Revoke a token by name or id: a running server refuses it from its next request."""
    from . import tokens

    with _writable(db) as store, store.writing(), store.atomic():
        revoked = tokens.revoke(store.con, token)
    print(f"activity-report: revoked token {revoked.name} (id {revoked.id})", file=sys.stderr)


def _store_path(db: str | None) -> Path:
    from .store import default_path

    return Path(db).expanduser() if db else default_path()


def _writable(db: str | None) -> Store:
    """The store open for writing, waiting while a server reads it (briefly, per window)."""
    from .store import Store

    return Store.open(_store_path(db), wait=WRITE_WAIT_SECONDS)
