"""Scoped tokens: a pseudonymous token's answers name no one, from every endpoint and the view."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from activity_report.pseudonyms import pseudonym

from .conftest import SAMPLE, run_cli
from .test_pseudonyms import assert_names_no_one, sample_people
from .test_server import (
    ACTIVITY,
    CLI_QUERY,
    ISSUE_QUERY,
    ORG,
    Server,
    cli,
    start_server,
    stop,
)

ANON = re.compile(rb"anon-[0-9a-f]{16}")
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
VIEW_QUERY = "org=&category=ide&start=2022-08-01&end=2022-08-30&interval=week&tz=UTC"


@pytest.fixture(scope="module")
def scoped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """The server, its full token, and a pseudonymous one."""
    db = tmp_path_factory.mktemp("scoped") / "store.duckdb"
    assert cli("ingest", str(SAMPLE / "events.parquet"), db=db).returncode == 0
    assert cli("users", "import", str(SAMPLE / "users.csv"), db=db).returncode == 0
    full = cli("tokens", "create", "--name", "full", db=db)
    anon = cli("tokens", "create", "--name", "anon", "--scope", "pseudonymous", db=db)
    assert full.returncode == anon.returncode == 0, full.stderr + anon.stderr
    assert "scope pseudonymous" in anon.stderr
    assert "scope" not in full.stderr  # a full token is told of as before
    url, process = start_server(db, "--busy-timeout", "60")
    yield Server(url, db, process, full.stdout.strip()), anon.stdout.strip()
    code, stderr = stop(process)
    assert code == 0, stderr
    assert "Traceback" not in stderr


def store_key(db: Path) -> bytes:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return bytes.fromhex(con.execute("SELECT key_hex FROM pseudonym_key").fetchall()[0][0])


def test_tokens_list_shows_the_scope(scoped: tuple[Server, str]) -> None:
    server, _ = scoped
    listed = json.loads(cli("tokens", "list", "--json", db=server.db).stdout)
    assert {t["name"]: t["scope"] for t in listed} == {"full": "full", "anon": "pseudonymous"}
    lines = cli("tokens", "list", db=server.db).stdout.splitlines()
    assert [line.split()[1:3] for line in lines] == [
        ["name", "scope"],
        ["full", "full"],
        ["anon", "pseudonymous"],
    ]
    bad = cli("tokens", "create", "--scope", "names", db=server.db)
    assert bad.returncode == 2
    assert bad.stderr.strip().endswith(
        "invalid value for --scope: 'names' (use one of full, pseudonymous)"
    )


def test_the_api_and_the_cli_give_the_same_pseudonymous_report(scoped: tuple[Server, str]) -> None:
    server, anon = scoped
    people = sample_people()
    named = server.get(f"{ACTIVITY}?{ISSUE_QUERY}")  # a full answer first: it is cached
    assert named.status_code == 200
    assert b"joe2" in named.content
    answer = server.get(f"{ACTIVITY}?{ISSUE_QUERY}", token=anon)
    assert answer.status_code == 200
    assert_names_no_one(answer.content, people)
    by_cli = run_cli("--db", str(server.db), *CLI_QUERY, "--json", "--pseudonymize")
    assert by_cli.exit_code == 0, by_cli.stderr
    assert answer.text == by_cli.stdout
    key = store_key(server.db)
    assert set(answer.json()["users"]) == {pseudonym(key, uid) for uid in named.json()["users"]}
    again = server.get(f"{ACTIVITY}?{ISSUE_QUERY}")  # and the full token still gets names
    assert again.content == named.content
    # Both now come from the answers' cache (the tokens are verified): each its own.
    for _ in range(2):
        assert server.get(f"{ACTIVITY}?{ISSUE_QUERY}", token=anon).content == answer.content
        assert server.get(f"{ACTIVITY}?{ISSUE_QUERY}").content == named.content


@pytest.mark.parametrize(
    "extra",
    [
        "",
        "&user=joe2",
        "&user=6004ad77-a7a69a24d779dd9f44357014",
        "&user=Joe",
        f"&org={ORG}",
        "&tz=Europe/Berlin",
        "&heartbeat=5%20minutes",
        "&user=joe2&user=alice92",
    ],
)
def test_a_pseudonymous_token_gets_no_names_whatever_it_asks(
    scoped: tuple[Server, str], extra: str
) -> None:
    server, anon = scoped
    answer = server.get(f"{ACTIVITY}?{ISSUE_QUERY}{extra}", token=anon)
    assert_names_no_one(answer.content, sample_people())
    if "user=" in extra:
        assert answer.status_code == 400
        assert answer.json() == {
            "message": "Invalid query parameter 'user'.",
            "detail": "invalid value for user: this token is pseudonymous; give pseudonyms "
            "(anon- and 16 hex digits), not user ids or usernames",
        }
    else:
        assert answer.status_code == 200
        assert ANON.search(answer.content)


def test_a_pseudonym_follows_one_person(scoped: tuple[Server, str]) -> None:
    server, anon = scoped
    joe = "6004ad77-a7a69a24d779dd9f44357014"
    alias = pseudonym(store_key(server.db), joe)
    mine = server.get(f"{ACTIVITY}?{ISSUE_QUERY}&user={alias}", token=anon)
    assert mine.status_code == 200, mine.text
    assert list(mine.json()["users"]) == [alias]
    full = server.get(f"{ACTIVITY}?{ISSUE_QUERY}&user={alias}")  # a full token may use one too
    assert list(full.json()["users"]) == [joe]


def test_metrics_for_a_pseudonymous_token_name_no_one(scoped: tuple[Server, str]) -> None:
    server, anon = scoped
    answer = server.get("/metrics", token=anon)
    assert answer.status_code == 200
    assert "activity_report_active_users" in answer.text
    assert_names_no_one(answer.content, sample_people())


@contextlib.contextmanager
def sign_in(server: Server, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        answer = client.post(
            "/signin", data={"token": token, "next": VIEW_QUERY, "tz": "UTC"}, headers=SAME_ORIGIN
        )
        assert answer.status_code == 303, answer.text
        yield client


def test_the_view_of_a_pseudonymous_session_names_no_one(scoped: tuple[Server, str]) -> None:
    server, anon = scoped
    people = sample_people()
    with sign_in(server, server.token) as client:
        named = client.get(f"/?{VIEW_QUERY}")
        assert "joe2" in named.text or "Joe" in named.text
    with sign_in(server, anon) as client:
        page = client.get(f"/?{VIEW_QUERY}")
        assert page.status_code == 200
        assert_names_no_one(page.content, people)
        shown = set(ANON.findall(page.content))
        api = json.loads(client.get(f"{ACTIVITY}?{ISSUE_QUERY}", headers=SAME_ORIGIN).content)
        assert {s.decode() for s in shown} <= set(api["users"])  # the page shows the top 50
        assert len(shown) == len(api["users"])
        csv = client.get(f"/metrics/activity.csv?{ISSUE_QUERY}&user=joe2", headers=SAME_ORIGIN)
        assert csv.status_code == 400
        assert_names_no_one(csv.content, people)
        csv = client.get(f"/metrics/activity.csv?{ISSUE_QUERY}", headers=SAME_ORIGIN)
        assert csv.status_code == 200
        assert_names_no_one(csv.content, people)
        assert set(ANON.findall(csv.content)) == shown


def test_rotating_the_key_changes_the_answers(scoped: tuple[Server, str]) -> None:
    server, anon = scoped
    before = server.get(f"{ACTIVITY}?{ISSUE_QUERY}", token=anon).json()
    rotated = cli("pseudonyms", "rotate", db=server.db)
    assert rotated.returncode == 0, rotated.stderr
    after = server.get(f"{ACTIVITY}?{ISSUE_QUERY}", token=anon).json()
    assert not set(before["users"]) & set(after["users"])
    assert [len(b["user_activity"]) for b in before["activity"]] == [
        len(b["user_activity"]) for b in after["activity"]
    ]
