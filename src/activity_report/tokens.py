"""API tokens of the store: the secrets `activity-report serve` accepts.

A token is shown once, when it is made: ``ar_<id>_<secret>``. The store keeps
its id, name, dates and a SHA-256 hash of the secret, never the secret; a
secret is 32 random bytes, so a fast hash is enough. Checking a token looks
its row up by id and compares the hashes in constant time.

The table is :data:`TOKENS_DDL`; :func:`ensure_table` makes it in a store
opened for writing (a step of the store's schema).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import ActivityReportError, InvalidValue, Kind

if TYPE_CHECKING:
    import duckdb

TOKENS_DDL = """
CREATE TABLE IF NOT EXISTS tokens (
    id VARCHAR PRIMARY KEY,          -- public: the part of the token before the secret
    name VARCHAR NOT NULL UNIQUE,
    secret_sha256 VARCHAR NOT NULL,  -- hex SHA-256 of the secret; the secret is never kept
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,          -- NULL: never
    revoked_at TIMESTAMPTZ           -- NULL: in force
)
"""
SCOPES = ("full", "pseudonymous")
"""What a token's answers may show: ``full`` names users; ``pseudonymous`` names no one."""
DEFAULT_LIFETIME = "30 days"
_TOKEN = re.compile(r"ar_([0-9a-f]{10})_([A-Za-z0-9_-]{43})")
_LIFETIME = re.compile(r"(\d+)\s*(minutes?|mins?|m|hours?|h|days?|d|weeks?|w)")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    scope: str = "full"  # one of SCOPES

    def to_dict(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.astimezone(UTC).isoformat()

        return {
            "id": self.id,
            "name": self.name,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "scope": self.scope,
        }


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    """Make the tokens table if the store has none (the store is open for writing)."""
    con.execute(TOKENS_DDL)


def add_scope_column(con: duckdb.DuckDBPyConnection) -> None:
    """The scope column (a step of the store's schema): existing tokens stay ``full``."""
    ensure_table(con)
    if not _has_scope(con):
        con.execute("ALTER TABLE tokens ADD COLUMN scope VARCHAR NOT NULL DEFAULT 'full'")


def _has_scope(con: duckdb.DuckDBPyConnection) -> bool:
    """A store whose schema steps are pending has tokens without a scope: all full."""
    return _exists(con, "duckdb_columns() WHERE table_name = 'tokens' AND column_name = 'scope'")


def _columns(con: duckdb.DuckDBPyConnection) -> str:
    scope = "scope" if _has_scope(con) else "'full'"
    return f"id, name, created_at, expires_at, revoked_at, {scope}"


def parse_scope(text: str, *, param: str = "scope") -> str:
    scope = text.strip().lower()
    if scope not in SCOPES:
        raise InvalidValue(param, text, f"use one of {', '.join(SCOPES)}")
    return scope


def has_table(con: duckdb.DuckDBPyConnection) -> bool:
    return _exists(con, "duckdb_tables() WHERE table_name = 'tokens'")


def _exists(con: duckdb.DuckDBPyConnection, catalog: str) -> bool:
    """Whether the store's own catalog ``catalog`` (a fixed text, no input) has a row."""
    rows = con.execute(
        f"SELECT count(*) FROM {catalog} "
        "AND database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    return bool(rows[0][0])


def parse_lifetime(text: str, *, param: str = "lifetime") -> timedelta | None:
    """'30d', '12 hours', '1 week', 'never' -> how long a new token lives (None: for ever)."""
    normal = text.strip().lower()
    if normal == "never":
        return None
    match = _LIFETIME.fullmatch(normal)
    number = int(match[1]) if match and len(match[1]) <= 6 else 0
    if match is None or number < 1:
        raise InvalidValue(
            param, text, "use N UNIT such as '30d', '12 hours' or '1 week', or never"
        )
    unit = match[2][0]
    return timedelta(**{_UNITS[unit]: number})


def create(
    con: duckdb.DuckDBPyConnection,
    name: str | None,
    lifetime: timedelta | None,
    *,
    now: datetime | None = None,
    scope: str = "full",
) -> tuple[str, Token]:
    """A new token: its secret (shown once) and its row.

    A ``pseudonymous`` token needs the store's pseudonym key: it is made now
    if the store has none, so a server that only reads finds it.
    """
    ensure_table(con)
    scope = parse_scope(scope)
    now = now or datetime.now(UTC)
    token_id = secrets.token_hex(5)
    name = name if name is not None else f"token-{token_id}"
    if not _NAME.fullmatch(name):
        raise InvalidValue(
            "name",
            name,
            "use up to 64 letters, digits, '.', '_', '@' or '-', first a letter or digit",
        )
    existing = con.execute("SELECT revoked_at FROM tokens WHERE name = ?", [name]).fetchall()
    if existing and existing[0][0] is not None:
        raise ActivityReportError(
            f"a token named {name!r} was revoked, and keeps its name in `tokens list` "
            "(a record of what was in force); choose another name",
            kind=Kind.conflict,
        )
    if existing:
        raise ActivityReportError(
            f"a token named {name!r} exists already; revoke it or choose another name",
            kind=Kind.conflict,
        )
    secret = secrets.token_urlsafe(32)
    token = Token(token_id, name, now, None if lifetime is None else now + lifetime, None, scope)
    add_scope_column(con)
    con.execute(
        "INSERT INTO tokens (id, name, secret_sha256, created_at, expires_at, revoked_at, scope) "
        "VALUES (?, ?, ?, ?, ?, NULL, ?)",
        [token.id, token.name, _hash(secret), token.created_at, token.expires_at, scope],
    )
    if scope == "pseudonymous":
        from .store import keys

        keys.ensure(con)
    return f"ar_{token_id}_{secret}", token


def list_tokens(con: duckdb.DuckDBPyConnection) -> list[Token]:
    if not has_table(con):
        return []
    rows = con.execute(f"SELECT {_columns(con)} FROM tokens ORDER BY created_at, id").fetchall()
    return [Token(*row) for row in rows]


def revoke(
    con: duckdb.DuckDBPyConnection, name_or_id: str, *, now: datetime | None = None
) -> Token:
    """Revoke the token with this name or id; it stops working at once."""
    found = [t for t in list_tokens(con) if name_or_id in (t.name, t.id)]
    if not found:
        raise ActivityReportError(
            f"no token named {name_or_id!r}; `activity-report tokens list` shows them",
            kind=Kind.not_found,
        )
    token = found[0]
    if token.revoked_at is None:
        con.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ?", [now or datetime.now(UTC), token.id]
        )
    return list_tokens_by_id(con, token.id)


def list_tokens_by_id(con: duckdb.DuckDBPyConnection, token_id: str) -> Token:
    row = con.execute(f"SELECT {_columns(con)} FROM tokens WHERE id = ?", [token_id]).fetchall()[0]
    return Token(*row)


def verify(
    con: duckdb.DuckDBPyConnection, presented: str, *, now: datetime | None = None
) -> Token | None:
    """The token ``presented`` is, if it is valid, unexpired and unrevoked; else None."""
    parsed = parse(presented)
    if parsed is None or not has_table(con):
        return None
    token_id, secret_sha256 = parsed
    rows = con.execute(
        f"SELECT {_columns(con)}, secret_sha256 FROM tokens WHERE id = ?", [token_id]
    ).fetchall()
    if not rows:
        return None
    *fields, stored = rows[0]
    token = Token(*fields)
    if not in_force(Stored(str(stored), token.expires_at, token.revoked_at), secret_sha256, now):
        return None
    return token


def parse(presented: str) -> tuple[str, str] | None:
    """``(id, SHA-256 of the secret)`` of a token of the right shape; None for any other text.

    Needs no store: a request whose token has the wrong shape is refused
    before anything is opened.
    """
    match = _TOKEN.fullmatch(presented)
    return None if match is None else (match[1], _hash(match[2]))


@dataclass(frozen=True)
class Stored:
    """What the store keeps of a token to check it: its secret's hash and its dates."""

    secret_sha256: str
    expires_at: datetime | None
    revoked_at: datetime | None
    scope: str = "full"  # one of SCOPES


def stored(con: duckdb.DuckDBPyConnection) -> dict[str, Stored]:
    """Every token of the store by id, as :class:`Stored` (a few rows: one per token made)."""
    if not has_table(con):
        return {}
    scope = "scope" if _has_scope(con) else "'full'"
    rows = con.execute(
        f"SELECT id, secret_sha256, expires_at, revoked_at, {scope} FROM tokens"
    ).fetchall()
    return {str(i): Stored(str(h), e, r, str(s)) for i, h, e, r, s in rows}


def in_force(token: Stored, secret_sha256: str, now: datetime | None = None) -> bool:
    """Whether the secret is this token's (compared in constant time) and it is in force."""
    if not hmac.compare_digest(token.secret_sha256, secret_sha256):
        return False
    now = now or datetime.now(UTC)
    if token.revoked_at is not None:
        return False
    return token.expires_at is None or now < token.expires_at


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
