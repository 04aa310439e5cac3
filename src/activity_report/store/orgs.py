"""``orgs import``: an organization directory file into the store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import orgs as orgs_mod

if TYPE_CHECKING:
    from .core import Store

#: The migration that made the table.
STEP = "0007_orgs"


@dataclass(frozen=True)
class OrgsResult:
    """What ``orgs import`` did."""

    path: Path
    orgs: int
    added: int
    updated: int
    unchanged: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": str(self.path),
            "organizations": self.orgs,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
        }


def import_orgs(store: Store, path: str) -> OrgsResult:
    """Load an organization directory file; organizations already stored are renamed."""
    count = stage(store, path)
    try:
        with store.writing(), store.atomic(done="the import is committed"):
            return apply(store, count)
    finally:
        drop(store)


def stage(store: Store, path: str) -> int:
    """Read an organization directory file into the temporary table :func:`apply` writes
    from; returns how many organizations it holds."""
    found = orgs_mod.read_orgs_file(store.con, path)
    store.con.execute(
        "CREATE OR REPLACE TEMP TABLE orgs_incoming AS "
        "SELECT unnest($ids) AS id, unnest($names) AS name",
        {"ids": list(found), "names": list(found.values())},
    )
    return len(found)


def apply(store: Store, count: int) -> OrgsResult:
    """Write the staged organizations (:func:`stage`, ``count`` of them), inside the
    caller's transaction on the store open for writing."""
    con = store.con
    added, updated = con.execute(
        """SELECT count(*) FILTER (o.id IS NULL),
                  count(*) FILTER (o.id IS NOT NULL AND i.name IS DISTINCT FROM o.name)
           FROM orgs_incoming i LEFT JOIN orgs o USING (id)"""
    ).fetchall()[0]
    con.execute("DELETE FROM orgs WHERE id IN (SELECT id FROM orgs_incoming)")
    con.execute("INSERT INTO orgs SELECT id, name FROM orgs_incoming")
    added, updated = int(added), int(updated)
    return OrgsResult(store.path, count, added, updated, count - added - updated)


def drop(store: Store) -> None:
    """Drop what :func:`stage` made."""
    store.con.execute("DROP TABLE IF EXISTS temp.main.orgs_incoming")


def stored_orgs(store: Store) -> dict[str, str]:
    """The store's organization directory, ``id -> name`` (empty before its migration)."""
    if STEP not in store.applied:
        return {}
    rows = store.con.execute("SELECT id, name FROM orgs ORDER BY id").fetchall()
    return {str(oid): str(name) for oid, name in rows}
