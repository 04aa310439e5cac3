"""The user directory: who a user id is, for the ``users`` map."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DataError, Notice, UsageError, first_line
from .model import UserInfo
from .sources import glob_escape

if TYPE_CHECKING:
    import duckdb

ID_NAMES = ("id", "user_id")
FIELDS = ("name", "username", "roles", "avatar_hash", "email")


def avatar_hash(email: str) -> str:
    """Gravatar's form: SHA-256 hex of the trimmed, lower-cased address."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def parse_roles(value: Any) -> tuple[str, ...]:
    """Roles from a list, a JSON array, or a ``,``/``;``/``|``-separated string.

    A role may be Coder's object (``{"name": "owner", "display_name": "Owner"}``):
    it is read by its name.
    """
    if value is None:
        return ()
    if isinstance(value, Mapping):
        return parse_roles(value.get("name"))
    if isinstance(value, list | tuple):
        return tuple(role for v in value for role in parse_roles(v))
    text = str(value).strip()
    if not text:
        return ()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return parse_roles(parsed)
    return tuple(part.strip() for part in re.split(r"[,;|]", text) if part.strip())


def user_from_record(record: Mapping[str, Any]) -> UserInfo | None:
    """One directory row; None when it has no id."""
    uid = _text(next((record[k] for k in ID_NAMES if k in record), None))
    if uid is None:
        return None
    email = _text(record.get("email"))
    avatar = _text(record.get("avatar_hash")) or (avatar_hash(email) if email else None)
    return UserInfo(
        id=uid,
        name=_text(record.get("name")),
        username=_text(record.get("username")),
        roles=parse_roles(record.get("roles")),
        avatar_hash=avatar,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def relation_of_file(con: duckdb.DuckDBPyConnection, file: Path) -> duckdb.DuckDBPyRelation:
    """A directory file (users or organizations) as a relation: Parquet, JSON, else CSV text."""
    lower = file.name.lower()
    literal = glob_escape(str(file))  # DuckDB would expand [ ] * ? in the name
    if lower.endswith((".parquet", ".pq")):
        return con.read_parquet(literal)
    if lower.endswith((".json", ".jsonl", ".ndjson")):
        return con.read_json(literal)
    return con.read_csv(literal, header=True, all_varchar=True)


def read_directory_file(con: duckdb.DuckDBPyConnection, path: str) -> list[UserInfo]:
    """Read a CSV, Parquet or JSON directory file with DuckDB."""
    import duckdb

    file = Path(path)
    if not file.is_file():
        raise DataError(f"{path}: no such users file")
    try:
        rel = relation_of_file(con, file)
        columns = [c.lower() for c in rel.columns]
        mixed = [str(kind) == "JSON" for kind in rel.types]
        rows = [
            tuple(_from_json(v) if is_json else v for v, is_json in zip(row, mixed, strict=True))
            for row in rel.fetchall()
        ]
    except duckdb.Error as exc:
        raise DataError(f"{path}: cannot read the users file: {first_line(exc)}") from exc
    if not any(name in columns for name in ID_NAMES):
        raise DataError(
            f"{path}: the users file has no id column (accepted names: id, user_id); "
            f"columns found: {', '.join(rel.columns)}"
        )
    users = (user_from_record(dict(zip(columns, row, strict=True))) for row in rows)
    return [u for u in users if u is not None]


def _from_json(value: Any) -> Any:
    """A value of a JSON column (DuckDB's type for a key of mixed types), decoded."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def index(users: Iterable[UserInfo]) -> dict[str, UserInfo]:
    """Users by id; a later row for the same id replaces an earlier one."""
    return {u.id: u for u in users}


def resolve_user_filters(values: Iterable[str], directory: Mapping[str, UserInfo]) -> list[str]:
    """``--user`` values are ids or usernames; a username maps to its id.

    An id wins over a username. A username that several users share is an
    error that lists their ids: picking one would report the wrong person.
    """
    by_username: dict[str, list[str]] = {}
    for user in directory.values():
        if user.username:
            by_username.setdefault(user.username, []).append(user.id)
    resolved: list[str] = []
    for value in values:
        ids = [value] if value in directory else by_username.get(value, [value])
        if len(ids) > 1:
            raise UsageError(
                "{user} {value}: {n} users have this username (ids: {ids}); give the id instead",
                params=("user",),
                value=value,
                n=len(ids),
                ids=", ".join(sorted(ids)),
            )
        resolved.append(ids[0])
    return list(dict.fromkeys(resolved))


def unmatched_filters(
    param: str,
    values: Iterable[str],
    found: Iterable[str],
    directory: Mapping[str, UserInfo] | None = None,
    org_names: Mapping[str, str] | None = None,
) -> list[Notice]:
    """A message for each ``org`` or ``user`` value that matches no event.

    ``found`` holds the data's values that equal a given one ignoring case.
    For ``user``, a username maps to its id through ``directory`` first;
    a value that is no id and no username may be a username with no
    directory to look it up in, and the message says so. For ``org``, the
    organization directory's names (``org_names``, id -> name), if any, are
    named too: the value was no name of it either.
    """
    found = set(found)
    by_lower: dict[str, list[str]] = {}
    for value in sorted(found):
        by_lower.setdefault(value.lower(), []).append(value)
    by_username = {u.username: u.id for u in (directory or {}).values() if u.username}
    what = "organization id" if param == "org" else "user id"
    messages = []
    for value in dict.fromkeys(values):
        target = by_username.get(value, value) if param == "user" else value
        if target in found:
            continue
        if target != value:  # a username from the directory
            messages.append(
                Notice(
                    "{" + param + "} {value!r} (user id {target}) has no events in the data",
                    (param,),
                    {"value": value, "target": target},
                )
            )
            continue
        near = [v for v in by_lower.get(value.lower(), []) if v != value]
        message = "{" + param + "} {value!r} matches no {what} in the data"
        params: tuple[str, ...] = (param,)
        values_: dict[str, object] = {"value": value, "what": what}
        if near:
            message += " ({what}s are case-sensitive; the data has {listed})"
            values_["listed"] = ", ".join(repr(v) for v in near)
        elif param == "user" and not by_username:
            message += (
                "; to give a username, pass the user directory with {users} FILE (or "
                "import it into the store with `activity-report users import FILE`)"
            )
            params = (param, "users")
        elif param == "user":
            message += " and no username in the user directory"
        elif org_names and value not in org_names:
            names = sorted(set(org_names.values()))
            message += ", nor a name of the organization directory ({names}{more})"
            values_["names"] = ", ".join(repr(n) for n in names[:5])
            values_["more"] = f" and {len(names) - 5} more" if len(names) > 5 else ""
        messages.append(Notice(message, params, values_))
    return messages
