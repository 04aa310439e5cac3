"""Reports that name no one: pseudonyms, the key, and --min-users."""

from __future__ import annotations

import csv
import hashlib
import hmac
import html
import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import duckdb
import pytest

from activity_report.errors import InvalidValue, UsageError
from activity_report.model import UserInfo, build_report, to_api
from activity_report.pseudonyms import (
    KEY_ENV,
    is_pseudonym,
    key_from_text,
    pseudonym,
    pseudonymize,
    resolve,
    withhold,
)

from .conftest import SAMPLE, run_cli

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

KEY = b"a key of more than sixteen bytes"
ENV_KEY = "0123456789abcdef-test-key"
RANGE = ("--start", "2022-08-01", "--end", "2022-08-31", "--category", "ide")
FORMATS = ("table", "json", "ndjson", "csv", "markdown", "html")


def sample_people() -> list[dict[str, str]]:
    with (SAMPLE / "users.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def identifying(people: list[dict[str, str]]) -> set[str]:
    """Every name, username, email and avatar hash of the sample directory."""
    found = set()
    for person in people:
        for column in ("name", "username", "email", "avatar_hash"):
            if person[column]:
                found.add(person[column])
    return found


def assert_names_no_one(body: bytes, people: list[dict[str, str]]) -> None:
    """No name, username, email, avatar hash or id, as text, escaped for HTML, or in JSON."""
    for value in identifying(people):
        for form in {value, html.escape(value), json.dumps(value)[1:-1]}:
            assert form.encode() not in body, value
    for person in people:  # nor the ids themselves
        assert person["id"].encode() not in body, person["id"]


# --------------------------------------------------------------------------- the core


def small_report(tz: str = "UTC") -> tuple[list[datetime], dict[str, UserInfo]]:
    zone = ZoneInfo(tz)
    edges = [datetime(2022, 8, d, tzinfo=zone) for d in (1, 2, 3, 4)]
    directory = {
        "u1": UserInfo("u1", "Ann", "ann", ("site-member",), "aa" * 32),
        "u2": UserInfo("u2", "Ben", "ben", ("org-admin",), "bb" * 32),
        "u3": UserInfo("u3", "Cat", "cat", (), None),
    }
    return edges, directory


def test_a_pseudonym_is_anon_and_16_hex_digits_of_the_hmac() -> None:
    expected = hmac.new(KEY, b"user-1", hashlib.sha256).hexdigest()[:16]
    assert pseudonym(KEY, "user-1") == "anon-" + expected
    assert is_pseudonym(pseudonym(KEY, "user-1"))
    assert pseudonym(KEY, "user-1") == pseudonym(KEY, "user-1")
    assert pseudonym(KEY, "user-1") != pseudonym(KEY + b"2", "user-1")
    assert pseudonym(KEY, "user-1") != pseudonym(KEY, "user-2")
    assert not is_pseudonym("anon-XYZ")
    assert not is_pseudonym("user-1")


def test_pseudonymize_drops_names_keeps_roles_and_reorders() -> None:
    edges, directory = small_report()
    # u1 and u2 tie on duration and count in bucket 0: the order is by id, then by pseudonym.
    report = build_report(edges, [(0, "u1", 2, 60), (0, "u2", 2, 60), (1, "u3", 1, 30)], directory)
    shown = pseudonymize(report, KEY)
    api = to_api(shown)
    first = [u["user_id"] for u in api["activity"][0]["user_activity"]]
    assert first == sorted([pseudonym(KEY, "u1"), pseudonym(KEY, "u2")])
    users = api["users"]
    assert list(users) == [*first, pseudonym(KEY, "u3")]
    for entry in users.values():
        assert entry["name"] is None
        assert entry["username"] is None
        assert entry["avatar_hash"] is None
        assert is_pseudonym(entry["id"])
    assert users[pseudonym(KEY, "u2")]["roles"] == ["org-admin"]
    assert users[pseudonym(KEY, "u1")]["total_count"] == 2
    text = json.dumps(api)
    for user in directory.values():
        for value in (user.name, user.username, user.avatar_hash, f'"{user.id}"'):
            assert value is None or value not in text


def test_withhold_empties_the_small_buckets_and_recounts_the_totals() -> None:
    edges, directory = small_report()
    cells = [
        (0, "u1", 5, 100),
        (0, "u2", 3, 50),
        (1, "u1", 7, 200),  # alone: withheld with K = 2
        (1, "u3", 0, 0),  # nothing: not an active user
        (2, "u3", 4, 10),  # alone too
    ]
    report = withhold(build_report(edges, cells, directory), 2)
    assert [b.withheld for b in report.activity] == [False, True, True]
    assert [len(b.user_activity) for b in report.activity] == [2, 0, 0]
    totals = {t.user.id: (t.total_count, t.total_duration) for t in report.users}
    assert totals == {"u1": (5, 100_000), "u2": (3, 50_000)}  # u3 appears nowhere
    api = to_api(report)
    assert api["activity"][1] | {"user_activity": None} == {
        "time": "2022-08-02T00:00:00Z",
        "duration": 86_400_000_000_000,
        "user_activity": None,
        "withheld": True,
        "active_users": None,
        "count": None,
        "active_duration": None,
    }
    assert api["activity"][0]["active_users"] == 2
    assert api["activity"][0]["count"] == 8
    assert api["activity"][0]["active_duration"] == 150_000
    assert list(api["users"]) == ["u1", "u2"]


def test_withhold_leaves_empty_buckets_and_without_it_the_json_is_unchanged() -> None:
    edges, directory = small_report()
    report = build_report(edges, [(0, "u1", 1, 1), (0, "u2", 1, 1)], directory)
    assert "withheld" not in to_api(report)["activity"][0]
    kept = to_api(withhold(report, 2))
    assert [b["withheld"] for b in kept["activity"]] == [False, False, False]
    assert kept["activity"][1]["active_users"] == 0
    with pytest.raises(InvalidValue):
        withhold(report, 0)


def test_resolve_maps_pseudonyms_to_known_ids_and_keeps_the_rest() -> None:
    known = {"u1", "u2"}
    asked = [pseudonym(KEY, "u2"), "ann", pseudonym(KEY, "nobody")]
    assert resolve(asked, KEY, known) == ["u2", "ann", pseudonym(KEY, "nobody")]
    assert resolve(["u1"], None, known) == ["u1"]


def test_a_short_key_in_the_environment_is_refused() -> None:
    with pytest.raises(UsageError, match=KEY_ENV):
        key_from_text("short")
    assert key_from_text(ENV_KEY) == ENV_KEY.encode()


# --------------------------------------------------------------------------- the CLI


def report_on_files(*args: str, key: str | None = ENV_KEY, home: Path | None = None) -> str:
    env = {KEY_ENV: key or ""}
    if home is not None:
        env |= {"XDG_DATA_HOME": str(home), "HOME": str(home), "ACTIVITY_REPORT_DB": ""}
    result = run_cli(
        "--events",
        str(SAMPLE / "events.parquet"),
        "--users",
        str(SAMPLE / "users.csv"),
        *RANGE,
        *args,
        env=env,
    )
    assert result.exit_code == 0, result.stderr
    return result.stdout


def pseudonyms_in(text: str) -> set[str]:
    return set(re.findall(r"anon-[0-9a-f]{16}", text))


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_names_anyone(fmt: str) -> None:
    people = sample_people()
    plain = report_on_files("--format", fmt, "--top", "0")
    assert any(value in plain for value in identifying(people))  # the test can see names
    body = report_on_files("--format", fmt, "--top", "0", "--pseudonymize")
    assert_names_no_one(body.encode(), people)
    expected = {pseudonym(ENV_KEY.encode(), p["id"]) for p in people}
    assert pseudonyms_in(body) <= expected
    assert len(pseudonyms_in(body)) == 15


def test_the_same_pseudonyms_in_every_format_and_run() -> None:
    api = json.loads(report_on_files("--json", "--pseudonymize"))
    again = json.loads(report_on_files("--json", "--pseudonymize"))
    assert api == again
    rows = list(csv.DictReader(io.StringIO(report_on_files("--format", "csv", "--pseudonymize"))))
    lines = [
        json.loads(line)
        for line in report_on_files("--format", "ndjson", "--pseudonymize").splitlines()
    ]
    from_json = [
        (b["time"], u["user_id"], u["count"], u["duration"])
        for b in api["activity"]
        for u in b["user_activity"]
    ]
    assert from_json == [
        (r["time"], r["user_id"], int(r["count"]), int(r["duration"])) for r in rows
    ]
    assert from_json == [(r["time"], r["user_id"], r["count"], r["duration"]) for r in lines]
    plain = json.loads(report_on_files("--json"))
    # Same numbers as the named report, user for user.
    named = {
        pseudonym(ENV_KEY.encode(), uid): u["total_duration"] for uid, u in plain["users"].items()
    }
    assert {uid: u["total_duration"] for uid, u in api["users"].items()} == named
    other = json.loads(report_on_files("--json", "--pseudonymize", key="another key, long enough"))
    assert not set(other["users"]) & set(api["users"])


def test_files_without_a_key_or_a_store_are_refused(tmp_path: Path) -> None:
    result = run_cli(
        "--events",
        str(SAMPLE / "events.parquet"),
        "--pseudonymize",
        env={
            KEY_ENV: "",
            "XDG_DATA_HOME": str(tmp_path),
            "HOME": str(tmp_path),
            "ACTIVITY_REPORT_DB": "",
        },
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"activity-report: error: --pseudonymize needs a key: set {KEY_ENV} to a long random "
        "secret (e.g. `openssl rand -hex 32`), or give --db a store, which keeps one\n"
    )


def test_user_takes_a_pseudonym() -> None:
    people = sample_people()
    joe = next(p for p in people if p["username"] == "joe2")
    by_id = json.loads(report_on_files("--json", "--pseudonymize", "--user", joe["id"]))
    alias = pseudonym(ENV_KEY.encode(), joe["id"])
    by_alias = json.loads(report_on_files("--json", "--pseudonymize", "--user", alias))
    assert list(by_alias["users"]) == [alias]
    assert by_alias == by_id
    named = json.loads(report_on_files("--json", "--user", alias))  # a pseudonym, names shown
    assert list(named["users"]) == [joe["id"]]


# --------------------------------------------------------------------------- the store's key


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("pseudonyms") / "store.duckdb"
    assert run_cli("ingest", "--db", str(db), str(SAMPLE / "events.parquet")).exit_code == 0
    assert run_cli("users", "import", "--db", str(db), str(SAMPLE / "users.csv")).exit_code == 0
    return db


def stored_key(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT key_hex FROM pseudonym_key").fetchall()
    assert len(rows) == 1
    return str(rows[0][0])


def store_report(db: Path, *args: str) -> dict[str, object]:
    result = run_cli("--db", str(db), *RANGE, "--json", "--pseudonymize", *args, env={KEY_ENV: ""})
    assert result.exit_code == 0, result.stderr
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed


def test_the_store_makes_its_key_once_keeps_it_and_rotates_it(store: Path) -> None:
    first = store_report(store)
    key = stored_key(store)
    assert store_report(store) == first
    assert stored_key(store) == key
    assert set(first["users"]) == {  # type: ignore[call-overload]
        pseudonym(bytes.fromhex(key), p["id"]) for p in sample_people()
    }
    rotated = run_cli("pseudonyms", "rotate", "--db", str(store))
    assert rotated.exit_code == 0, rotated.stderr
    assert rotated.stdout == ""
    assert rotated.stderr == (
        "activity-report: made a new pseudonym key; pseudonyms in earlier reports "
        "no longer match the new ones\n"
    )
    assert key not in rotated.stderr
    new_key = stored_key(store)
    assert new_key != key
    after = store_report(store)
    assert not set(after["users"]) & set(first["users"])  # type: ignore[call-overload]
    for body in (first, after):
        assert key not in json.dumps(body) and new_key not in json.dumps(body)


def test_files_use_the_store_s_key_when_no_key_is_given(store: Path) -> None:
    result = run_cli(
        "--events", str(SAMPLE / "events.parquet"), "--db", str(store), *RANGE, "--json",
        "--pseudonymize", env={KEY_ENV: ""},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    on_store = store_report(store)
    assert json.loads(result.stdout)["users"].keys() == on_store["users"].keys()  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- --min-users


def write_events(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("time", "user_id", "category", "duration_s"))
        writer.writerows((time, user, "ide", 600) for time, user in rows)
    return path


def test_min_users_over_berlin_days_with_a_dst_day_and_a_partial_last_day(
    tmp_path: Path,
) -> None:
    # 2022-03-27 in Berlin lasts 23 hours; the range ends at noon on the 28th.
    events = write_events(
        tmp_path / "dst.csv",
        [
            ("2022-03-26T10:00:00+01:00", "a"),
            ("2022-03-26T11:00:00+01:00", "b"),
            ("2022-03-26T12:00:00+01:00", "c"),
            ("2022-03-27T10:00:00+02:00", "a"),  # alone on the DST day
            ("2022-03-27T23:30:00+02:00", "a"),
            ("2022-03-28T09:00:00+02:00", "b"),
            ("2022-03-28T10:00:00+02:00", "c"),
            ("2022-03-28T13:00:00+02:00", "d"),  # after the end: in no bucket
        ],
    )
    args = (
        "--events", str(events), "--tz", "Europe/Berlin", "--interval", "1 day",
        "--start", "2022-03-26", "--end", "2022-03-28T12:00",
    )  # fmt: skip
    result = run_cli(*args, "--json", "--min-users", "2")
    assert result.exit_code == 0, result.stderr
    api = json.loads(result.stdout)
    hour = 3_600_000_000_000
    buckets = [
        (b["time"], b["duration"], b["withheld"], b["active_users"], b["count"])
        for b in api["activity"]
    ]
    assert buckets == [
        ("2022-03-26T00:00:00+01:00", 24 * hour, False, 3, 3),
        ("2022-03-27T00:00:00+01:00", 23 * hour, True, None, None),
        ("2022-03-28T00:00:00+02:00", 12 * hour, False, 2, 2),
    ]
    assert api["activity"][1]["user_activity"] == []
    totals = {uid: (u["total_count"], u["total_duration"]) for uid, u in api["users"].items()}
    ten_minutes = 600_000_000_000
    assert totals == {  # a's two events on the DST day are in no total
        "a": (1, ten_minutes),
        "b": (2, 2 * ten_minutes),
        "c": (2, 2 * ten_minutes),
    }
    table = run_cli(*args, "--min-users", "2", "--format", "table")
    rows = [line.split() for line in table.stdout.splitlines() if line.startswith("2022-03-27")]
    assert rows == [
        ["2022-03-27", "00:00", "+01:00", "23h", "0m", "<", "2", "withheld", "withheld"]
    ]
    assert "3 active users, 5 events" in table.stdout
    markdown = run_cli(*args, "--min-users", "2", "--format", "markdown").stdout
    assert "| 2022-03-27 00:00 +01:00 | 23h 0m | \\< 2 | withheld | withheld |" in markdown
    lines = run_cli(*args, "--min-users", "2", "--format", "csv").stdout.splitlines()
    assert "2022-03-27T00:00:00+01:00,82800000000000,,,,," in lines
    ndjson = run_cli(*args, "--min-users", "2", "--format", "ndjson").stdout.splitlines()
    assert json.loads(ndjson[3]) == {
        "time": "2022-03-27T00:00:00+01:00",
        "bucket_duration": 23 * hour,
        "user_id": None,
        "name": None,
        "username": None,
        "count": None,
        "duration": None,
    }
    assert len(ndjson) == 3 + 1 + 2
    html = run_cli(*args, "--min-users", "2", "--format", "html").stdout
    assert '<td class="num withheld">&lt; 2</td>' in html
    # K = 3: the partial last day (two users) is withheld too; K = 1 withholds nothing.
    three = json.loads(run_cli(*args, "--json", "--min-users", "3").stdout)
    assert [b["withheld"] for b in three["activity"]] == [False, True, True]
    assert list(three["users"]) == ["a", "b", "c"]
    one = json.loads(run_cli(*args, "--json", "--min-users", "1").stdout)
    assert [b["withheld"] for b in one["activity"]] == [False, False, False]
    bad = run_cli(*args, "--min-users", "0")
    assert bad.exit_code == 2


def test_min_users_with_pseudonyms_on_the_sample() -> None:
    people = sample_people()
    body = report_on_files("--json", "--pseudonymize", "--min-users", "14")
    api = json.loads(body)
    assert [b["withheld"] for b in api["activity"]] == [True, False, False, False, False]
    assert_names_no_one(body.encode(), people)
    shown = {u["user_id"] for b in api["activity"] for u in b["user_activity"]}
    assert set(api["users"]) == shown
    for uid, user in api["users"].items():
        assert user["total_count"] == sum(
            u["count"] for b in api["activity"] for u in b["user_activity"] if u["user_id"] == uid
        )


def test_spark_gives_the_same_pseudonymous_report(spark: SparkSession) -> None:
    args = ("--events", str(SAMPLE / "events.parquet"), *RANGE, "--json", "--pseudonymize")
    joe = pseudonym(ENV_KEY.encode(), "6004ad77-a7a69a24d779dd9f44357014")
    users = {}
    for extra in ((), ("--user", joe), ("--min-users", "14")):
        duck = run_cli(*args, *extra, env={KEY_ENV: ENV_KEY})
        on_spark = run_cli(*args, *extra, "--engine", "spark", env={KEY_ENV: ENV_KEY})
        assert duck.exit_code == on_spark.exit_code == 0, duck.stderr + on_spark.stderr
        assert on_spark.stdout == duck.stdout
        users[extra] = list(json.loads(on_spark.stdout)["users"])
    assert len(users[()]) == 15
    assert users[("--user", joe)] == [joe]  # no directory: Spark lists the events' ids


def test_a_pseudonym_for_user_without_a_key_is_refused(tmp_path: Path) -> None:
    alias = pseudonym(KEY, "6004ad77-a7a69a24d779dd9f44357014")
    result = run_cli(
        "--events", str(SAMPLE / "events.parquet"), "--user", alias,
        env={KEY_ENV: "", "XDG_DATA_HOME": str(tmp_path), "HOME": str(tmp_path),
             "ACTIVITY_REPORT_DB": ""},
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr == (
        f"activity-report: error: --user {alias} (a pseudonym) needs a key: set {KEY_ENV} to a "
        "long random secret (e.g. `openssl rand -hex 32`), or give --db a store, which keeps one\n"
    )


def test_a_pseudonym_of_a_user_without_events_is_not_turned_back_into_a_name(
    tmp_path: Path,
) -> None:
    events = write_events(tmp_path / "one.csv", [("2022-08-01T10:00:00Z", "u1")])
    users = tmp_path / "users.csv"
    users.write_text("id,name,username\nu1,Ann,ann\nghost,Gus,gus\n", encoding="utf-8")
    alias = pseudonym(ENV_KEY.encode(), "ghost")
    result = run_cli(
        "--events", str(events), "--users", str(users), "--user", alias, "--pseudonymize",
        "--json", env={KEY_ENV: ENV_KEY},
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["users"] == {}
    assert f"--user '{alias}' matches no user id in the data" in result.stderr
    for name in ("ghost", "Gus", "gus"):
        assert name not in result.stdout + result.stderr


def test_a_pseudonymous_token_makes_the_key_and_never_shows_it(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    assert run_cli("ingest", "--db", str(db), str(SAMPLE / "events.csv")).exit_code == 0
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM pseudonym_key").fetchall() == [(0,)]
    full = run_cli("tokens", "create", "--db", str(db))
    assert full.exit_code == 0, full.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM pseudonym_key").fetchall() == [(0,)]
    made = run_cli("tokens", "create", "--scope", "pseudonymous", "--db", str(db))
    assert made.exit_code == 0, made.stderr
    key = stored_key(db)
    assert key not in made.stdout + made.stderr
    assert re.fullmatch(r"ar_[0-9a-f]{10}_[A-Za-z0-9_-]{43}\n", made.stdout)
