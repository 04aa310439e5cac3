"""``pseudonyms rotate``, and the key a report's ``--pseudonymize`` and ``--user`` use.

The key of a report on the store is the store's own (made when first needed,
never printed), so the command line and the server agree. A report on files
takes ``ACTIVITY_REPORT_PSEUDONYM_KEY``, else the key of the store ``--db``
names (or the default store) if there is one.
"""

from __future__ import annotations

import os
import sys

import typer

from ..errors import UsageError
from .options import DbOption, DebugOption, store_path
from .runs import current

WRITE_WAIT_SECONDS = 10.0  # how long to wait for a server's read window to close

pseudonyms_app = typer.Typer(
    name="pseudonyms",
    help="The key that turns user ids into pseudonyms (--pseudonymize); kept in the store.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@pseudonyms_app.command("rotate")
def pseudonyms_rotate_command(db: DbOption = None, debug: DebugOption = False) -> None:
    """Replace the store's pseudonym key with a new random one; it is never printed.

    Pseudonyms in reports made before no longer match those made after.
    Example: activity-report pseudonyms rotate --db events.duckdb
    """
    from ..store import Store, keys

    with (
        Store.open(store_path(db), wait=WRITE_WAIT_SECONDS, context=current()) as store,
        store.writing(),
        store.atomic(),
    ):
        keys.rotate(store.con)
    print(
        "activity-report: made a new pseudonym key; pseudonyms in earlier reports "
        "no longer match the new ones",
        file=sys.stderr,
    )


def report_key(elsewhere: bool, db: str | None, needed_by: str = "--pseudonymize") -> bytes:
    """The key for a report on files or Coder's database (``elsewhere``) or, without
    them, on the store ``db``.

    ``needed_by`` says, in the refusal, what needs it.
    """
    from ..pseudonyms import KEY_ENV, key_from_text

    path = store_path(db)
    if elsewhere:
        given = os.environ.get(KEY_ENV)
        if given:
            return key_from_text(given)
        if not path.exists():
            raise UsageError(
                f"{needed_by} needs a key: set {KEY_ENV} to a long random secret "
                "(e.g. `openssl rand -hex 32`), or give --db a store, which keeps one"
            )
    return store_key(path)


def store_key(path: os.PathLike[str]) -> bytes:
    """The store's key; made (briefly opening the store for writing) if it has none."""
    from ..store import Store, keys

    with Store.open(path, read_only=True, context=current()) as reader:
        key = keys.read(reader.con)
    if key is not None:
        return key
    with (
        Store.open(path, wait=WRITE_WAIT_SECONDS, context=current()) as store,
        store.writing(),
        store.atomic(),
    ):
        return keys.ensure(store.con)
