"""``--coder`` and ``ingest --coder``: Coder's PostgreSQL (a real one, see coder_db.py) as a source.

The expected events are computed here, in plain Python, from the generated
rows and the mapping docs/coder.md states; they are written as a CSV event
file, and every report from the database (and from a store it was ingested
into) must equal the report from that file, byte for byte.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from activity_report.sources.coder import DEFAULT_IDE_APPS

from .coder_db import PASSWORD, SCHEMA, Activity, CoderDB, _connection, _uuid, generate
from .conftest import run_cli
from .view_store import signed_in_page

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = 60_000_000
TUNNEL = {"ssh", "vscode", "jetbrains"}
SKIPPED = {"reconnecting_pty", "workspace_app", "port_forwarding"}

CATEGORIES = ("any", "ide", "login", "app", "tunnel", "web_terminal")
#: (interval, zone): the zones whose DST changes the generated days cross.
INTERVALS = (
    ("1 day", "America/New_York"),
    ("1 week", "Europe/Berlin"),
    ("1 month", "Australia/Sydney"),
)


def _us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _minutes(start: datetime, end: datetime) -> range:
    s, e = _us(start), max(_us(end), _us(start))
    first = s // MINUTE
    last = (e - 1) // MINUTE if e > s else first
    return range(first, last + 1)


def expected_events(
    act: Activity, now: datetime, ide: tuple[str, ...] = DEFAULT_IDE_APPS
) -> set[tuple[str, str, str | None, int]]:
    """(user, category, org, minute) of every event the mapping makes of ``act``."""
    counted = {u["id"] for u in act.users if not u["is_system"] and not u["is_service_account"]}
    org_of_ws = {w["id"]: w["organization_id"] for w in act.workspaces}
    apps = {(a["agent_id"], a["slug"]): a["display_name"] for a in act.apps}
    out: set[tuple[str, str, str | None, int]] = set()
    for c in act.connections:
        if c["workspace_owner_id"] not in counted or c["type"] in SKIPPED:
            continue
        end = c["disconnect_time"] or min(c["connect_time"] + timedelta(hours=12), now)
        category = "tunnel" if c["type"] in TUNNEL else c["type"]
        for m in _minutes(c["connect_time"], end):
            out.add((c["workspace_owner_id"], category, c["organization_id"], m))
    for s in act.app_stats:
        if s["user_id"] not in counted:
            continue
        slug = s["slug_or_port"]
        display = apps.get((s["agent_id"], slug), "")
        if s["access_method"] == "terminal":
            category = "web_terminal"
        elif slug.isdigit():
            category = "app"
        elif any(fnmatch.fnmatchcase(v.lower(), p) for p in ide for v in (slug, display)):
            category = "ide"
        else:
            category = "app"
        for m in _minutes(s["session_started_at"], s["session_ended_at"]):
            out.add((s["user_id"], category, org_of_ws.get(s["workspace_id"]), m))
    orgs_of: dict[str, list[str]] = {}
    for member in act.members:
        orgs_of.setdefault(member["user_id"], []).append(member["organization_id"])
    for a in act.audits:
        if (
            a["user_id"] in counted
            and a["action"] in ("login", "register")
            and a["status_code"] < 400
        ):
            for org in orgs_of.get(a["user_id"], [None]):
                out.add((a["user_id"], "login", org, _us(a["time"]) // MINUTE))
    return out


def write_expected(
    tmp: Path, act: Activity, now: datetime, ide: tuple[str, ...] = DEFAULT_IDE_APPS
) -> tuple[Path, Path, Path]:
    """The expected events (web IDEs: ``ide``) as a CSV event file, the users' file and the
    organizations' file (named by their display names)."""
    events = tmp / "expected.csv"
    with events.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "time", "end_time", "user_id", "category", "organization_id"])
        for user, category, org, m in sorted(
            expected_events(act, now, ide), key=lambda e: (e[3], e)
        ):
            at = EPOCH + timedelta(microseconds=m * MINUTE)
            writer.writerow(
                [
                    f"e{user}{category}{org}{m}",
                    at.isoformat(),
                    (at + timedelta(minutes=1)).isoformat(),
                    user,
                    category,
                    org or "",
                ]
            )
    users = tmp / "expected-users.csv"
    roles_of: dict[str, list[str]] = {}
    for member in act.members:
        roles_of.setdefault(member["user_id"], []).extend(member["roles"])
    with users.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "username", "email", "roles"])
        for u in act.users:
            if not u["is_system"] and not u["is_service_account"]:
                roles = list(u["rbac_roles"]) + sorted(set(roles_of.get(u["id"], [])))
                writer.writerow([u["id"], u["name"], u["username"], u["email"], ",".join(roles)])
    orgs = tmp / "expected-orgs.csv"
    with orgs.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name"])
        for o in act.orgs:
            writer.writerow([o["id"], o["display_name"] or o["name"]])
    return events, users, orgs


@pytest.fixture
def loaded(coder_db: CoderDB) -> Iterator[tuple[CoderDB, Activity]]:
    coder_db.reset()
    act = generate()
    coder_db.execute(act.sql())
    yield coder_db, act


def _report(*args: str) -> str:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_every_category_interval_and_org_equals_the_same_events_as_a_file(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    """One read of the database, one of the file; every report of each compared.

    (The command line's --coder is compared byte for byte by the tests below.)
    """
    from activity_report import reporting
    from activity_report.backends.duckdb import open_files
    from activity_report.coder import open_coder
    from activity_report.query import parse_query

    db, act = loaded
    now = datetime.now(UTC)
    events, users, org_names = write_expected(tmp_path, act, now)
    orgs = [None, _uuid("org-a"), _uuid("org-b")]
    compared = 0
    with (
        open_coder(db.url, now=now) as from_db,
        open_files([str(events)], users_file=str(users), orgs_file=str(org_names)) as from_file,
    ):

        def api(source: Any, **values: Any) -> dict[str, Any]:
            query = parse_query(values, now=now)
            result: dict[str, Any] = reporting.run(query, source).to_api()
            return result

        for category in CATEGORIES:
            for interval, tz in INTERVALS:
                for org in orgs:
                    values = {"category": category, "interval": interval, "tz": tz, "org": org}
                    assert api(from_db, **values) == api(from_file, **values), values
                    compared += 1
        # As on Coder's page, a user's count of a category in an organization is
        # their active minutes in it (a login counts in each organization of the user).
        for category in CATEGORIES[1:]:
            for org in orgs[1:]:
                report = api(from_db, category=category, interval="1 month", org=org)
                rows = [u for b in report["activity"] for u in b["user_activity"]]
                bad = [u for u in rows if u["count"] * 60 * 10**9 != u["duration"]]
                assert rows and not bad, (category, org, bad)
    assert compared == len(CATEGORIES) * len(INTERVALS) * len(orgs)


def test_the_command_line_reads_coder_as_the_file_byte_for_byte(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    db, act = loaded
    events, users, orgs = write_expected(tmp_path, act, datetime.now(UTC))
    for category, (interval, tz), org in (
        ("any", INTERVALS[0], None),
        ("login", INTERVALS[1], _uuid("org-b")),
        ("web_terminal", INTERVALS[2], _uuid("org-a")),
    ):
        options = ["--category", category, "--interval", interval, "--tz", tz]
        options += ["--org", org] if org else []
        for fmt in ("json", "csv", "table"):
            from_db = run_cli("--coder", db.url, *options, "--format", fmt, "--color", "never")
            from_file = run_cli(
                "--events", str(events), "--users", str(users), "--orgs", str(orgs), *options,
                "--format", fmt, "--color", "never",
            )  # fmt: skip
            assert from_db.exit_code == from_file.exit_code == 0, from_db.stderr
            assert from_db.stdout == from_file.stdout, (category, fmt)


@pytest.mark.parametrize(
    "start",
    # The session left open at 2024-03-31 22:00:30 counts until 10:00:30 the next day.
    ["2024-03-31T12:00:00Z", "2024-04-01T10:00:00Z", "2024-04-01T10:01:00Z"],
)
def test_a_range_is_read_from_the_database_only_where_sessions_overlap_it(
    loaded: tuple[CoderDB, Activity], tmp_path: Path, start: str
) -> None:
    db, act = loaded
    events, users, orgs = write_expected(tmp_path, act, datetime.now(UTC))
    options = ["--start", start, "--end", "2024-04-08", "--interval", "6 hours"]
    assert _report("--coder", db.url, *options) == _report(
        "--events", str(events), "--users", str(users), "--orgs", str(orgs), *options
    )


def test_the_python_api_reads_coder_as_the_command_line_does(
    loaded: tuple[CoderDB, Activity],
) -> None:
    import activity_report as ar

    db, _act = loaded
    made = ar.report(
        coder=db.url, ide_apps=["grafana"], category="ide", interval="1 week", tz="Asia/Kolkata"
    )
    cli = _report("--coder", db.url, "--ide-apps", "grafana", "--category", "ide",
                  "--interval", "1 week", "--tz", "Asia/Kolkata")  # fmt: skip
    assert json.loads(cli) == made.to_api()


def test_system_users_and_service_accounts_are_left_out(loaded: tuple[CoderDB, Activity]) -> None:
    db, _act = loaded
    report = json.loads(_report("--coder", db.url, "--interval", "1 year"))
    seen = {u["user_id"] for b in report["activity"] for u in b["user_activity"]}
    assert _uuid("system") not in seen and _uuid("robot") not in seen
    assert _uuid("user-5") in seen  # suspended, yet active in the range: kept
    assert report["users"][_uuid("user-0")]["username"] == "user0"


def test_an_open_session_counts_until_now_or_twelve_hours(coder_db: CoderDB) -> None:
    from activity_report.coder import exported

    coder_db.reset()
    act = generate()
    act.connections = []
    act.app_stats = []
    act.audits = []
    start = datetime(2024, 5, 1, 10, 0, 30, tzinfo=UTC)
    uid, oid = _uuid("user-1"), _uuid("org-b")
    act.connections.append(_connection("open", uid, oid, _uuid("ws-1"), "jetbrains", start, None))
    coder_db.execute(act.sql())
    import duckdb

    for now, minutes in ((start + timedelta(minutes=30), 31), (start + timedelta(hours=20), 721)):
        with exported(coder_db.url, now=now) as (events, _users, _orgs):
            rows = duckdb.execute(
                f"SELECT category, count(*) FROM read_parquet('{events}') GROUP BY 1"
            ).fetchall()
        assert rows == [("tunnel", minutes)]


def test_a_connection_type_coder_adds_later_is_an_unknown_category(coder_db: CoderDB) -> None:
    coder_db.reset()
    act = generate()
    coder_db.execute(act.sql())
    coder_db.execute("ALTER TYPE connection_type ADD VALUE 'sftp'")
    start = datetime(2024, 3, 10, 15, 0, tzinfo=UTC)
    row = _connection(
        "sftp",
        _uuid("user-2"),
        _uuid("org-a"),
        _uuid("ws-2"),
        "ssh",
        start,
        start + timedelta(minutes=3),
    )
    row["type"] = "sftp"
    coder_db.execute(Activity(connections=[row]).sql())
    result = run_cli("--coder", coder_db.url, "--interval", "1 month", "--json")
    assert result.exit_code == 0
    assert "sftp" in result.stderr and "unknown" in result.stderr


def test_ide_apps_decides_which_apps_are_ides(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    db, act = loaded
    ide = ("grafana", "code-server")
    events, users, _orgs = write_expected(tmp_path, act, datetime.now(UTC))
    custom = tmp_path / "custom"
    custom.mkdir()
    events2, users2, _orgs2 = write_expected(custom, act, datetime.now(UTC), ide)
    options = ["--category", "ide", "--interval", "1 month"]
    with_default = _report("--coder", db.url, *options)
    with_custom = _report("--coder", db.url, "--ide-apps", ",".join(ide), *options)
    assert with_default != with_custom
    assert with_custom == _report("--events", str(events2), "--users", str(users2), *options)
    assert with_default == _report("--events", str(events), "--users", str(users), *options)


def test_overlapping_nested_equal_and_touching_sessions_give_each_minute_once() -> None:
    """The source merges a user's sessions into runs before listing their minutes."""
    import duckdb
    import pyarrow as pa

    from activity_report.sources import coder as source

    at = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    spans = [  # (user, kind, start, end) in seconds from ``at``
        ("u1", "ssh", 0, 600),
        ("u1", "vscode", 300, 420),  # inside the first (the same category)
        ("u1", "ssh", 0, 600),  # equal to the first
        ("u1", "ssh", 600, 660),  # touches the first's end
        ("u1", "jetbrains", 590, 1300),  # overlaps the two before
        ("u1", "ssh", 3600, 3600),  # zero length
        ("u1", "ssh", 3630, 3631),  # the same minute
        ("u2", "ssh", 30, 90),  # another user
        ("u1", "sftp", 0, 120),  # another category
    ]
    connections = pa.table(
        {
            "user_id": [u for u, *_ in spans],
            "org": ["o1"] * len(spans),
            "kind": [k for _, k, *_ in spans],
            "started": [at + timedelta(seconds=s) for *_, s, _ in spans],
            "ended": [at + timedelta(seconds=e) for *_, e in spans],
        }
    )
    empty_apps = pa.table(
        {
            name: pa.array([], type=kind)
            for name, kind in (
                ("user_id", pa.string()),
                ("org", pa.string()),
                ("access_method", pa.string()),
                ("slug_or_port", pa.string()),
                ("display_name", pa.string()),
                ("started", pa.timestamp("us", tz="UTC")),
                ("ended", pa.timestamp("us", tz="UTC")),
            )
        }
    )
    empty_logins = empty_apps.select(["user_id", "org", "started"])
    expected: set[tuple[str, str, int]] = set()
    for user, kind, s, e in spans:
        category = "tunnel" if kind in TUNNEL else kind
        for m in _minutes(at + timedelta(seconds=s), at + timedelta(seconds=e)):
            expected.add((user, category, m))
    nobody = pa.table({"id": pa.array([], pa.string())})
    read = source.CoderRead(connections, empty_apps, empty_logins, nobody, nobody, at)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    source.register(con, read, ide_apps=[])
    rows = con.sql(source.events_sql()).fetchall()
    got = [(u, c, _us(t) // MINUTE) for t, _end, u, c, _org in rows]
    assert len(got) == len(set(got))  # no minute twice
    assert set(got) == expected


# --------------------------------------------------------------------------- ingest


def _store_report(db_path: Path, *options: str) -> str:
    return _report("--db", str(db_path), *options)


def test_ingests_add_up_to_the_database_byte_for_byte(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    db, act = loaded
    store = tmp_path / "store.duckdb"
    now = datetime.now(UTC).replace(microsecond=0)
    uid, oid = _uuid("user-3"), _uuid("org-b")
    opened = now - timedelta(hours=2, seconds=15)
    db.execute(
        Activity(
            connections=[_connection("live", uid, oid, _uuid("ws-3"), "ssh", opened, None)]
        ).sql()
    )

    first = run_cli("ingest", "--coder", db.url, "--db", str(store))
    assert first.exit_code == 0, first.stderr
    assert PASSWORD not in first.stdout + first.stderr
    again = run_cli("ingest", "--coder", db.url, "--db", str(store), "--json")
    assert again.exit_code == 0, again.stderr

    # The live session ends after the first ingest; new activity arrives.
    closed = datetime.now(UTC) + timedelta(minutes=40)
    db.execute(
        f"UPDATE connection_logs SET disconnect_time = '{closed.isoformat()}' "
        f"WHERE id = '{_uuid('conn-live')}'"
    )
    later = Activity()
    later.connections.append(
        _connection(
            "new",
            _uuid("user-4"),
            _uuid("org-a"),
            _uuid("ws-4"),
            "vscode",
            now - timedelta(minutes=50),
            now - timedelta(minutes=5),
        )
    )
    from .coder_db import _app_stat, _audit

    later.app_stats.append(
        _app_stat(
            "new",
            _uuid("user-6"),
            _uuid("ws-6"),
            _uuid("agent-6"),
            "path",
            "code-server",
            now - timedelta(hours=1),
            now - timedelta(minutes=1),
        )
    )
    later.audits.append(
        _audit("new", _uuid("user-0"), _uuid("org-a"), "login", 200, now - timedelta(minutes=3))
    )
    db.execute(later.sql())
    second = run_cli("ingest", "--coder", db.url, "--db", str(store))
    assert second.exit_code == 0, second.stderr

    for options in (
        ["--interval", "1 week", "--tz", "Europe/Berlin"],
        [
            "--category",
            "tunnel",
            "--interval",
            "1 day",
            "--start",
            "30 days ago",
            "--tz",
            "America/New_York",
        ],
        ["--category", "login", "--interval", "1 month", "--org", _uuid("org-a")],
        ["--category", "ide", "--interval", "1 week", "--org", _uuid("org-b")],
        ["--category", "web_terminal", "--interval", "1 month"],
        [
            "--category",
            "app",
            "--interval",
            "1 day",
            "--start",
            "2024-10-20",
            "--end",
            "2024-11-10",
        ],
    ):
        assert _store_report(store, *options) == _report("--coder", db.url, *options), options

    # The live session counts with its real end: from the minute it opened to the one it closed in.
    day = json.loads(
        _report(
            "--coder",
            db.url,
            "--category",
            "tunnel",
            "--user",
            uid,
            "--start",
            (opened - timedelta(days=1)).date().isoformat(),
            "--interval",
            "1 week",
        )
    )
    counted = sum(u["count"] for b in day["activity"] for u in b["user_activity"])
    assert counted == len(_minutes(opened, closed))


def test_sessions_that_overlap_extend_or_touch_stored_runs_count_once(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    """The store keeps runs of minutes: a later session over, past or next to a stored
    run, and a session stored open and closed since, merge with it into one run."""
    import duckdb

    db, _act = loaded
    store = tmp_path / "store.duckdb"
    now = datetime.now(UTC).replace(microsecond=0)
    uid, oid, wid = _uuid("user-2"), _uuid("org-a"), _uuid("ws-2")
    at = now.replace(second=25) - timedelta(hours=3)  # 25 s into its minute
    db.execute(
        Activity(
            connections=[
                _connection("run-a", uid, oid, wid, "ssh", at, at + timedelta(minutes=30)),
                _connection("run-open", uid, oid, wid, "vscode", at + timedelta(minutes=50), None),
            ]
        ).sql()
    )
    first = run_cli("ingest", "--coder", db.url, "--db", str(store), "--json")
    assert first.exit_code == 0, first.stderr
    closed = now + timedelta(minutes=10, seconds=10)  # after the first ingest read it open
    db.execute(
        f"UPDATE connection_logs SET disconnect_time = '{closed.isoformat()}' "
        f"WHERE id = '{_uuid('conn-run-open')}'"
    )
    db.execute(
        Activity(
            connections=[  # over the stored run and past it; then from the next minute on
                _connection("run-b", uid, oid, wid, "jetbrains", at + timedelta(minutes=20),
                            at + timedelta(minutes=41)),
                _connection("run-c", uid, oid, wid, "ssh", at + timedelta(minutes=41, seconds=35),
                            at + timedelta(minutes=44)),
            ]
        ).sql()
    )  # fmt: skip
    second = run_cli("ingest", "--coder", db.url, "--db", str(store), "--json")
    assert second.exit_code == 0, second.stderr
    for options in (
        ["--category", "tunnel", "--interval", "1 hour", "--start", "2 days ago"],
        ["--category", "tunnel", "--interval", "7 minutes", "--start", (at - timedelta(seconds=7))
         .isoformat(), "--end", (closed + timedelta(minutes=3)).isoformat(), "--user", uid],
        ["--interval", "1 day", "--tz", "Europe/Berlin"],
    ):  # fmt: skip
        assert _store_report(store, *options) == _report("--coder", db.url, *options), options
    with duckdb.connect(str(store), read_only=True) as con:
        runs = con.execute(
            "SELECT ts, end_us FROM minute_runs WHERE user_id = $u AND category = 'tunnel' "
            "AND ts >= $lo ORDER BY ts",
            {"u": uid, "lo": _us(at) - MINUTE},
        ).fetchall()
    first_m = _us(at) // MINUTE
    assert runs == [
        (first_m * MINUTE, (first_m + 45) * MINUTE),  # 0:00 to 0:44's end: one run
        # To its real end: the end of the minute it closed in (the one before, when it
        # closed on a minute's edge, as `now` + 10 min 10 s does one time in 60).
        ((first_m + 50) * MINUTE, -(-_us(closed) // MINUTE) * MINUTE),
    ]


def test_minutes_stored_with_ids_are_not_counted_twice_by_the_next_ingest(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    """A store whose Coder minutes carry ids (as an earlier build ingested them) is read
    again with ids; a store without them, without: either way each minute counts once."""
    from activity_report.coder import exported
    from activity_report.store import Store

    db, _act = loaded
    now = datetime.now(UTC).replace(microsecond=0)
    uid, oid = _uuid("user-3"), _uuid("org-b")
    # Still open, and counted until twelve hours after it opened: ten minutes ago.
    # So the ingest and the report below, a few seconds apart, read the same
    # minutes (a session counted until the moment of reading would gain one
    # whenever a minute began between them).
    opened = now - timedelta(hours=12, minutes=10)
    db.execute(
        Activity(
            connections=[_connection("live", uid, oid, _uuid("ws-3"), "ssh", opened, None)]
        ).sql()
    )
    with_ids, without = tmp_path / "ids.duckdb", tmp_path / "plain.duckdb"
    for store_path, ids in ((with_ids, True), (without, False)):
        # Read half an hour ago: the live session has minutes since.
        with exported(db.url, now=now - timedelta(minutes=30), with_ids=ids) as (
            events,
            _users,
            _orgs,
        ):
            with Store.open(store_path) as store:
                assert store.ingest([events]).new > 0
                view = store.events_view()
                kinds = store.con.execute(
                    f"SELECT DISTINCT event_id IS NULL FROM {view}"
                ).fetchall()
        assert kinds == [(not ids,)]
        again = run_cli("ingest", "--coder", db.url, "--db", str(store_path), "--json")
        assert again.exit_code == 0, again.stderr
        assert json.loads(again.stdout)["new"] > 0  # the live session's minutes since
        options = ["--category", "tunnel", "--interval", "1 month", "--start", "2024-01-01"]
        assert _store_report(store_path, *options) == _report("--coder", db.url, *options)


def test_ingest_copies_the_users_and_takes_the_ide_apps(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    db, _act = loaded
    store = tmp_path / "store.duckdb"
    ingested = run_cli("ingest", "--coder", db.url, "--ide-apps", "grafana", "--db", str(store))
    assert ingested.exit_code == 0, ingested.stderr
    options = ["--category", "ide", "--interval", "1 month"]
    assert _store_report(store, *options) == _report(
        "--coder", db.url, "--ide-apps", "grafana", *options
    )
    listed = run_cli("users", "list", "--db", str(store), "--json")
    assert listed.exit_code == 0, listed.stderr
    text = listed.stdout
    assert "user0" in text and "owner" in text and "prebuilds" not in text and "ci-bot" not in text


def test_organization_names_come_from_coder_to_the_reports_and_the_store(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    """Reports from Coder and from the store it was ingested into name organizations alike,
    and ``--org`` takes a name (any case) or an id on both."""
    db, _act = loaded
    store = tmp_path / "store.duckdb"
    ingested = run_cli("ingest", "--coder", db.url, "--db", str(store), "--json")
    assert ingested.exit_code == 0, ingested.stderr
    assert json.loads(ingested.stdout)["organizations"]["added"] == 2
    listed = run_cli("orgs", "list", "--db", str(store), "--json")
    assert json.loads(listed.stdout) == {_uuid("org-a"): "Org A", _uuid("org-b"): "Org B"}

    options = ["--category", "ide", "--interval", "1 month", "--color", "never"]
    by_id = ["--org", _uuid("org-b")]
    for fmt in ("json", "table", "html"):
        shown = run_cli("--coder", db.url, *options, *by_id, "--format", fmt)
        assert shown.exit_code == 0, shown.stderr
        if fmt != "json":  # Coder's JSON shape names no organization
            assert "Org B" in shown.stdout and "Org A" not in shown.stdout, fmt
        for source in (["--coder", db.url], ["--db", str(store)]):
            for org in (["--org", "Org B"], ["--org", "org b"], by_id):
                again = run_cli(*source, *options, *org, "--format", fmt)
                assert again.exit_code == 0, again.stderr
                assert again.stdout == shown.stdout, (source[0], org, fmt)

    # An organizations file names them instead, for one report.
    custom = tmp_path / "orgs.csv"
    custom.write_text(f"id,name\n{_uuid('org-b')},Bravo\n")
    named = run_cli("--coder", db.url, *options, "--orgs", str(custom), "--org", "bravo")
    assert named.exit_code == 0, named.stderr
    assert "Bravo" in named.stdout and "Org B" not in named.stdout

    # The Metrics view of the store lists the organizations by name.
    page = signed_in_page(store, "/?category=ide&start=2024-03-01&end=2024-11-30", "coder")
    for key, name in (("org-a", "Org A"), ("org-b", "Org B")):
        assert f'<option value="{_uuid(key)}">{name}</option>' in page

    # An organization renamed in Coder is renamed in the store by the next ingest.
    db.execute(f"UPDATE organizations SET display_name = 'Org Bee' WHERE id = '{_uuid('org-b')}'")
    assert run_cli("ingest", "--coder", db.url, "--db", str(store)).exit_code == 0
    renamed = run_cli("--db", str(store), *options, "--org", "org bee", "--format", "table")
    assert renamed.exit_code == 0, renamed.stderr
    direct = run_cli("--coder", db.url, *options, *by_id, "--format", "table")
    assert renamed.stdout == direct.stdout
    assert "Org Bee" in renamed.stdout


# --------------------------------------------------------------------------- bad input


def _bad_urls(db: CoderDB) -> list[tuple[str, int, str]]:
    host = f"127.0.0.1:{db.port}"
    return [
        ("mysql://coder:" + PASSWORD + f"@{host}/coder", 2, "is not a PostgreSQL URL"),
        (f"postgresql://coder:{PASSWORD}@{host}:x/coder", 2, "is not a valid URL"),
        (
            f"postgresql://coder:{PASSWORD}@127.0.0.1:1/coder",
            1,
            'connection to server at "127.0.0.1", port 1 failed: Connection refused; '
            "check the host and port",
        ),
        (f"postgresql://coder:wrong-{PASSWORD}@{host}/coder", 1, "password authentication failed"),
        (
            f"postgresql://{host}/coder?user=coder&password=wrong-{PASSWORD}",
            1,
            "password=***: password authentication failed",
        ),
        (
            f"postgresql://coder:{PASSWORD}@{host}/notcoder",
            1,
            "is not Coder's: it has no table connection_logs",
        ),
        (f"postgresql://coder:{PASSWORD}@{host}/partial", 1, "it has no table audit_logs;"),
        (
            f"postgresql://reports:{PASSWORD}@{host}/coder",
            1,
            "the role reports may not read audit_logs, organizations in the database at "
            f"postgresql://reports@{host}/coder; grant it: "
            "GRANT SELECT ON audit_logs, organizations TO reports",
        ),
        (
            f"postgresql://reports:{PASSWORD}@{host}/partial",
            1,
            "the role reports may not use the schema public of Coder's tables in the database "
            f"at postgresql://reports@{host}/partial; grant it: "
            "GRANT USAGE ON SCHEMA public TO reports",
        ),
        (
            f"postgresql://coder:{PASSWORD}@{host}/older",
            1,
            "column u.is_service_account does not exist; its schema lacks a column of Coder's "
            "current one (an older Coder release?)",
        ),
    ]


@pytest.fixture
def partial(coder_db: CoderDB) -> CoderDB:
    """Besides Coder's database: one without audit_logs, one of an older schema, and a
    role that may read only some of Coder's tables."""
    for database, change in (
        ("partial", "DROP TABLE audit_logs"),
        ("older", "ALTER TABLE users DROP COLUMN is_service_account"),
    ):
        coder_db.execute(f"DROP DATABASE IF EXISTS {database}", database="postgres")
        coder_db.execute(f"CREATE DATABASE {database}", database="postgres")
        coder_db.execute(f"{SCHEMA};\n{change}", database=database)
    # "partial" as its owner made it: the role below may not use its schema.
    coder_db.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC", database="partial")
    coder_db.execute(
        f"""DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reports')
            THEN CREATE ROLE reports LOGIN PASSWORD '{PASSWORD}'; END IF; END $$;
            GRANT USAGE ON SCHEMA public TO reports;
            GRANT SELECT ON ALL TABLES IN SCHEMA public TO reports;
            REVOKE SELECT ON audit_logs, organizations FROM reports"""
    )
    return coder_db


def test_bad_urls_fail_in_one_line_without_the_password(partial: CoderDB, tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    for url, code, words in _bad_urls(partial):
        for args in (["--coder", url], ["ingest", "--coder", url, "--db", str(store)]):
            result = run_cli(*args)
            assert result.exit_code == code, (args, result.stderr)
            assert result.stdout == ""
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("activity-report: error: --coder: "), (
                lines
            )
            assert words in lines[0], lines
            assert PASSWORD not in result.stderr
        assert not store.exists()


def test_the_password_may_come_from_the_environment_or_a_passfile(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    db, _act = loaded
    bare = db.url_without_password()
    expected = _report("--coder", db.url, "--interval", "1 month")
    env = run_cli("--coder", bare, "--interval", "1 month", "--json", env={"PGPASSWORD": PASSWORD})
    assert env.exit_code == 0 and env.stdout == expected
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{db.port}:coder:coder:{PASSWORD}\n")
    passfile.chmod(0o600)
    from_file = run_cli(
        "--interval",
        "1 month",
        "--json",
        env={"PGPASSFILE": str(passfile), "ACTIVITY_REPORT_CODER_URL": bare},
    )
    assert from_file.exit_code == 0, from_file.stderr
    assert from_file.stdout == expected


def test_an_option_wins_over_the_other_sources_variable(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    db, act = loaded
    events, users, _orgs = write_expected(tmp_path, act, datetime.now(UTC))
    options = ["--interval", "1 month", "--users", str(users)]
    from_file = _report("--events", str(events), *options)
    from_db = _report("--coder", db.url, *options)
    assert from_file == from_db  # the same events: compare the runs' sources below by stderr
    variable = run_cli(
        "--events", str(events), *options, "--json", "--verbose",
        env={"ACTIVITY_REPORT_CODER_URL": db.url},
    )  # fmt: skip
    assert variable.exit_code == 0 and "of the files" in variable.stderr
    option = run_cli(
        "--coder", db.url, *options, "--json", "--verbose",
        env={"ACTIVITY_REPORT_EVENTS": str(events)},
    )  # fmt: skip
    assert option.exit_code == 0 and "of Coder's database" in option.stderr
    store = tmp_path / "store.duckdb"
    ingested = run_cli(
        "ingest", str(events), "--db", str(store), env={"ACTIVITY_REPORT_CODER_URL": db.url}
    )
    assert ingested.exit_code == 0 and "ingested 1 file" in ingested.stderr


def test_an_ingest_stopped_before_its_organizations_keeps_nothing(
    loaded: tuple[CoderDB, Activity], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runs, users and organizations are one transaction: no runs without names."""
    import duckdb

    from activity_report.coder import ingest_coder
    from activity_report.store import orgs

    db, _act = loaded
    store = tmp_path / "store.duckdb"

    def stopped(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(orgs, "apply", stopped)
    with pytest.raises(KeyboardInterrupt):
        ingest_coder(store, db.url)
    with duckdb.connect(str(store), read_only=True) as con:
        for table in ("minute_runs", "users", "orgs", "ingests", "rollups"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)], table
    monkeypatch.undo()
    result, users, names = ingest_coder(store, db.url)
    assert result.new > 0 and users.added == users.users > 0 and names.added == names.orgs == 2


def test_a_typed_db_wins_over_the_variables_of_coder_and_of_files(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    """The nightly job's URL, exported, must not turn `--db STORE` into a report of Coder."""
    db, act = loaded
    events, _users, _orgs = write_expected(tmp_path, act, datetime.now(UTC))
    store = tmp_path / "store.duckdb"
    assert run_cli("ingest", str(events), "--db", str(store)).exit_code == 0
    for variable, value in (("ACTIVITY_REPORT_CODER_URL", db.url), ("ACTIVITY_REPORT_EVENTS", "x")):
        typed = run_cli("--db", str(store), "--json", "--verbose", env={variable: value})
        assert typed.exit_code == 0, (variable, typed.stderr)
        assert "of the store" in typed.stderr, (variable, typed.stderr)
    # From the variables alone, the store's path too, the variable's source is read.
    both = run_cli(
        "--json", "--verbose",
        env={"ACTIVITY_REPORT_CODER_URL": db.url, "ACTIVITY_REPORT_DB": str(store)},
    )  # fmt: skip
    assert both.exit_code == 0 and "of Coder's database" in both.stderr, both.stderr


def test_pseudonyms_of_coder_take_the_key_from_the_variable(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    db, act = loaded
    events, users, orgs = write_expected(tmp_path, act, datetime.now(UTC))
    key = {"ACTIVITY_REPORT_PSEUDONYM_KEY": "0123456789abcdef0123456789abcdef"}
    options = ["--interval", "1 month", "--pseudonymize", "--json", "--users", str(users)]
    options += ["--orgs", str(orgs)]
    from_db = run_cli("--coder", db.url, *options, env=key)
    from_file = run_cli("--events", str(events), *options, env=key)
    assert from_db.exit_code == 0, from_db.stderr
    assert from_db.stdout == from_file.stdout and '"anon-' in from_db.stdout
    keyless = run_cli("--coder", db.url, *options, "--db", str(tmp_path / "none.duckdb"))
    assert keyless.exit_code == 2
    assert "--pseudonymize needs a key: set ACTIVITY_REPORT_PSEUDONYM_KEY" in keyless.stderr


def test_without_the_driver_the_error_says_what_to_install(
    coder_db: CoderDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql", None)
    result = run_cli("--coder", coder_db.url)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "activity-report: error: --coder needs the ADBC PostgreSQL driver: "
        "pip install 'adbc-driver-postgresql>=1.0' (or pip install -e '.[coder]' in a checkout)\n"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:p%40ss@h:5432/coder", "postgresql://u@h:5432/coder"),
        ("postgresql://h/coder?user=u&password=pw&sslmode=require",
         "postgresql://h/coder?user=u&password=***&sslmode=require"),
        ("postgres://:pw@h/coder", "postgres://h/coder"),
        ("postgresql://u@h/coder", "postgresql://u@h/coder"),
    ],
)  # fmt: skip
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    from activity_report.sources.coder_connection import redact

    assert redact(url) == shown


_FILES_ONLY = (
    "--column, --time-format, --input-tz and --category-map say how to read event files; "
    "--coder reads Coder's tables by their own mapping: drop them"
)
_IDE_APPS = "--ide-apps is for --coder: the apps of Coder's database counted as IDE"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coder", ""], "--coder is empty; give postgresql://USER@HOST:PORT/DATABASE"),
        (["ingest", "--coder", ""], "--coder is empty; give postgresql://USER@HOST:PORT/DATABASE"),
        (["--coder", "postgresql://u@127.0.0.1:1/c", "--column", "time=at"], _FILES_ONLY),
        (["ingest", "--coder", "postgresql://u@127.0.0.1:1/c", "--time-format", "epoch-s"],
         _FILES_ONLY),
        (["ingest", "--coder", "postgresql://u@127.0.0.1:1/c", "--category-map", "ssh=ide"],
         _FILES_ONLY),
        (["ingest", "sample_data/events.parquet", "--ide-apps", "grafana"], _IDE_APPS),
        (["--ide-apps", "grafana"],
         _IDE_APPS + " (a store's were counted by its `activity-report ingest --coder`)"),
    ],
)  # fmt: skip
def test_options_that_coder_ignores_or_needs_are_refused(
    args: list[str], message: str, tmp_path: Path
) -> None:
    store = tmp_path / "store.duckdb"
    result = run_cli(*args, "--db", str(store))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"activity-report: error: {message}\n"
    assert not store.exists()


def test_coder_and_events_together_are_refused(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    db, _act = loaded
    result = run_cli("--coder", db.url, "--events", str(tmp_path / "x.csv"))
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == "activity-report: error: --coder and --events name two sources; give one of them"
    )


def test_without_postgresql_the_fixture_fails_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from . import coder_db

    monkeypatch.setattr("glob.glob", lambda pattern: [])
    with pytest.raises(pytest.fail.Exception, match="apt-get install postgresql"):
        coder_db._pg_bin()


# --------------------------------------------------------------------------- the page's runs

#: How docs/coder.md names the database and the store of its runs.
SHOWN_HOST = "db.example.com:5432"
SHOWN_STORE = "/tmp/coder-demo.duckdb"


def test_the_coder_page_shows_what_a_real_database_prints(
    loaded: tuple[CoderDB, Activity], tmp_path: Path
) -> None:
    """docs/coder.md's transcripts, run on the generated database, print what the page shows.

    The page's host and store stand for this database's and a temporary one; the
    password comes from PGPASSWORD (the page's URLs carry none, or a wrong one).
    """
    import os
    import subprocess

    from .test_doc_examples import ROOT, examples, matches

    db, _act = loaded
    host, store = f"127.0.0.1:{db.port}", str(tmp_path / "coder-demo.duckdb")
    found, _ = examples(
        ROOT / "docs" / "coder.md",
        keep=lambda e: bool(e.output) and (SHOWN_HOST in e.command or SHOWN_STORE in e.command),
    )
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ACTIVITY_REPORT_", "PG")) and k not in {"COLUMNS", "LINES"}
    }
    environ |= {"PGPASSWORD": PASSWORD, "XDG_DATA_HOME": str(tmp_path / "data")}
    wrong = []
    for example in found:
        command = example.command.replace(SHOWN_HOST, host).replace(SHOWN_STORE, store)
        run = subprocess.run(
            ["bash", "-c", f"{{ {command} ; }} 2>&1"],
            capture_output=True, text=True, cwd=tmp_path, env=environ, timeout=120, check=False,
        )  # fmt: skip
        shown = run.stdout.replace(host, SHOWN_HOST).replace(store, SHOWN_STORE)
        if not matches(example.output, shown):
            wrong.append(f"$ {example.command}\n{shown}")
    assert not wrong, "\n\n".join(wrong)
    assert len(found) >= 5, found  # two ingests, a report, two failures
