"""A throwaway PostgreSQL holding the part of Coder's schema the ``--coder`` source reads.

The tables, columns, types and enums follow ``coderd/database/dump.sql`` of
github.com/coder/coder at commit 0001d5018f9992a7cbef90ef49f2fa4a5ba79274
(``workspace_app_stats`` as its migration creates it). Only the columns the
source reads are created, with every other NOT NULL column the rows need.

The cluster is initialised and run as the ``postgres`` OS user (PostgreSQL
refuses to run as root), on a free loopback port, its socket in a temporary
directory; clients log in as a role with a password. It is stopped and removed
when the test session ends. Without the PostgreSQL binaries the fixture fails:
.ci/run installs Debian's ``postgresql`` package.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

#: The commit of github.com/coder/coder whose coderd/database/dump.sql the schema follows.
CODER_COMMIT = "0001d5018f9992a7cbef90ef49f2fa4a5ba79274"

ROLE = "coder"
PASSWORD = "s3cret-Pa55"  # noqa: S105 - a throwaway cluster's
DATABASE = "coder"

SCHEMA = """
CREATE TYPE connection_type AS ENUM (
    'ssh', 'vscode', 'jetbrains', 'reconnecting_pty', 'workspace_app', 'port_forwarding'
);
CREATE TYPE audit_action AS ENUM (
    'create', 'write', 'delete', 'start', 'stop', 'login', 'logout', 'register',
    'request_password_reset', 'connect', 'disconnect', 'open', 'close'
);
CREATE TYPE resource_type AS ENUM (
    'organization', 'template', 'template_version', 'user', 'workspace', 'git_ssh_key',
    'api_key', 'group', 'workspace_build', 'license', 'workspace_proxy', 'convert_login',
    'health_settings', 'oauth2_provider_app', 'oauth2_provider_app_secret', 'custom_role',
    'organization_member', 'notifications_settings', 'notification_template',
    'idp_sync_settings_organization', 'idp_sync_settings_group', 'idp_sync_settings_role',
    'workspace_agent', 'workspace_app', 'prebuilds_settings', 'task', 'ai_seat', 'chat'
);
CREATE TYPE user_status AS ENUM ('active', 'suspended', 'dormant');
CREATE TYPE login_type AS ENUM (
    'password', 'github', 'oidc', 'token', 'none', 'oauth2_provider_app'
);

CREATE TABLE organizations (
    id uuid NOT NULL PRIMARY KEY,
    name text NOT NULL,
    description text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    is_default boolean DEFAULT false NOT NULL,
    display_name text NOT NULL,
    deleted boolean DEFAULT false NOT NULL
);
CREATE TABLE users (
    id uuid NOT NULL PRIMARY KEY,
    email text NOT NULL,
    username text DEFAULT ''::text NOT NULL,
    hashed_password bytea NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    status user_status DEFAULT 'dormant'::user_status NOT NULL,
    rbac_roles text[] DEFAULT '{}'::text[] NOT NULL,
    login_type login_type DEFAULT 'password'::login_type NOT NULL,
    deleted boolean DEFAULT false NOT NULL,
    name text DEFAULT ''::text NOT NULL,
    is_system boolean DEFAULT false NOT NULL,
    is_service_account boolean DEFAULT false NOT NULL
);
CREATE TABLE organization_members (
    user_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    roles text[] DEFAULT '{}'::text[] NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE TABLE workspaces (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    owner_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    template_id uuid NOT NULL,
    deleted boolean DEFAULT false NOT NULL,
    name character varying(64) NOT NULL
);
CREATE TABLE workspace_apps (
    id uuid NOT NULL PRIMARY KEY,
    created_at timestamp with time zone NOT NULL,
    agent_id uuid NOT NULL,
    display_name character varying(64) NOT NULL,
    icon character varying(256) NOT NULL,
    subdomain boolean DEFAULT false NOT NULL,
    slug text NOT NULL
);
CREATE TABLE workspace_app_stats (
    id bigserial NOT NULL PRIMARY KEY,
    user_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    agent_id uuid NOT NULL,
    access_method text NOT NULL,
    slug_or_port text NOT NULL,
    session_id uuid NOT NULL,
    session_started_at timestamp with time zone NOT NULL,
    session_ended_at timestamp with time zone NOT NULL,
    requests integer NOT NULL,
    UNIQUE (user_id, agent_id, session_id)
);
CREATE TABLE connection_logs (
    id uuid NOT NULL PRIMARY KEY,
    connect_time timestamp with time zone NOT NULL,
    organization_id uuid NOT NULL,
    workspace_owner_id uuid NOT NULL,
    workspace_id uuid NOT NULL,
    workspace_name text NOT NULL,
    agent_name text NOT NULL,
    type connection_type NOT NULL,
    ip inet,
    code integer,
    user_agent text,
    user_id uuid,
    slug_or_port text,
    connection_id uuid,
    disconnect_time timestamp with time zone,
    disconnect_reason text
);
CREATE TABLE audit_logs (
    id uuid NOT NULL PRIMARY KEY,
    "time" timestamp with time zone NOT NULL,
    user_id uuid NOT NULL,
    organization_id uuid NOT NULL,
    ip inet,
    user_agent character varying(256),
    resource_type resource_type NOT NULL,
    resource_id uuid NOT NULL,
    resource_target text NOT NULL,
    action audit_action NOT NULL,
    diff jsonb NOT NULL,
    status_code integer NOT NULL,
    additional_fields jsonb NOT NULL,
    request_id uuid NOT NULL,
    resource_icon text NOT NULL
);
"""


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb. "
            "Install Debian's postgresql package (apt-get install postgresql); "
            ".ci/run does this on a clean machine.",
            pytrace=False,
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(bin_dir: Path, data: Path, sockets: Path, log: Path) -> int:
    """Start the cluster on a free port; the port it was started on.

    A port probed free can be taken by another test's server before PostgreSQL
    binds it: then a new one is tried.
    """
    for _ in range(5):
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={sockets} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=20"
        )
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log)]
        if _as_postgres(*pg_ctl, "-w", "start", check=False):
            return port
        if "could not bind" not in log.read_text():
            break
    pytest.fail(f"pg_ctl start failed: {log.read_text()[-2000:]}", pytrace=False)


def _as_postgres(*args: str, check: bool = True) -> bool:
    """Run a PostgreSQL program as the postgres OS user (as root), else as ourselves."""
    command = list(args)
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 and check:
        pytest.fail(
            f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}",
            pytrace=False,
        )
    return done.returncode == 0


@dataclass
class CoderDB:
    """A running cluster with Coder's tables; rows are added with :meth:`execute`."""

    port: int
    socket_dir: str
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"postgresql://{ROLE}:{PASSWORD}@{self.host}:{self.port}/{DATABASE}"

    def url_without_password(self) -> str:
        return f"postgresql://{ROLE}@{self.host}:{self.port}/{DATABASE}"

    def connect(self, database: str = DATABASE) -> Any:
        from adbc_driver_postgresql import dbapi

        return dbapi.connect(
            f"postgresql://{ROLE}:{PASSWORD}@{self.host}:{self.port}/{database}",
            autocommit=True,
        )

    def execute(self, sql: str, database: str = DATABASE) -> None:
        with self.connect(database) as con, con.cursor() as cur:
            for statement in sql.split(";\n"):
                if statement.strip():
                    cur.execute(statement)

    def reset(self) -> None:
        """Drop and recreate the schema: an empty Coder database."""
        self.execute("DROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n" + SCHEMA)


@contextlib.contextmanager
def running_cluster() -> Iterator[CoderDB]:
    bin_dir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="coder-pg-"))
    data, sockets = root / "data", root / "sock"
    data.mkdir()
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(data, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, "postgres", "postgres")
    _as_postgres(
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        ROLE,
        "--pwfile",
        str(pwfile),
        "--auth=scram-sha-256",
        "-E",
        "UTF8",
        "--locale=C",
    )
    port = _start(bin_dir, data, sockets, root / "log")
    try:
        db = CoderDB(port=port, socket_dir=str(sockets))
        db.execute(f"CREATE DATABASE {DATABASE}", database="postgres")
        db.execute("CREATE DATABASE notcoder", database="postgres")
        db.execute(SCHEMA)
        yield db
    finally:
        _as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


# ----------------------------------------------------------------- generated activity


def _uuid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def _lit(value: Any) -> str:
    """A SQL literal of the fixture's own values (no user input reaches here)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return "'" + value.astimezone(UTC).isoformat() + "'"
    if isinstance(value, list | tuple):
        return "ARRAY[" + ",".join(_lit(v) for v in value) + "]::text[]"
    return "'" + str(value).replace("'", "''") + "'"


def _insert(table: str, rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return ""
    columns = list(rows[0])
    values = ",\n".join("(" + ",".join(_lit(r[c]) for c in columns) + ")" for r in rows)
    names = ",".join(f'"{c}"' for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES\n{values};\n"


@dataclass
class Activity:
    """Generated Coder activity; :meth:`sql` inserts it."""

    orgs: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)
    workspaces: list[dict[str, Any]] = field(default_factory=list)
    apps: list[dict[str, Any]] = field(default_factory=list)
    app_stats: list[dict[str, Any]] = field(default_factory=list)
    connections: list[dict[str, Any]] = field(default_factory=list)
    audits: list[dict[str, Any]] = field(default_factory=list)

    def sql(self) -> str:
        return "".join(
            _insert(table, rows)
            for table, rows in (
                ("organizations", self.orgs),
                ("users", self.users),
                ("organization_members", self.members),
                ("workspaces", self.workspaces),
                ("workspace_apps", self.apps),
                ("workspace_app_stats", self.app_stats),
                ("connection_logs", self.connections),
                ("audit_logs", self.audits),
            )
        )


#: Zones whose users work local hours: the sessions cross their DST changes.
ZONES = ("America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata")
#: Days around the 2024 DST changes of those zones (and a quiet day in between).
DAYS = ("2024-03-09", "2024-03-10", "2024-03-31", "2024-04-07", "2024-10-27", "2024-11-03")

_T0 = datetime(2023, 1, 1, tzinfo=UTC)


def generate(seed: int = 7) -> Activity:
    """Two organizations, users in four zones, every kind of row the source reads or skips."""
    import random

    rnd = random.Random(seed)
    act = Activity()
    org_ids = [_uuid("org-a"), _uuid("org-b")]
    for i, oid in enumerate(org_ids):
        act.orgs.append(
            {
                "id": oid,
                "name": f"org-{'ab'[i]}",
                "description": "",
                "created_at": _T0,
                "updated_at": _T0,
                "is_default": i == 0,
                "display_name": f"Org {'AB'[i]}",
            }
        )
    people = []
    for n in range(8):
        uid = _uuid(f"user-{n}")
        people.append((uid, ZONES[n % len(ZONES)]))
        act.users.append(_user(uid, f"user{n}", status="suspended" if n == 5 else "active"))
        orgs = org_ids if n % 3 == 0 else [org_ids[n % 2]]
        for oid in orgs:
            act.members.append(_member(uid, oid, ["organization-member"]))
    # Users whose activity never counts: Coder's own system user and a service account.
    system, robot = _uuid("system"), _uuid("robot")
    act.users.append(_user(system, "prebuilds", is_system=True))
    act.users.append(_user(robot, "ci-bot", service=True))
    act.members.append(_member(system, org_ids[0], []))
    act.members.append(_member(robot, org_ids[0], []))
    people_all = [*people, (system, ZONES[0]), (robot, ZONES[1])]

    for n, (uid, _zone) in enumerate(people_all):
        oid = org_ids[n % 2]
        wid, agent = _uuid(f"ws-{n}"), _uuid(f"agent-{n}")
        act.workspaces.append(
            {
                "id": wid,
                "created_at": _T0,
                "updated_at": _T0,
                "owner_id": uid,
                "organization_id": oid,
                "template_id": _uuid("template"),
                "name": f"ws{n}",
            }
        )
        for slug, display in (
            ("code-server", "code-server"),
            ("vscode", "VS Code Web" if n % 2 else "vscode-web"),
            ("jupyter", "JupyterLab"),
            ("grafana", "Grafana"),
            ("notebook", "Jupyter Notebook"),
        ):
            act.apps.append(
                {
                    "id": _uuid(f"app-{n}-{slug}"),
                    "created_at": _T0,
                    "agent_id": agent,
                    "display_name": display,
                    "icon": "",
                    "subdomain": slug == "grafana",
                    "slug": slug,
                }
            )
        zone = ZoneInfo(_zone)
        for d, day in enumerate(DAYS):
            # Local working hours: 09:00 local, across the zone's DST change.
            local = datetime.fromisoformat(day).replace(hour=9, tzinfo=zone)
            base = local + timedelta(minutes=rnd.randrange(0, 90))
            kinds = ("ssh", "vscode", "jetbrains", "reconnecting_pty", "workspace_app")
            for k in range(3):
                kind = kinds[(n + d + k) % len(kinds)]
                start = base + timedelta(minutes=rnd.randrange(0, 600), seconds=rnd.randrange(60))
                length = timedelta(seconds=rnd.choice((0, 30, 59, 61, 1800, 5400, 4 * 3600)))
                act.connections.append(
                    _connection(f"{n}-{d}-{k}", uid, oid, wid, kind, start, start + length)
                )
            for k, (method, slug) in enumerate(
                (
                    ("terminal", ""),
                    ("path", "code-server"),
                    ("subdomain", "vscode"),
                    ("path", "jupyter"),
                    ("subdomain", "grafana"),
                    ("subdomain", "8080"),
                    ("path", "notebook"),
                    ("path", "removed-app"),
                )
            ):
                if rnd.random() < 0.35:
                    continue
                start = base + timedelta(minutes=rnd.randrange(0, 600), seconds=rnd.randrange(60))
                length = timedelta(seconds=rnd.choice((0, 45, 120, 3600, 7200)))
                act.app_stats.append(
                    _app_stat(f"{n}-{d}-{k}", uid, wid, agent, method, slug, start, start + length)
                )
            login = base - timedelta(minutes=5, seconds=rnd.randrange(60))
            act.audits.append(_audit(f"{n}-{d}-in", uid, org_ids[0], "login", 200, login))
            act.audits.append(
                _audit(f"{n}-{d}-bad", uid, org_ids[0], "login", 401, login - timedelta(minutes=2))
            )
            act.audits.append(
                _audit(f"{n}-{d}-out", uid, org_ids[0], "logout", 200, login + timedelta(hours=8))
            )
    # A session never closed, long ago: it counts for 12 hours after it opened.
    uid0 = people[0][0]
    act.connections.append(
        _connection(
            "open-old",
            uid0,
            org_ids[0],
            _uuid("ws-0"),
            "ssh",
            datetime(2024, 3, 31, 22, 0, 30, tzinfo=UTC),
            None,
        )
    )
    # A terminal session in a workspace whose row is gone: counted, without an organization.
    start = datetime(2024, 3, 10, 14, 0, 10, tzinfo=UTC)
    act.app_stats.append(
        _app_stat(
            "gone", people[2][0], _uuid("ws-gone"), _uuid("agent-gone"), "terminal", "",
            start, start + timedelta(minutes=7),
        )
    )  # fmt: skip
    # A registration, the first day.
    act.audits.append(
        _audit(
            "reg",
            people[1][0],
            org_ids[1],
            "register",
            201,
            datetime(2024, 3, 9, 8, 0, 5, tzinfo=UTC),
        )
    )
    return act


def _user(
    uid: str,
    username: str,
    *,
    status: str = "active",
    is_system: bool = False,
    service: bool = False,
) -> dict[str, Any]:
    return {
        "id": uid,
        "email": "" if service else f"{username}@example.com",
        "username": username,
        "hashed_password": "\\x00",
        "created_at": _T0,
        "updated_at": _T0,
        "status": status,
        "rbac_roles": ["owner"] if username == "user0" else [],
        "login_type": "none" if service else "password",
        "name": username.capitalize(),
        "is_system": is_system,
        "is_service_account": service,
    }


def _member(uid: str, oid: str, roles: list[str]) -> dict[str, Any]:
    return {
        "user_id": uid,
        "organization_id": oid,
        "created_at": _T0,
        "updated_at": _T0,
        "roles": roles,
    }


def _connection(
    key: str,
    uid: str,
    oid: str,
    wid: str,
    kind: str,
    start: datetime,
    end: datetime | None,
) -> dict[str, Any]:
    web = kind in ("workspace_app", "port_forwarding")
    return {
        "id": _uuid(f"conn-{key}"),
        "connect_time": start,
        "organization_id": oid,
        "workspace_owner_id": uid,
        "workspace_id": wid,
        "workspace_name": "ws",
        "agent_name": "main",
        "type": kind,
        "user_id": uid if web else None,
        "slug_or_port": "code-server" if web else None,
        "connection_id": None if web else _uuid(f"cid-{key}"),
        "disconnect_time": end,
    }


def _app_stat(
    key: str,
    uid: str,
    wid: str,
    agent: str,
    method: str,
    slug: str,
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    return {
        "user_id": uid,
        "workspace_id": wid,
        "agent_id": agent,
        "access_method": method,
        "slug_or_port": slug,
        "session_id": _uuid(f"sess-{key}"),
        "session_started_at": start,
        "session_ended_at": end,
        "requests": 3,
    }


def _audit(key: str, uid: str, oid: str, action: str, status: int, at: datetime) -> dict[str, Any]:
    return {
        "id": _uuid(f"audit-{key}"),
        "time": at,
        "user_id": uid,
        "organization_id": oid,
        "resource_type": "user",
        "resource_id": uid,
        "resource_target": "",
        "action": action,
        "diff": "{}",
        "status_code": status,
        "additional_fields": "{}",
        "request_id": _uuid(f"req-{key}"),
        "resource_icon": "",
    }
