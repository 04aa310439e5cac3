"""``users import``: a user directory file into the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import directory as directory_mod
from .results import UsersResult

if TYPE_CHECKING:
    from .core import Store


def import_users(store: Store, path: str) -> UsersResult:
    """Load a user directory file; users already in the store are replaced by the file's."""
    count = stage(store, path)
    try:
        with store.writing(), store.atomic(done="the import is committed"):
            return apply(store, count)
    finally:
        drop(store)


def stage(store: Store, path: str) -> int:
    """Read a user directory file into the temporary table :func:`apply` writes from;
    returns how many users it holds."""
    con = store.con
    users = list(directory_mod.index(directory_mod.read_directory_file(con, path)).values())
    con.execute(
        """CREATE OR REPLACE TEMP TABLE users_incoming AS
           SELECT unnest($ids) AS id, unnest($names) AS name,
                  unnest($usernames) AS username,
                  unnest($roles) AS roles, unnest($avatars) AS avatar_hash""",
        {
            "ids": [u.id for u in users],
            "names": [u.name for u in users],
            "usernames": [u.username for u in users],
            "roles": [list(u.roles) for u in users],
            "avatars": [u.avatar_hash for u in users],
        },
    )
    return len(users)


def apply(store: Store, count: int) -> UsersResult:
    """Write the staged users (:func:`stage`, ``count`` of them), inside the caller's
    transaction on the store open for writing."""
    con = store.con
    added, updated = con.execute(
        """SELECT count(*) FILTER (u.id IS NULL),
                  count(*) FILTER (u.id IS NOT NULL AND (
                      i.name IS DISTINCT FROM u.name
                      OR i.username IS DISTINCT FROM u.username
                      OR CAST(i.roles AS VARCHAR[]) IS DISTINCT FROM u.roles
                      OR i.avatar_hash IS DISTINCT FROM u.avatar_hash))
           FROM users_incoming i LEFT JOIN users u USING (id)"""
    ).fetchall()[0]
    con.execute("DELETE FROM users WHERE id IN (SELECT id FROM users_incoming)")
    con.execute(
        """INSERT INTO users
           SELECT id, name, username, coalesce(CAST(roles AS VARCHAR[]), []), avatar_hash
           FROM users_incoming"""
    )
    added, updated = int(added), int(updated)
    return UsersResult(store.path, count, added, updated, count - added - updated)


def drop(store: Store) -> None:
    """Drop what :func:`stage` made."""
    store.con.execute("DROP TABLE IF EXISTS temp.main.users_incoming")
