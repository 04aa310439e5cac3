"""Coder's PostgreSQL database: its URL, the connection, and what a failure says.

The ADBC PostgreSQL driver connects (libpq inside) and yields Arrow. Every
message names the URL without its password (:func:`redact`): a failure of
the driver is one line, its password scrubbed even where libpq quotes it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from ..errors import DataError, UsageError

if TYPE_CHECKING:
    import pyarrow as pa


def check_url(url: str) -> None:
    """Refuse (a usage error) what is not a PostgreSQL URL; the message hides any password."""
    if not url.strip():
        raise UsageError(
            "{coder} is empty; give postgresql://USER@HOST:PORT/DATABASE", params=("coder",)
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise UsageError(
            "{coder}: {url} is not a valid URL ({why}); use postgresql://USER@HOST:PORT/DATABASE",
            params=("coder",),
            url=redact(url),
            why=exc,
        ) from None
    if parts.scheme not in ("postgresql", "postgres") or not (parts.hostname or parts.path):
        raise UsageError(
            "{coder}: {url} is not a PostgreSQL URL; "
            "use postgresql://USER@HOST:PORT/DATABASE (the password from PGPASSFILE or "
            "PGPASSWORD)",
            params=("coder",),
            url=redact(url),
        )


def redact(url: str) -> str:
    """``url`` without its password (``postgresql://user@host/db``), for any message."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return re.sub(r"//([^:/@]*):[^@]*@", r"//\1@", url)
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{host}" if user else host
    query = re.sub(r"(?i)(^|&)password=[^&]*", r"\1password=***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _password(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        password = parts.password or parse_qs(parts.query).get("password", [None])[0]
    except ValueError:
        return None
    return unquote(password) if password else None


def _scrub(text: str, url: str) -> str:
    """A driver's message without the URL's password (libpq may quote its input)."""
    text = text.replace(url, redact(url))
    password = _password(url)
    if password:
        text = text.replace(password, "***").replace(quote(password, safe=""), "***")
    return text


def driver_error(exc: Exception, url: str) -> DataError:
    """One line for a failure of the connection or of a query."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    detail = next(
        (
            line.split("FATAL:", 1)[-1].split("ERROR:", 1)[-1].strip()
            for line in lines
            if "FATAL:" in line or "ERROR:" in line
        ),
        lines[0] if lines else type(exc).__name__,
    )
    detail = re.sub(r"^\w+: \[libpq\] Failed to connect: ", "", detail)
    lowered = detail.lower()
    where = redact(url)
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        hint = "check the user and its password (in the URL, PGPASSFILE or PGPASSWORD)"
    elif "connection refused" in lowered or "could not connect" in lowered:
        hint = "check the host and port, and that PostgreSQL is running"
    elif "does not exist" in lowered and "database" in lowered:
        hint = "check the database name in the URL"
    elif "does not exist" in lowered and "column" in lowered:
        hint = (
            "its schema lacks a column of Coder's current one (an older Coder release?): "
            "upgrade Coder, or use the database coderd uses"
        )
    elif "permission denied" in lowered:
        hint = "grant the role SELECT on the table named"
    else:
        hint = "check the URL"
    return DataError(
        "{coder}: cannot read Coder's database at {where}: {detail}; {hint}",
        params=("coder",),
        where=where,
        detail=_scrub(detail, url),
        hint=hint,
    )


def connect(url: str) -> Any:
    """A DB-API connection to the PostgreSQL database at ``url`` (one line if it fails)."""
    try:
        from adbc_driver_postgresql import dbapi
    except ImportError:
        raise DataError(
            "{coder} needs the ADBC PostgreSQL driver: pip install 'adbc-driver-postgresql>=1.0' "
            "(or pip install -e '.[coder]' in a checkout)",
            params=("coder",),
        ) from None

    try:
        return dbapi.connect(url)
    except Exception as exc:  # the driver's errors: OperationalError, ProgrammingError...
        raise driver_error(exc, url) from None


def fetch(cur: Any, sql: str, params: Sequence[Any] | None, url: str) -> pa.Table:
    """The rows of ``sql`` as one Arrow table (one line if it fails)."""
    try:
        if params is None:
            cur.execute(sql)
        else:
            cur.execute(sql, params)
        return cur.fetch_arrow_table()
    except Exception as exc:
        raise driver_error(exc, url) from None
