"""min_users and pseudonymize over HTTP, and seats that name no one, from a real server."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from activity_report.pseudonyms import KEY_ENV, pseudonym

from .conftest import SAMPLE, run_cli
from .test_pseudonymous_server import ANON, SAME_ORIGIN, VIEW_QUERY, sign_in, store_key
from .test_pseudonyms import ENV_KEY, assert_names_no_one, sample_people, write_events
from .test_server import ACTIVITY, CLI_QUERY, ISSUE_QUERY, Server, cli, start_server, stop

SEATS = "/api/private/metrics/seats"
#: Every seat of the sample directory is dormant: its events end in early September.
SEATS_QUERY = "start=2022-09-01&end=2022-09-15&dormant_after=10d"
SEATS_FLAGS = ("--start", "2022-09-01", "--end", "2022-09-15", "--dormant-after", "10d")


def serve(db: Path) -> Iterator[tuple[Server, str]]:
    """A server over ``db``, with a full token and a pseudonymous one."""
    full = cli("tokens", "create", "--name", "full", db=db)
    anon = cli("tokens", "create", "--name", "anon", "--scope", "pseudonymous", db=db)
    assert full.returncode == anon.returncode == 0, full.stderr + anon.stderr
    url, process = start_server(db, "--busy-timeout", "60")
    yield Server(url, db, process, full.stdout.strip()), anon.stdout.strip()
    code, stderr = stop(process)
    assert code == 0, stderr
    assert "Traceback" not in stderr


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """The sample's events and directory in a store, served."""
    db = tmp_path_factory.mktemp("http-sample") / "store.duckdb"
    assert cli("ingest", str(SAMPLE / "events.parquet"), db=db).returncode == 0
    assert cli("users", "import", str(SAMPLE / "users.csv"), db=db).returncode == 0
    yield from serve(db)


# --------------------------------------------------------------------------- min_users


@pytest.mark.parametrize(
    ("extra", "flags"),
    [
        ("&min_users=14", ("--min-users", "14")),
        ("&min_users=1", ("--min-users", "1")),
        ("&min_users=14&pseudonymize=true", ("--min-users", "14", "--pseudonymize")),
        ("&pseudonymize=true", ("--pseudonymize",)),
        ("&pseudonymize=false", ()),
    ],
)
def test_the_api_s_bytes_are_the_cli_s_with_min_users_and_pseudonymize(
    sample: tuple[Server, str], extra: str, flags: tuple[str, ...]
) -> None:
    server, _ = sample
    plain = server.get(f"{ACTIVITY}?{ISSUE_QUERY}")  # answered first: in the cache
    assert plain.status_code == 200, plain.text
    answer = server.get(f"{ACTIVITY}?{ISSUE_QUERY}{extra}")
    assert answer.status_code == 200, answer.text
    by_cli = run_cli("--db", str(server.db), *CLI_QUERY, "--json", *flags)
    assert by_cli.exit_code == 0, by_cli.stderr
    assert answer.text == by_cli.stdout
    assert server.get(f"{ACTIVITY}?{ISSUE_QUERY}{extra}").text == by_cli.stdout  # cached
    if flags:  # each parameter is in the answers' cache key: no other answer is served
        assert answer.content != plain.content
    else:
        assert answer.content == plain.content
    body = answer.json()
    if "min_users=14" in extra:
        assert [b["withheld"] for b in body["activity"]] == [True, False, False, False, False]
    if "pseudonymize=true" in extra:
        assert_names_no_one(answer.content, sample_people())
        key = store_key(server.db)
        assert set(body["users"]) <= {pseudonym(key, uid) for uid in plain.json()["users"]}


@pytest.mark.parametrize("extra", ["&pseudonymize=false", "&pseudonymize=0", "&min_users=2"])
def test_a_pseudonymous_token_gets_pseudonyms_whatever_it_sends(
    sample: tuple[Server, str], extra: str
) -> None:
    server, anon = sample
    answer = server.get(f"{ACTIVITY}?{ISSUE_QUERY}{extra}", token=anon)
    assert answer.status_code == 200, answer.text
    assert_names_no_one(answer.content, sample_people())
    assert all(ANON.fullmatch(uid.encode()) for uid in answer.json()["users"])
    flags = ("--min-users", "2") if "min_users" in extra else ()
    by_cli = run_cli("--db", str(server.db), *CLI_QUERY, "--json", "--pseudonymize", *flags)
    assert answer.text == by_cli.stdout


@pytest.mark.parametrize(
    ("extra", "param", "why"),
    [
        ("min_users=0", "min_users", "give a whole number of at least 1"),
        ("min_users=few", "min_users", "give a whole number of at least 1"),
        ("min_users=2&min_users=3", "min_users", "give it once"),
        ("pseudonymize=maybe", "pseudonymize", "use true or false"),
    ],
)
def test_a_bad_min_users_or_pseudonymize_is_400(
    sample: tuple[Server, str], extra: str, param: str, why: str
) -> None:
    server, _ = sample
    answer = server.get(f"{ACTIVITY}?{ISSUE_QUERY}&{extra}")
    assert answer.status_code == 400
    assert answer.json()["message"] == f"Invalid query parameter '{param}'."
    assert answer.json()["detail"].endswith(f"({why})")


@pytest.fixture(scope="module")
def berlin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """Events around the spring DST change in Berlin (2022-03-27 lasts 23 hours), served."""
    folder = tmp_path_factory.mktemp("http-dst")
    events = write_events(
        folder / "dst.csv",
        [
            ("2022-03-26T10:00:00+01:00", "a"),
            ("2022-03-26T11:00:00+01:00", "b"),
            ("2022-03-26T12:00:00+01:00", "c"),
            ("2022-03-27T10:00:00+02:00", "a"),  # alone on the DST day
            ("2022-03-27T23:30:00+02:00", "a"),  # 21:30 UTC: still the 27th in Berlin
            ("2022-03-28T00:30:00+02:00", "b"),  # 22:30 UTC on the 27th: the 28th in Berlin
            ("2022-03-28T10:00:00+02:00", "c"),
            ("2022-03-28T13:00:00+02:00", "d"),  # after the end: in no bucket
        ],
    )
    db = folder / "store.duckdb"
    assert cli("ingest", str(events), db=db).returncode == 0
    yield from serve(db)


@pytest.mark.parametrize(
    ("k", "withheld"), [(2, [False, True, False]), (3, [False, True, True]), (1, [False] * 3)]
)
def test_min_users_over_the_api_on_a_dst_day_withholds_exactly_the_days_under_k(
    berlin: tuple[Server, str], k: int, withheld: list[bool]
) -> None:
    server, _ = berlin
    query = f"tz=Europe/Berlin&interval=1%20day&start=2022-03-26&end=2022-03-28T12:00&min_users={k}"
    answer = server.get(f"{ACTIVITY}?{query}")
    assert answer.status_code == 200, answer.text
    hour = 3_600_000_000_000
    counts = {"2022-03-26": (3, 3), "2022-03-27": (1, 2), "2022-03-28": (2, 2)}
    expected = []
    for (day, offset, hours), held in zip(
        [("2022-03-26", "+01:00", 24), ("2022-03-27", "+01:00", 23), ("2022-03-28", "+02:00", 12)],
        withheld,
        strict=True,
    ):
        users, events = (None, None) if held else counts[day]
        expected.append((f"{day}T00:00:00{offset}", hours * hour, held, users, events))
    body = answer.json()
    assert [
        (b["time"], b["duration"], b["withheld"], b["active_users"], b["count"])
        for b in body["activity"]
    ] == expected
    for bucket, held in zip(body["activity"], withheld, strict=True):
        assert (bucket["user_activity"] == []) is held
    shown = {u["user_id"] for b in body["activity"] for u in b["user_activity"]}
    assert set(body["users"]) == shown
    flags = (
        "--tz", "Europe/Berlin", "--interval", "1 day", "--start", "2022-03-26",
        "--end", "2022-03-28T12:00", "--min-users", str(k), "--json",
    )  # fmt: skip
    assert answer.text == run_cli("--db", str(server.db), *flags).stdout


def test_the_view_takes_min_users_and_its_downloads_keep_it(sample: tuple[Server, str]) -> None:
    server, anon = sample
    with sign_in(server, server.token) as client:
        plain = client.get(f"/?{VIEW_QUERY}")
        assert plain.status_code == 200
        assert 'id="f-min_users"' in plain.text and 'class="num withheld"' not in plain.text
        page = client.get(f"/?{VIEW_QUERY}&min_users=14")
        assert page.status_code == 200, page.text
        assert page.text.count('<td class="num withheld">&lt; 14</td>') == 1  # one row
        assert page.text.count('<td class="num withheld">withheld</td>') == 2
        assert 'name="min_users" type="number" min="1" step="1"' in page.text
        assert 'value="14"' in page.text
        download = f"{ACTIVITY}?category=ide&amp;interval=week&amp;tz=UTC&amp;start=2022-08-01"
        assert f'{download}&amp;end=2022-08-31&amp;min_users=14"' in page.text
        by_cli = run_cli("--db", str(server.db), *CLI_QUERY[:-2], "--interval", "week",
                         "--json", "--min-users", "14")  # fmt: skip
        query = "category=ide&interval=week&tz=UTC&start=2022-08-01&end=2022-08-31&min_users=14"
        assert client.get(f"{ACTIVITY}?{query}", headers=SAME_ORIGIN).text == by_cli.stdout
        csv = client.get(f"/metrics/activity.csv?{query}", headers=SAME_ORIGIN)
        assert csv.status_code == 200
        assert "2022-08-01T00:00:00Z,604800000000000,,,,," in csv.text.splitlines()
        bad = client.get(f"/?{VIEW_QUERY}&min_users=0")
        assert 'id="min_users-error"' in bad.text
        message = "invalid value for min_users: '0' (give a whole number of at least 1)"
        assert html.escape(message) in bad.text
        seats = client.get(f"/seats?{VIEW_QUERY}&min_users=14")  # counts: nothing to withhold
        assert seats.status_code == 200 and "min_users" not in seats.text
    with sign_in(server, anon) as client:
        page = client.get(f"/?{VIEW_QUERY}&min_users=14")
        assert page.text.count('<td class="num withheld">&lt; 14</td>') == 1
        assert_names_no_one(page.content, sample_people())
        assert ANON.search(page.content)


# --------------------------------------------------------------------------- seats


def test_a_pseudonymous_token_s_seats_name_no_one(sample: tuple[Server, str]) -> None:
    server, anon = sample
    named = server.get(f"{SEATS}?{SEATS_QUERY}")
    assert named.status_code == 200, named.text
    dormant = named.json()["dormant"]
    assert len(dormant) == 15 and all(u["username"] for u in dormant)
    answer = server.get(f"{SEATS}?{SEATS_QUERY}", token=anon)
    assert answer.status_code == 200, answer.text
    assert_names_no_one(answer.content, sample_people())  # the raw bytes
    key = store_key(server.db)
    hidden = answer.json()["dormant"]
    assert {u["user_id"] for u in hidden} == {pseudonym(key, u["user_id"]) for u in dormant}
    assert all(u["username"] is None and u["name"] is None for u in hidden)
    last = {pseudonym(key, u["user_id"]): u["last_active"] for u in dormant}
    assert {u["user_id"]: u["last_active"] for u in hidden} == last
    assert answer.json()["days"] == named.json()["days"]
    by_cli = run_cli("seats", "--db", str(server.db), "--json", "--pseudonymize", *SEATS_FLAGS)
    assert by_cli.exit_code == 0, by_cli.stderr
    assert answer.text == by_cli.stdout
    asked = server.get(f"{SEATS}?{SEATS_QUERY}&pseudonymize=true")  # a full token may ask
    assert asked.text == by_cli.stdout
    again = server.get(f"{SEATS}?{SEATS_QUERY}&pseudonymize=false", token=anon)
    assert again.text == by_cli.stdout  # and a pseudonymous one cannot ask for names


def test_a_pseudonymous_token_s_seats_take_pseudonyms_only(sample: tuple[Server, str]) -> None:
    server, anon = sample
    named = server.get(f"{SEATS}?{SEATS_QUERY}&user=joe2")
    joe = named.json()["dormant"]
    assert [u["username"] for u in joe] == ["joe2"]
    refused = server.get(f"{SEATS}?{SEATS_QUERY}&user=joe2", token=anon)
    assert refused.status_code == 400
    assert_names_no_one(refused.content, sample_people())
    alias = pseudonym(store_key(server.db), joe[0]["user_id"])
    followed = server.get(f"{SEATS}?{SEATS_QUERY}&user={alias}", token=anon)
    assert followed.status_code == 200, followed.text
    assert [u["user_id"] for u in followed.json()["dormant"]] == [alias]
    by_cli = run_cli(
        "seats", "--db", str(server.db), "--json", "--pseudonymize", "--user", alias, *SEATS_FLAGS
    )
    assert by_cli.exit_code == 0, by_cli.stderr
    assert followed.text == by_cli.stdout


def test_the_seats_page_of_a_pseudonymous_session_names_no_one(
    sample: tuple[Server, str],
) -> None:
    server, anon = sample
    december = "org=&category=any&start=2022-12-01&end=2022-12-31&interval=week&tz=UTC"
    with sign_in(server, server.token) as client:  # 90 days after the last event: all dormant
        named = client.get(f"/seats?{december}")
        assert named.status_code == 200
        assert "joe2" in named.text
    with sign_in(server, anon) as client:
        page = client.get(f"/seats?{december}")
        assert page.status_code == 200
        assert_names_no_one(page.content, sample_people())
        key = store_key(server.db)
        people = sample_people()
        assert {m.decode() for m in ANON.findall(page.content)} == {
            pseudonym(key, person["id"]) for person in people
        }


def test_the_seats_refuse_min_users(sample: tuple[Server, str]) -> None:
    server, _ = sample
    answer = server.get(f"{SEATS}?{SEATS_QUERY}&min_users=3")
    assert answer.status_code == 400
    assert answer.json()["message"] == "Invalid query parameter 'min_users'."
    assert answer.json()["detail"] == (
        "invalid value for min_users: '3' (the seats are counts, with no interval to "
        "withhold; drop min_users)"
    )


def test_seats_pseudonymize_on_files_uses_the_key_and_names_no_one(tmp_path: Path) -> None:
    files = ("--events", str(SAMPLE / "events.parquet"), "--users", str(SAMPLE / "users.csv"))
    named = run_cli("seats", *files, "--json", *SEATS_FLAGS)
    hidden = run_cli(
        "seats", *files, "--json", "--pseudonymize", *SEATS_FLAGS, env={KEY_ENV: ENV_KEY}
    )
    assert hidden.exit_code == 0, hidden.stderr
    assert_names_no_one(hidden.stdout.encode(), sample_people())
    key = ENV_KEY.encode()
    dormant = json.loads(named.stdout)["dormant"]
    assert [u["user_id"] for u in json.loads(hidden.stdout)["dormant"]] == sorted(
        (pseudonym(key, u["user_id"]) for u in dormant),
        key=lambda alias: (
            next(u["last_active"] for u in dormant if pseudonym(key, u["user_id"]) == alias),
            alias,
        ),
    )
    for fmt in ("table", "markdown", "html"):  # csv and ndjson have the days only
        shown = run_cli(
            "seats", *files, "--format", fmt, "--pseudonymize", *SEATS_FLAGS, env={KEY_ENV: ENV_KEY}
        )
        assert shown.exit_code == 0, shown.stderr
        assert_names_no_one(shown.stdout.encode(), sample_people())
        assert pseudonym(key, dormant[0]["user_id"]) in shown.stdout
    refused = run_cli(
        "seats", *files, "--pseudonymize", "--db", str(tmp_path / "none.duckdb"), env={KEY_ENV: ""}
    )
    assert refused.exit_code == 2
    assert refused.stderr.startswith("activity-report: error: --pseudonymize needs a key")


def test_the_python_api_takes_min_users_and_pseudonymize(monkeypatch: pytest.MonkeyPatch) -> None:
    import activity_report as ar

    monkeypatch.setenv(KEY_ENV, ENV_KEY)
    files = ("--events", str(SAMPLE / "events.parquet"), "--users", str(SAMPLE / "users.csv"))
    by_cli = run_cli(*files, *CLI_QUERY, "--json", "--min-users", "14", "--pseudonymize")
    assert by_cli.exit_code == 0, by_cli.stderr
    result = ar.report(
        SAMPLE / "events.parquet",
        users=SAMPLE / "users.csv",
        start="2022-08-01T00:00:00.000000Z",
        end="2022-08-31T00:00:00.000000Z",
        category="ide",
        interval="1 week",
        min_users=14,
        pseudonymize=True,
    )
    assert result.to_api() == json.loads(by_cli.stdout)
    assert [b["withheld"] for b in result.to_api()["activity"]] == [True] + [False] * 4
    with pytest.raises(ar.errors.UsageError, match="min_users"):
        ar.report(SAMPLE / "events.parquet", min_users=0)
