"""``tokens``: the API tokens of ``serve``; the store keeps only their hashes."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import DataError
from .options import DbOption, DebugOption, store_path
from .runs import current

if TYPE_CHECKING:
    from ..store import Store

WRITE_WAIT_SECONDS = 10.0  # how long `tokens` waits for a server's read window to close

tokens_app = typer.Typer(
    name="tokens",
    help="API tokens for `activity-report serve`; the store keeps only their hashes.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    scope: Annotated[
        str,
        typer.Option(
            help="What its answers show: full (names), or pseudonymous (pseudonyms only, "
            "whatever it asks for). Example: --scope pseudonymous",
        ),
    ] = "full",
    db: DbOption = None,
    debug: DebugOption = False,
) -> None:
    """Make an API token and print it, alone, on stdout: it is shown only once.

    Example: API_KEY=$(activity-report tokens create --name grafana)
    """
    from .. import tokens

    span = tokens.parse_lifetime(lifetime)
    chosen = tokens.parse_scope(scope)
    with _writable(db) as store, store.writing():
        with store.atomic(done="the token is made (its secret is the line printed)"):
            secret, token = tokens.create(store.con, name, span, scope=chosen)
            # Shown before it is committed: a token whose secret could not be
            # printed is rolled back, so none exists that nobody can use.
            try:
                sys.stdout.write(secret + "\n")
                sys.stdout.flush()
            except OSError as exc:
                raise DataError(
                    f"cannot print the token: {exc.strerror or exc}; no token was made"
                ) from None
    expiry = (
        f"expires {token.expires_at.isoformat(timespec='seconds')}"
        if token.expires_at
        else "never expires"
    )
    print(
        f"activity-report: made token {token.name} (id {token.id}"
        f"{', scope pseudonymous' if token.scope == 'pseudonymous' else ''}); "
        f"it {expiry}",
        file=sys.stderr,
    )


@tokens_app.command("list")
def tokens_list_command(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
    debug: DebugOption = False,
) -> None:
    """List the tokens: id, name, scope, state, dates. Secrets are never shown again."""
    from .. import tokens
    from ..store import Store

    with Store.open(store_path(db), read_only=True, context=current()) as store:
        found = tokens.list_tokens(store.con)
    if as_json:
        sys.stdout.write(json.dumps([t.to_dict() for t in found], indent=2) + "\n")
        return
    _show_tokens(found)


def _show_tokens(found: Sequence[Any]) -> None:
    """``tokens list`` for people: a header, aligned columns, times to the second in UTC."""
    from ..render.summary import printable

    def moment(value: datetime | None) -> str:
        return "never" if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z"

    if not found:
        return
    rows = [("id", "name", "scope", "state", "created", "expires")]
    for token in found:
        state = "revoked" if token.revoked_at else "active"
        expires = moment(token.expires_at)
        rows.append(
            (
                token.id,
                printable(token.name),
                token.scope,
                state,
                moment(token.created_at),
                expires,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, row[5]]).rstrip() + "\n")
    sys.stdout.flush()


@tokens_app.command("revoke")
def tokens_revoke_command(
    token: Annotated[str, typer.Argument(help="The token's name or id.", show_default=False)],
    db: DbOption = None,
    debug: DebugOption = False,
) -> None:
    """Revoke a token by name or id: a running server refuses it from its next request."""
    from .. import tokens

    with _writable(db) as store, store.writing(), store.atomic():
        revoked = tokens.revoke(store.con, token)
    print(f"activity-report: revoked token {revoked.name} (id {revoked.id})", file=sys.stderr)


def _writable(db: str | None) -> Store:
    """The store open for writing, waiting while a server reads it (briefly, per window)."""
    from ..store import Store

    return Store.open(store_path(db), wait=WRITE_WAIT_SECONDS, context=current())
