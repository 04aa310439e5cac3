"""Coder's own PostgreSQL database -> canonical events, one per active minute.

Read through the ADBC PostgreSQL driver, which yields Arrow: only the columns
the mapping needs, uuids as their bytes, the time range (if any) bound as
parameters of the SQL. The rows (sessions and logins) then become spans of
minutes in DuckDB, and runs of minutes in NumPy (:mod:`.minute_spans`):

- **tunnel**: ``connection_logs`` of type ``ssh``, ``vscode`` or ``jetbrains``;
  the user is ``workspace_owner_id`` (``user_id`` is empty on those rows).
- **web_terminal**: ``workspace_app_stats`` with ``access_method = 'terminal'``
  (``reconnecting_pty`` connections are the same use, and are skipped).
- **ide** / **app**: the other ``workspace_app_stats`` rows, by their app's slug
  or display name (:data:`DEFAULT_IDE_APPS`); a port number is an app.
  ``workspace_app`` and ``port_forwarding`` connections are the same use, and
  are skipped.
- **login**: ``audit_logs`` ``login``/``register`` with ``status_code < 400``,
  once per organization the user belongs to.
- a connection of any other type keeps its type as its category: the report
  counts it as unknown and names it.

Organizations are named as Coder's pages name them: by their display name
(else their name).

A session still open counts until 12 hours after it opened or the moment of
reading, whichever is earlier. System users and service accounts are left out.
Each UTC minute in which a user has activity of a category, in an
organization, is one event of that minute, one minute long, without an id:
its time, user, category and organization name it, so a minute read twice is
one event. :func:`runs` gives them as runs of contiguous minutes (what a
store keeps), :func:`events_sql` as the minutes (what a report reads).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from .coder_connection import check_url, connect, fetch, redact

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

#: Apps counted as IDE (by slug or display name, case-insensitive globs); any other is an app.
DEFAULT_IDE_APPS = ("code-server", "vscode-web", "jupyter*", "rstudio*")
#: The same, as the command line and the Python API take it: comma-separated.
IDE_APPS_TEXT = ",".join(DEFAULT_IDE_APPS)


def ide_app_patterns(value: str | Sequence[str]) -> list[str]:
    """``--ide-apps``' value (comma-separated text, or a list) as its patterns."""
    given = value.split(",") if isinstance(value, str) else value
    return [p.strip() for p in given if p.strip()]


#: How long an open session counts at most.
OPEN_SESSION_US = 12 * 3600 * 1_000_000
MINUTE_US = 60_000_000
#: Connection types counted as tunnel, and those counted from workspace_app_stats instead.
TUNNEL_TYPES = ("ssh", "vscode", "jetbrains")
SKIPPED_TYPES = ("reconnecting_pty", "workspace_app", "port_forwarding")
#: The tables read: a database without one of them is not Coder's.
TABLES = (
    "connection_logs",
    "workspace_app_stats",
    "workspace_apps",
    "workspaces",
    "audit_logs",
    "users",
    "organization_members",
    "organizations",
)
#: Prefix of the ids of the events read from Coder.
ID_PREFIX = "coder:"

# Sessions: who, where, which kind, from when to when. Ids come as uuids, in
# their 16 bytes (:func:`_ids_as_text` names them), and the open sessions' end
# is set after the read: text and arithmetic cost PostgreSQL more than they
# cost here. ``{range}``: the conditions of a time range, if any (:func:`_ranged`).
_CONNECTIONS_SQL = """
SELECT cl.workspace_owner_id AS user_id,
       cl.organization_id AS org,
       cl.type::text AS kind,
       cl.connect_time AS started,
       cl.disconnect_time AS ended
FROM connection_logs cl
JOIN users u ON u.id = cl.workspace_owner_id
WHERE NOT u.is_system AND NOT u.is_service_account{range}
"""
_CONNECTIONS_RANGE = (
    "cl.connect_time < $end",
    """(cl.disconnect_time >= $start
        OR (cl.disconnect_time IS NULL AND cl.connect_time + interval '12 hours' >= $start))""",
)

_APP_STATS_SQL = """
SELECT s.user_id,
       w.organization_id AS org,
       s.access_method,
       s.slug_or_port,
       a.display_name::text AS display_name,
       s.session_started_at AS started,
       s.session_ended_at AS ended
FROM workspace_app_stats s
JOIN users u ON u.id = s.user_id
LEFT JOIN workspaces w ON w.id = s.workspace_id
LEFT JOIN workspace_apps a ON a.agent_id = s.agent_id AND a.slug = s.slug_or_port
WHERE NOT u.is_system AND NOT u.is_service_account{range}
"""
_APP_STATS_RANGE = ("s.session_started_at < $end", "s.session_ended_at >= $start")

_LOGINS_SQL = """
SELECT al.user_id,
       m.organization_id AS org,
       al."time" AS started
FROM audit_logs al
JOIN users u ON u.id = al.user_id
LEFT JOIN organization_members m ON m.user_id = al.user_id
WHERE NOT u.is_system AND NOT u.is_service_account
  AND al.action::text IN ('login', 'register')
  AND al.status_code < 400{range}
"""
_LOGINS_RANGE = ('al."time" < $end', 'al."time" >= $start')

_USERS_SQL = """
SELECT u.id::text AS id, u.name, u.username, u.email,
       array_to_string(u.rbac_roles || coalesce(
           (SELECT array_agg(DISTINCT r ORDER BY r)
            FROM organization_members m, unnest(m.roles) r
            WHERE m.user_id = u.id), '{}'::text[]), ',') AS roles
FROM users u
WHERE NOT u.is_system AND NOT u.is_service_account
"""


# Organizations by the name Coder's pages show (its display name; else its name).
_ORGS_SQL = """
SELECT o.id::text AS id, coalesce(nullif(trim(o.display_name), ''), o.name) AS name
FROM organizations o
"""


@dataclass(frozen=True)
class CoderRead:
    """What one read of Coder's database returned, as Arrow tables."""

    connections: pa.Table
    app_stats: pa.Table
    logins: pa.Table
    users: pa.Table
    orgs: pa.Table
    #: The moment of reading: a session still open counts until then at most.
    now: datetime


def read(
    url: str,
    *,
    start_us: int | None = None,
    end_us: int | None = None,
    now: datetime | None = None,
) -> CoderRead:
    """The sessions, logins and users of Coder's database at ``url`` that touch the range.

    A session is read when it overlaps ``[start, end)``: whole, so minutes
    outside the range come with it (the report keeps those in range).
    """
    check_url(url)
    now = now or datetime.now(UTC)
    start = None if start_us is None else _instant(start_us)
    end = None if end_us is None else _instant(end_us)
    con = connect(url)
    try:
        cur = con.cursor()
        try:
            _check_tables(cur, url)
            sessions = (
                fetch(cur, *_ranged(sql, conditions, start, end), url)
                for sql, conditions in (
                    (_CONNECTIONS_SQL, _CONNECTIONS_RANGE),
                    (_APP_STATS_SQL, _APP_STATS_RANGE),
                    (_LOGINS_SQL, _LOGINS_RANGE),
                )
            )
            connections, app_stats, logins = (_ids_as_text(table, url) for table in sessions)
            users = fetch(cur, _USERS_SQL, None, url)
            orgs = fetch(cur, _ORGS_SQL, None, url)
        finally:
            cur.close()
    finally:
        con.close()
    return CoderRead(connections, app_stats, logins, users, orgs, now)


def _ranged(
    sql: str, conditions: tuple[str, str], start: datetime | None, end: datetime | None
) -> tuple[str, list[datetime] | None]:
    """``sql`` with the conditions (on ``$end``, then ``$start``) of the bounds given, and its
    parameters. Without a bound, no condition: PostgreSQL evaluates none on every row."""
    where: list[str] = []
    params: list[datetime] = []
    for (name, bound), condition in zip((("end", end), ("start", start)), conditions, strict=True):
        if bound is not None:
            params.append(bound)
            where.append(condition.replace(f"${name}", f"${len(params)}::timestamptz"))
    text = sql.replace("{range}", "".join(f"\n  AND {condition}" for condition in where))
    return text, params or None


def _ids_as_text(table: pa.Table, url: str) -> pa.Table:
    """``table`` with its ``user_id`` and ``org`` as Coder writes uuids: lower-case, hyphenated.

    The driver gives a uuid as its 16 bytes: an ``arrow.uuid`` column, or an
    opaque or binary one in older releases. Each distinct id is written once.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    for name in ("user_id", "org"):
        column = table.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            continue
        values = column.combine_chunks()
        if isinstance(values, pa.ExtensionArray):
            values = values.storage
        encoded = pc.dictionary_encode(values)
        try:
            texts = [
                None if raw is None else str(uuid.UUID(bytes=raw))
                for raw in encoded.dictionary.to_pylist()
            ]
        except (TypeError, ValueError):
            raise DataError(
                "{coder}: the database at {url} gave a {name} that is not a uuid ({type}); "
                "point {coder} at the database coderd uses",
                params=("coder",),
                url=redact(url),
                name=name,
                type=column.type,
            ) from None
        # A dictionary column: DuckDB reads it as text, and no id is copied per row.
        text = pa.DictionaryArray.from_arrays(encoded.indices, pa.array(texts, pa.string()))
        table = table.set_column(table.schema.get_field_index(name), name, text)
    return table


def _instant(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


def _check_tables(cur: Any, url: str) -> None:
    """Refuse a database without Coder's tables, or a role that may not read them."""
    listed = ", ".join(f"('{table}')" for table in TABLES)
    # From the catalog, not information_schema: it lists only tables the role may use. A
    # table in a schema the role may not use is not found on its path: its schema is named.
    cur.execute(
        f"""SELECT name, to_regclass(name) IS NOT NULL,
                   coalesce(has_table_privilege(to_regclass(name), 'SELECT'), false),
                   (SELECT min(quote_ident(n.nspname)) FROM pg_class c
                    JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relname = name AND NOT has_schema_privilege(n.oid, 'USAGE')),
                   quote_ident(current_user)
            FROM (VALUES {listed}) AS tables (name)"""
    )
    rows = cur.fetchall()
    role = rows[0][4]
    hidden = sorted({schema for _, present, _, schema, _ in rows if not present and schema})
    if hidden:
        raise DataError(
            "{coder}: the role {role} may not use the schema {schemas} of Coder's tables in the "
            "database at {url}; grant it: GRANT USAGE ON SCHEMA {schemas} TO {role}",
            params=("coder",),
            role=role,
            schemas=", ".join(hidden),
            url=redact(url),
        )
    missing = [name for name, present, _, _, _ in rows if not present]
    if missing:
        raise DataError(
            "{coder}: the database at {url} is not Coder's: it has no table {missing}; "
            "point {coder} at the database coderd uses",
            params=("coder",),
            url=redact(url),
            missing=", ".join(missing),
        )
    unreadable = [name for name, _, readable, _, _ in rows if not readable]
    if unreadable:
        raise DataError(
            "{coder}: the role {role} may not read {tables} in the database at {url}; "
            "grant it: GRANT SELECT ON {tables} TO {role}",
            params=("coder",),
            role=role,
            tables=", ".join(unreadable),
            url=redact(url),
        )


def ide_globs(patterns: Sequence[str]) -> list[str]:
    """The IDE patterns, lower-cased for a case-insensitive GLOB."""
    return [p.strip().lower() for p in patterns if p.strip()]


#: SQL: the registered sessions and logins as spans of minutes (``$ide``: the IDE globs,
#: ``$now``: the moment of reading, in microseconds): a session covers every minute
#: it overlaps, a zero-length one or a login the minute it falls in.
_SPANS_SQL = f"""
    WITH sessions AS (
        SELECT user_id, org,
               CASE WHEN kind IN {TUNNEL_TYPES} THEN 'tunnel' ELSE kind END AS category,
               epoch_us(started) AS s_us,
               coalesce(epoch_us(ended), least(epoch_us(started) + {OPEN_SESSION_US}, $now))
                   AS e_us
        FROM coder_connections
        WHERE kind NOT IN {SKIPPED_TYPES}
        UNION ALL
        SELECT user_id, org,
               CASE
                 WHEN access_method = 'terminal' THEN 'web_terminal'
                 WHEN regexp_full_match(slug_or_port, '[0-9]+') THEN 'app'
                 WHEN len(list_filter($ide, lambda p: lower(slug_or_port) GLOB p
                      OR lower(coalesce(display_name, '')) GLOB p)) > 0 THEN 'ide'
                 ELSE 'app'
               END,
               epoch_us(started), epoch_us(ended)
        FROM coder_app_stats
        UNION ALL
        SELECT user_id, org, 'login', epoch_us(started), epoch_us(started)
        FROM coder_logins
    )
    SELECT user_id, org, category,
           CAST(floor(s_us / {MINUTE_US}.0) AS BIGINT) AS first_m,
           CASE WHEN e_us > s_us THEN CAST(floor((e_us - 1) / {MINUTE_US}.0) AS BIGINT)
                ELSE CAST(floor(s_us / {MINUTE_US}.0) AS BIGINT) END AS last_m
    FROM sessions
"""


def runs(
    con: duckdb.DuckDBPyConnection, now: datetime, ide_apps: Sequence[str] = DEFAULT_IDE_APPS
) -> pa.Table:
    """The runs of active minutes of the registered ``coder_connections``,
    ``coder_app_stats`` and ``coder_logins`` (read at ``now``).

    One row per maximal run of contiguous minutes of a user in a category and
    an organization: ``user_id``, ``org``, ``category``, ``first_m`` and
    ``last_m`` (its first and last minute, counted from the epoch). Runs of the
    same user, category and organization neither overlap nor touch.
    """
    from . import minute_spans

    spans = con.sql(
        _SPANS_SQL, params={"ide": ide_globs(ide_apps), "now": _micros(now)}
    ).to_arrow_table()
    return minute_spans.merge(spans)


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def events_sql(with_ids: bool = False) -> str:
    """The per-minute events of the registered runs ``coder_runs`` (:func:`register`).

    Columns as in an event file: ``time``, ``end_time``, ``user_id``, ``category``,
    ``organization_id``. No ``id``: a minute is known by those columns, so a minute
    read twice is one event. ``with_ids``: an ``id`` too (``coder:category:user:org:minute``),
    as an earlier release stored them.
    """
    ident = (
        f"""'{ID_PREFIX}' || category || ':' || user_id || ':' || coalesce(org, '')
                   || ':' || CAST(m AS VARCHAR) AS id, """
        if with_ids
        else ""
    )
    return f"""
        WITH minutes AS (
            SELECT user_id, org, category, unnest(range(first_m, last_m + 1)) AS m
            FROM coder_runs
        )
        SELECT {ident}make_timestamptz(m * {MINUTE_US}) AS time,
               make_timestamptz((m + 1) * {MINUTE_US}) AS end_time,
               user_id, category, org AS organization_id
        FROM minutes
    """


def register(
    con: duckdb.DuckDBPyConnection, data: CoderRead, ide_apps: Sequence[str] = DEFAULT_IDE_APPS
) -> list[str]:
    """Register the tables of ``data`` on ``con`` under the names the SQL here reads, and
    their runs of minutes (:func:`runs`) as ``coder_runs``; returns those names, to
    unregister."""
    names = {
        "coder_connections": data.connections,
        "coder_app_stats": data.app_stats,
        "coder_logins": data.logins,
        "coder_users": data.users,
        "coder_orgs": data.orgs,
    }
    for name, table in names.items():
        con.register(name, table)
    con.register("coder_runs", runs(con, data.now, ide_apps))
    return [*names, "coder_runs"]


def store_runs_sql() -> str:
    """The registered runs (:func:`register`) as a store takes them (``Store.ingest_runs``):
    ``ts`` and ``end_us`` (the first minute's start, the last one's end, in
    microseconds), ``user_id``, ``category``, ``org``."""
    return f"""SELECT first_m * {MINUTE_US} AS ts, (last_m + 1) * {MINUTE_US} AS end_us,
                      user_id, category, org
               FROM coder_runs"""


def write_directories(con: duckdb.DuckDBPyConnection, users_path: str, orgs_path: str) -> None:
    """The registered users and organizations (:func:`register`) as directory files."""
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE coder_directory AS "
            "SELECT id, nullif(name, '') AS name, username, nullif(email, '') AS email, roles "
            "FROM coder_users ORDER BY id"
        )
        con.table("coder_directory").write_parquet(users_path)
        con.sql("SELECT id, name FROM coder_orgs ORDER BY id").write_parquet(orgs_path)
    finally:
        con.execute("DROP TABLE IF EXISTS coder_directory")


def write_events(
    con: duckdb.DuckDBPyConnection,
    data: CoderRead,
    events_path: str,
    users_path: str,
    orgs_path: str,
    ide_apps: Sequence[str] = DEFAULT_IDE_APPS,
    with_ids: bool = False,
) -> None:
    """The events of ``data`` as a Parquet event file, its users and its organizations
    as directory files."""
    names = register(con, data, ide_apps)
    try:
        events = con.sql(events_sql(with_ids))
        events.write_parquet(events_path)
        write_directories(con, users_path, orgs_path)
    finally:
        for name in names:
            con.unregister(name)
