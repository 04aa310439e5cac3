"""`activity-report serve`: a real server on a free loopback port, through curl and httpx."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import pytest

from .conftest import SAMPLE, run_cli

ACTIVITY = "/api/private/metrics/activity"
ISSUE_QUERY = (
    "start=2022-08-01T00:00:00.000000Z&end=2022-08-31T00:00:00.000000Z&category=ide"
    "&interval=1%20week"
)
CLI_QUERY = (
    "--start", "2022-08-01T00:00:00.000000Z", "--end", "2022-08-31T00:00:00.000000Z",
    "--category", "ide", "--interval", "1 week",
)  # fmt: skip
ORG = "24a366f3-4245-4122-854f-7d993060f938"


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    """The command line in its own process, as a shell or cron runs it."""
    return subprocess.run(
        [sys.executable, "-m", "activity_report", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass
class Server:
    url: str
    db: Path
    process: subprocess.Popen[str]
    token: str

    def get(self, path: str, token: str | None = None, **kwargs: object) -> httpx.Response:
        headers = {"Session-Token": token or self.token}
        return httpx.get(self.url + path, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


#: The line ``serve`` prints once it listens, with the port it bound.
SERVING_ON = re.compile(r"activity-report: serving .* on (http://127\.0\.0\.1:\d+)$", re.M)


def start_server(
    db: Path, *options: str, preexec_fn: Callable[[], None] | None = None
) -> tuple[str, subprocess.Popen[str]]:
    """The server in its own process; its stderr goes to a file (a pipe would fill up).

    It binds port 0 and says which port it got: a port probed free beforehand
    could be taken by another test's server (or PostgreSQL, or Spark) before it binds.
    """
    handle, name = tempfile.mkstemp(prefix="serve-", suffix=".log", dir=db.parent)
    os.close(handle)  # the server's stderr opens it by name
    log = Path(name)
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "activity_report", "serve", "--db", str(db),
             "--port", "0", *options],
            stdout=subprocess.DEVNULL, stderr=stderr, text=True, preexec_fn=preexec_fn,
        )  # fmt: skip
    process.log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        serving = SERVING_ON.search(log.read_text())
        if serving:
            try:
                if httpx.get(serving[1] + "/healthz", timeout=1).status_code == 200:
                    return serving[1], process
            except httpx.TransportError:
                pass
        time.sleep(0.1)
        assert process.poll() is None, log.read_text()
    process.kill()
    raise AssertionError(f"the server did not start: {log.read_text()}")


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    log: Path = process.log  # type: ignore[attr-defined]
    return process.returncode, log.read_text()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("serve") / "store.duckdb"
    assert cli("ingest", str(SAMPLE / "events.parquet"), db=db).returncode == 0
    assert cli("users", "import", str(SAMPLE / "users.csv"), db=db).returncode == 0
    return db


@pytest.fixture(scope="module")
def server(store: Path) -> Iterator[Server]:
    made = cli("tokens", "create", "--name", "tests", db=store)
    assert made.returncode == 0, made.stderr
    # Today's ingest holds the store for its whole run, many seconds on a loaded machine:
    # the requests during it wait that long.
    url, process = start_server(store, "--busy-timeout", "60")
    yield Server(url, store, process, made.stdout.strip())
    code, stderr = stop(process)
    assert code == 0, stderr
    assert "Traceback" not in stderr


def cli_json(store: Path, *args: str) -> object:
    result = run_cli("--db", str(store), *args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- answers


def test_the_curl_of_the_api_page_equals_the_cli(server: Server) -> None:
    curl = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--fail",
            "--request",
            "GET",
            "--url",
            f"{server.url}{ACTIVITY}?{ISSUE_QUERY}",
            "--header",
            f"Session-Token: {server.token}",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert curl.returncode == 0, curl.stderr
    expected = run_cli("--db", str(server.db), *CLI_QUERY, "--format", "json")
    assert curl.stdout == expected.stdout  # byte for byte
    assert json.loads(curl.stdout)["users"]


@pytest.mark.parametrize("interval", ["1+week", "1week", "weekly", "1%20week", "P1W"])
def test_interval_spellings_a_url_allows(server: Server, interval: str) -> None:
    query = ISSUE_QUERY.replace("1%20week", interval)
    response = server.get(f"{ACTIVITY}?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == cli_json(server.db, *CLI_QUERY)


def test_defaults_and_repeated_filters_are_the_cli_s(server: Server) -> None:
    response = server.get(
        f"{ACTIVITY}?org={ORG}&org=other&user=joe2&user=alice92&category=web+terminal"
    )
    assert response.status_code == 200, response.text
    expected = cli_json(
        server.db, "--org", ORG, "--org", "other", "--user", "joe2", "--user", "alice92",
        "--category", "web terminal",
    )  # fmt: skip
    assert response.json() == expected
    assert server.get(ACTIVITY).json() == cli_json(server.db)


@pytest.mark.parametrize(
    "headers",
    [
        {"Coder-Session-Token": "{t}"},
        {"Authorization": "Bearer {t}"},
        {"Session-Token": "{t}"},
    ],
)
def test_every_token_header(server: Server, headers: dict[str, str]) -> None:
    sent = {k: v.format(t=server.token) for k, v in headers.items()}
    response = httpx.get(server.url + ACTIVITY, headers=sent, timeout=30)
    assert response.status_code == 200, response.text


def test_prometheus_gauges(server: Server) -> None:
    response = httpx.get(
        server.url + "/metrics", headers={"Authorization": f"Bearer {server.token}"}, timeout=30
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    for window in ("1d", "7d", "30d", "90d"):
        assert f'activity_report_active_users{{category="any",window="{window}"}} 0' in lines
    assert 'activity_report_events{category="ide"} 0' in lines  # the sample is from 2022
    assert "activity_report_store_events 46393" in lines
    assert httpx.get(server.url + "/metrics", timeout=30).status_code == 401


def test_healthz_and_the_openapi_document(server: Server) -> None:
    assert httpx.get(server.url + "/healthz", timeout=10).json() == {"status": "ok"}
    document = httpx.get(server.url + "/openapi.json", timeout=10).json()
    operation = document["paths"][ACTIVITY]["get"]
    names = [p["name"] for p in operation["parameters"]]
    assert names == [
        "start", "end", "interval", "tz", "category", "org", "user", "heartbeat",
        "min_users", "pseudonymize",
    ]  # fmt: skip


# --------------------------------------------------------------------------- errors


class Answer(Protocol):
    """An HTTP answer: httpx's from a real server, or the in-process TestClient's."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


def assert_json_error(response: Answer, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, str] = response.json()
    assert set(body) == {"message", "detail"}
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    "token", [None, "", "ar_0000000000_" + "x" * 43, "not-a-token", "Bearer", "ar_" + "🙂" * 40]
)
def test_a_missing_or_bad_token_is_401(server: Server, token: str | None) -> None:
    headers = {} if token is None else {b"Session-Token": token.encode()}  # bytes: any UTF-8
    response = httpx.get(server.url + ACTIVITY, headers=headers, timeout=30)
    body = assert_json_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert server.token not in body["detail"]


def test_a_token_in_the_query_string_is_not_taken(server: Server) -> None:
    for name in ("token", "session_token", "coder_session_token"):
        response = httpx.get(f"{server.url}{ACTIVITY}?{name}={server.token}", timeout=30)
        assert response.status_code in (400, 401)
        assert server.token not in response.text


def test_404_and_405_are_json(server: Server) -> None:
    assert_json_error(server.get("/api/private/metrics/nope"), 404)
    response = httpx.post(server.url + ACTIVITY, headers={"Session-Token": server.token})
    assert_json_error(response, 405)


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("interval=fortnight", "interval"),
        ("start=yesterdayish", "start"),
        ("end=2022-13-01", "end"),
        ("tz=Mars/Olympus", "tz"),
        ("category=desk", "category"),
        ("heartbeat=1 month", "heartbeat"),
        ("start=2022-09-01&end=2022-08-01", "end"),
        ("max_buckets=10000000000", "max_buckets"),
        ("bogus=1", "bogus"),
    ],
)
def test_every_bad_parameter_is_400_with_the_cli_message(
    server: Server, query: str, param: str
) -> None:
    body = assert_json_error(server.get(f"{ACTIVITY}?{query}"), 400)
    assert param in body["detail"]
    assert "--" not in body["detail"]  # no command-line flag names


def test_an_unknown_parameter_is_named_unknown_with_the_closest_one(server: Server) -> None:
    body = assert_json_error(server.get(f"{ACTIVITY}?categry=ide"), 400)
    assert body["detail"] == (
        "unknown parameter categry (did you mean category?): the parameters are start, end, "
        "interval, tz, category, org, user, heartbeat, min_users, pseudonymize"
    )


def test_the_message_is_the_cli_s_without_flags(server: Server) -> None:
    body = assert_json_error(server.get(f"{ACTIVITY}?interval=fortnight"), 400)
    cli_error = run_cli("--db", str(server.db), "--interval", "fortnight")
    assert cli_error.stderr.strip() == f"activity-report: error: {body['detail']}".replace(
        "for interval", "for --interval"
    )


INJECTIONS = [
    "' OR 1=1 --",
    "x'); DROP TABLE events; --",
    "$(rm -rf /)",
    "<script>alert(1)</script>",
    "\x00",
    "../../etc/passwd",
    "{__import__('os')}",
]


@pytest.mark.parametrize("name", ["start", "end", "interval", "tz", "category", "heartbeat"])
@pytest.mark.parametrize("value", INJECTIONS)
def test_injection_attempts_are_4xx(server: Server, name: str, value: str) -> None:
    response = server.get(f"{ACTIVITY}?{name}={quote(value)}")
    assert_json_error(response, 400)


@pytest.mark.parametrize("name", ["org", "user"])
@pytest.mark.parametrize("value", [v for v in INJECTIONS if "\x00" not in v])
def test_an_injection_as_an_id_is_a_literal_id_that_matches_nobody(
    server: Server, name: str, value: str
) -> None:
    """Ids are bound as values, never written into SQL: the store stays as it was."""
    whole = server.get(ACTIVITY)
    assert whole.status_code == 200 and whole.json()["users"]
    response = server.get(f"{ACTIVITY}?{name}={quote(value)}")
    assert response.status_code == 200, response.text
    assert response.json()["users"] == {}
    assert response.json() == cli_json(server.db, f"--{name}", value)
    assert server.get(ACTIVITY).json() == whole.json()  # the events are all still there


@pytest.mark.parametrize("name", ["org", "user"])
def test_a_nul_in_an_id_is_4xx(server: Server, name: str) -> None:
    """No command line can pass a NUL, so no id holds one."""
    assert_json_error(server.get(f"{ACTIVITY}?{name}=a%00b"), 400)


@pytest.mark.slow  # a server of its own
def test_a_user_id_with_spaces_quotes_and_accents_is_the_cli_s(tmp_path: Path) -> None:
    """Any id the command line takes, the API takes, with the same answer."""
    odd = 'O\'Brien "Zoë" 李'
    events = tmp_path / "odd.csv"
    events.write_text(
        "time,user_id,category\n"
        f'2022-08-01T10:00:00Z,"{odd.replace(chr(34), chr(34) * 2)}",ide\n'
        "2022-08-01T11:00:00Z,plain,ide\n",
        encoding="utf-8",
    )
    db = tmp_path / "odd.duckdb"
    assert cli("ingest", str(events), db=db).returncode == 0
    made = cli("tokens", "create", "--name", "tests", db=db)
    assert made.returncode == 0, made.stderr
    url, process = start_server(db)
    try:
        server = Server(url, db, process, made.stdout.strip())
        query = "start=2022-08-01T00:00:00Z&end=2022-08-02T00:00:00Z&interval=1%20day"
        response = server.get(f"{ACTIVITY}?{query}&user={quote(odd)}")
        assert response.status_code == 200, response.text
        expected = run_cli(
            "--db", str(db), "--start", "2022-08-01T00:00:00Z", "--end", "2022-08-02T00:00:00Z",
            "--interval", "1 day", "--user", odd, "--format", "json",
        )  # fmt: skip
        assert expected.exit_code == 0, expected.stderr
        assert response.text == expected.stdout
        assert list(response.json()["users"]) == [odd]
    finally:
        code, log = stop(process)
    assert code == 0, log


@pytest.mark.parametrize(
    "name", ["start", "interval", "tz", "category", "org", "user", "heartbeat"]
)
def test_ten_kilobyte_values_are_4xx(server: Server, name: str) -> None:
    body = assert_json_error(server.get(f"{ACTIVITY}?{name}={'a' * 10_240}"), 400)
    assert len(body["detail"]) < 500


@pytest.mark.parametrize(
    "query",
    [
        "start=2022-08-01&start=2022-08-02",
        "interval=1%20week&interval=1%20day",
        "tz=UTC&tz=UTC",
        "&".join(["org=a"] * 200),
        "category=%ff",
        "tz=%c3%28",
        "user=%ed%a0%80",
        "%ff=1",
        "start=2022%2D08%2D01%FE",
    ],
)
def test_repeated_parameters_and_bad_utf8_are_4xx(server: Server, query: str) -> None:
    assert_json_error(server.get(f"{ACTIVITY}?{query}"), 400)


@pytest.mark.parametrize(
    ("query", "named"),
    [("org=%ff", "org"), ("tz=UTC&user=%ed%a0%80", "user"), ("%ff=1", "query")],
)
def test_bad_utf8_names_the_parameter_it_is_in(server: Server, query: str, named: str) -> None:
    body = assert_json_error(server.get(f"{ACTIVITY}?{query}"), 400)
    assert body["message"] == f"Invalid query parameter '{named}'."
    assert "not valid UTF-8 once percent-decoded" in body["detail"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("tz=+05:30", "tz"),
        ("start=2022-08-01T09:00+02:00", "start"),
        ("end=2022-08-31T00:00:00+0200", "end"),
    ],
)
def test_a_plus_that_became_a_space_is_told_to_be_percent_encoded(
    server: Server, query: str, named: str
) -> None:
    body = assert_json_error(server.get(f"{ACTIVITY}?{query}"), 400)
    assert body["message"] == f"Invalid query parameter '{named}'."
    assert body["detail"].endswith("(a '+' in a URL's query is a space: write it %2B)"), body
    encoded = server.get(f"{ACTIVITY}?{query.replace('+', '%2B')}&interval=1%20day")
    assert encoded.status_code == 200, encoded.text


def test_a_hundred_years_at_one_second_is_refused_fast(server: Server) -> None:
    started = time.monotonic()
    response = server.get(f"{ACTIVITY}?start=1970-01-01&end=2070-01-01&interval=1%20second")
    body = assert_json_error(response, 400)
    assert "buckets of 1 second" in body["detail"]
    assert time.monotonic() - started < 10


def test_too_many_buckets_suggests_only_what_the_api_takes(server: Server) -> None:
    response = server.get(f"{ACTIVITY}?interval=hourly&start=2000-01-01&end=2030-01-01")
    body = assert_json_error(response, 400)
    assert body["detail"] == (
        "the range holds 262,992 buckets of 1 hour, more than the limit (100,000); "
        "use a longer interval or a shorter range"
    )  # no max_buckets: the API has no such parameter, nor serve such an option


@pytest.mark.slow  # its own server
def test_one_log_line_per_request(store: Path) -> None:
    made = cli("tokens", "create", "--name", "log-test", db=store)
    url, process = start_server(store)
    try:
        token = made.stdout.strip()
        httpx.get(url + ACTIVITY, headers={"Session-Token": token}, timeout=30)
        httpx.get(url + "/nope", timeout=30)
    finally:
        code, stderr = stop(process)
    assert code == 0
    lines = [line for line in stderr.splitlines() if " GET " in line]
    assert len(lines) == 3, stderr  # /healthz while starting, then the two
    assert lines[1].startswith("127.0.0.1 GET /api/private/metrics/activity 200 ")
    assert lines[2].startswith("127.0.0.1 GET /nope 404 ")
    assert token not in stderr
    assert stderr.rstrip().endswith("activity-report: stopped")


# --------------------------------------------------------------------------- living with cron


@pytest.mark.slow  # three runs of the CLI in a child
def test_a_token_revoked_from_the_shell_fails_at_the_next_request(server: Server) -> None:
    made = cli("tokens", "create", "--name", "to-revoke", db=server.db)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert server.get(ACTIVITY, token=token).status_code == 200
    revoked = cli("tokens", "revoke", "to-revoke", db=server.db)
    assert revoked.returncode == 0, revoked.stderr
    assert_json_error(server.get(ACTIVITY, token=token), 401)
    assert server.get(ACTIVITY).status_code == 200  # the others still work
    listed = json.loads(cli("tokens", "list", "--json", db=server.db).stdout)
    assert [t["name"] for t in listed if t["revoked_at"]] == ["to-revoke"]


@pytest.mark.slow  # ingests in a child while requests come
def test_requests_during_an_ingest_never_fail(server: Server, tmp_path: Path) -> None:
    """16 clients ask while an ingest commits new events; none fails, then they see them."""
    newer = tmp_path / "newer.csv"
    lines = (SAMPLE / "events.csv").read_text().splitlines()
    newer.write_text(
        "\n".join(
            [
                lines[0],
                *(line.replace("evt-", "new-").replace("2022-", "2023-") for line in lines[1:]),
            ]
        )
        + "\n"
    )
    before = server.get(ACTIVITY).json()
    failures: list[str] = []
    statuses: list[int] = []
    stop_event = threading.Event()

    def client() -> None:
        with httpx.Client(headers={"Session-Token": server.token}, timeout=60) as http:
            while not stop_event.is_set():
                response = http.get(server.url + ACTIVITY + "?interval=1%20month")
                statuses.append(response.status_code)
                if response.status_code != 200:
                    failures.append(response.text)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        ingest = cli("ingest", str(newer), db=server.db)
        for _ in range(20):  # the store's writer waits for the server's read window to close
            if ingest.returncode == 0 or "in use by" not in ingest.stderr:
                break
            ingest = cli("ingest", str(newer), db=server.db)
        time.sleep(1)
    finally:
        stop_event.set()
        for thread in threads:
            thread.join()
    assert ingest.returncode == 0, ingest.stderr
    assert failures == []
    assert len(statuses) > 16
    after = server.get(ACTIVITY).json()
    assert after != before
    assert after["activity"][-1]["time"].startswith("2023-")


@pytest.mark.slow  # its own server, held past its busy timeout
def test_a_writer_holding_the_store_past_the_limit_gives_503(store: Path) -> None:
    import duckdb

    made = cli("tokens", "create", db=store)
    url, process = start_server(store, "--busy-timeout", "0.5")
    try:
        time.sleep(2)  # the window of the start-up check is closed
        writer = duckdb.connect(str(store))  # this process now holds the store
        try:
            response = httpx.get(
                url + ACTIVITY, headers={"Session-Token": made.stdout.strip()}, timeout=30
            )
        finally:
            writer.close()
        body = assert_json_error(response, 503)
        assert response.headers["retry-after"] == "5"
        assert "in use by" in body["detail"]
        again = httpx.get(url + ACTIVITY, headers={"Session-Token": made.stdout.strip()})
        assert again.status_code == 200
    finally:
        stop(process)


@pytest.mark.slow  # its own server
def test_sigterm_stops_the_server_cleanly(store: Path) -> None:
    url, process = start_server(store)
    code, stderr = stop(process)
    assert code == 0
    assert "Traceback" not in stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/healthz", timeout=2)


def test_a_cancelled_request_interrupts_its_query() -> None:
    """What the server does when a client goes away: the running DuckDB query stops."""
    import duckdb

    from activity_report.resources import RunContext

    con = duckdb.connect()
    cursor = con.cursor()
    cancel = RunContext()  # what the server gives each request
    cancel.track(cursor)
    outcome: list[BaseException] = []

    def long_query() -> None:
        try:
            cursor.execute("SELECT count(*) FROM range(100000000000) a, range(10) b").fetchall()
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=long_query)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    cancel.cancel()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert time.monotonic() - started < 10
    assert [type(e).__name__ for e in outcome] == ["InterruptException"]
    con.close()


def test_a_client_gone_cancels_its_own_request_and_no_other() -> None:
    """Each request runs in a context of its own: a disconnect stops its query only.

    The order is certain, not a race with the clock: the other request's query
    starts only once the cancelled one has ended, and must still finish.
    """
    import asyncio
    from typing import Any, cast

    import duckdb

    from activity_report.resources import RunContext
    from activity_report.server.errors import ClientGone
    from activity_report.server.routes import run_cancellable

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    endless = "SELECT count(*) FROM range(100000000000) a, range(10) b"
    finite = "SELECT sum(a.range % 7) FROM range(3000000) a"
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    contexts: dict[str, RunContext] = {}
    endless_ended = threading.Event()

    class Client:
        def __init__(self, leaves: bool) -> None:
            self.leaves = leaves

        async def is_disconnected(self) -> bool:  # once both requests run
            return self.leaves and len(started) == 2

    def work(query: str) -> Any:
        def run(context: RunContext) -> Any:
            contexts[query] = context
            cursor = context.track(con.cursor())
            try:
                with context.stops():
                    started[query] = time.monotonic()
                    if query == finite:  # it waits for the other's end, then runs
                        assert endless_ended.wait(timeout=60)
                    return cursor.execute(query).fetchall()
            finally:
                ended[query] = time.monotonic()
                cursor.close()
                if query == endless:
                    endless_ended.set()

        return run

    async def both() -> Any:
        return await asyncio.gather(
            run_cancellable(cast(Any, Client(leaves=True)), work(endless)),
            run_cancellable(cast(Any, Client(leaves=False)), work(finite)),
            return_exceptions=True,
        )

    began = time.monotonic()
    outcome: list[Any] = []  # in a thread of its own: another test may leave a loop running here
    runner = threading.Thread(target=lambda: outcome.extend(asyncio.run(both())))
    runner.start()
    runner.join(timeout=120)
    gone, answered = outcome
    assert time.monotonic() - began < 60  # the endless query stopped
    assert isinstance(gone, ClientGone)
    assert answered == [(8_999_994,)]
    assert ended[finite] > ended[endless]  # it ran on after the other was cancelled
    assert (contexts[endless].interrupted, contexts[finite].interrupted) == (True, False)
    con.close()


def test_a_request_past_the_time_limit_is_stopped() -> None:
    """``run_cancellable`` with a limit cancels the run and fails with TookTooLong."""
    import asyncio
    from typing import Any, cast

    import duckdb

    from activity_report.resources import RunContext
    from activity_report.server.errors import TookTooLong
    from activity_report.server.routes import run_cancellable

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    contexts: list[RunContext] = []

    class Client:
        async def is_disconnected(self) -> bool:
            return False

    ended = threading.Event()

    def endless(context: RunContext) -> Any:
        contexts.append(context)
        cursor = context.track(con.cursor())
        try:
            with context.stops():
                return cursor.execute(
                    "SELECT count(*) FROM range(100000000000) a, range(10) b"
                ).fetchall()
        finally:
            cursor.close()
            ended.set()  # the answer went at the deadline; the worker ends on its own

    outcome: list[BaseException] = []

    async def call() -> None:
        try:
            await run_cancellable(cast(Any, Client()), endless, 1.0)
        except BaseException as exc:  # the outcome under test
            outcome.append(exc)

    began = time.monotonic()
    runner = threading.Thread(target=lambda: asyncio.run(call()))
    runner.start()
    runner.join(timeout=120)
    assert time.monotonic() - began < 60
    assert [type(e) for e in outcome] == [TookTooLong]
    assert "longer than this server allows (1 s)" in str(outcome[0])
    assert [c.interrupted for c in contexts] == [True]
    assert ended.wait(timeout=60)
    con.close()


def test_a_request_past_the_time_limit_is_a_503_without_retry_after(store: Path) -> None:
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from activity_report.server import ServerConfig, create_app
    from activity_report.server.errors import TookTooLong

    async def slow(request: Any) -> Any:
        raise TookTooLong(120)

    app = create_app(ServerConfig(store, log_requests=False), extra_routes=[Route("/slow", slow)])
    with TestClient(app) as client:
        response = client.get("/slow")
    body = assert_json_error(response, 503)
    assert body["message"] == "The request took too long."
    assert "(120 s)" in body["detail"] and "shorter range" in body["detail"]
    assert "retry-after" not in response.headers


@pytest.mark.parametrize(("given", "limit"), [((), 120.0), (("--request-timeout", "0"), None)])
def test_serve_passes_its_request_timeout_to_the_server(
    monkeypatch: pytest.MonkeyPatch, given: tuple[str, ...], limit: float | None
) -> None:
    from activity_report.server import run as server_run

    configs: list[Any] = []
    monkeypatch.setattr(server_run, "serve", lambda config, **_: configs.append(config))
    result = run_cli("serve", "--db", "unused.duckdb", *given)
    assert result.exit_code == 0, result.stderr
    assert [c.timing.request for c in configs] == [limit]
