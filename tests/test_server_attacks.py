"""`serve` facing careless and hostile clients: the real server, raw sockets, bounded time.

What one client may cost the server (docs/serving.md, "Limits"): it may not
stop it, hold its connections, starve its cheap answers, or keep a worker past
the request timeout; and proxy headers are believed only from a named proxy.
"""

from __future__ import annotations

import asyncio
import resource
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import SAMPLE
from .test_server import ACTIVITY, cli, start_server, stop

#: About 88,000 hourly buckets: seconds of work, most of it in Python (edges, JSON).
SLOW = "start={year}-01-01T00:00:00Z&end={next}-01-01T00:00:00Z&interval=hourly"
CHEAP = "start=2022-08-01T00:00:00Z&end=2022-08-08T00:00:00Z&interval=daily"


#: Its examples are checked against what the server says here.
SERVING = (Path(__file__).resolve().parent.parent / "docs" / "serving.md").read_text()


def slow_query(first_year: int) -> str:
    return SLOW.format(year=first_year, next=first_year + 10)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("attacks") / "store.duckdb"
    assert cli("ingest", str(SAMPLE / "events.parquet"), db=db).returncode == 0
    assert cli("users", "import", str(SAMPLE / "users.csv"), db=db).returncode == 0
    return db


@pytest.fixture(scope="module")
def token(store: Path) -> str:
    made = cli("tokens", "create", "--name", "attacks", db=store)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


@pytest.fixture
def served(store: Path, request: pytest.FixtureRequest) -> Iterator[tuple[str, Path]]:
    """The server with the test's options (``@pytest.mark.parametrize('served', ...)``)."""
    options: tuple[str, ...] = getattr(request, "param", ())
    url, process = start_server(store, *options)
    yield url, process.log  # type: ignore[attr-defined]
    code, stderr = stop(process)
    assert code == 0, stderr
    assert "Traceback" not in stderr


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def raw(url: str) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port_of(url)), timeout=10)


def closed_after(sock: socket.socket, limit: float, drip: bytes = b"") -> float | None:
    """Seconds until the server closes ``sock`` (sending ``drip`` a byte at a time), or None."""
    began = time.monotonic()
    sent = 0
    while time.monotonic() - began < limit:
        if sent < len(drip):
            try:
                sock.sendall(drip[sent : sent + 1])
            except OSError:
                return time.monotonic() - began
            sent += 1
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            try:
                if sock.recv(65536) == b"":
                    return time.monotonic() - began
            except OSError:
                return time.monotonic() - began
    return None


def healthz_ms(url: str) -> float:
    began = time.monotonic()
    assert httpx.get(url + "/healthz", timeout=10).status_code == 200
    return (time.monotonic() - began) * 1000


# --------------------------------------------------------------------------- hang-ups


@pytest.mark.slow  # its own server
def test_clients_that_hang_up_at_once_never_stop_the_server(store: Path) -> None:
    url, process = start_server(store)
    for attempt in range(20):
        for path in ("/healthz", "/", "/view.css"):
            sock = raw(url)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            if attempt % 2:  # a reset rather than a close: the server's next write fails
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
    time.sleep(0.5)
    assert process.poll() is None, process.log.read_text()  # type: ignore[attr-defined]
    assert httpx.get(url + "/healthz", timeout=10).json() == {"status": "ok"}
    code, stderr = stop(process)
    assert code == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.slow  # its own server
def test_a_malformed_body_is_answered_400_with_one_log_line_and_no_traceback(
    store: Path, token: str
) -> None:
    """The server answers a body it cannot parse itself, and closes; the app's own answer,
    sent after that, is refused by the connection: no error of the app's."""
    url, process = start_server(store)
    for path, headers in (("/healthz", ""), (ACTIVITY, f"Session-Token: {token}\r\n")):
        sock = raw(url)
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Transfer-Encoding: chunked\r\n\r\n"
            "zz\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        sock.close()
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    time.sleep(0.5)  # the app's side ends after the answer
    assert httpx.get(url + "/healthz", timeout=10).json() == {"status": "ok"}
    code, stderr = stop(process)
    assert code == 0, stderr
    assert "Traceback" not in stderr and "unexpected" not in stderr, stderr
    # A quick answer is refused by the connection (logged as the 400 the client got); a
    # slower one comes once the server has closed it, and uvicorn drops it unsaid.
    logged = [line.split()[1:4] for line in stderr.splitlines() if " GET /" in line]
    assert ["GET", "/healthz", "400"] in logged, logged


def test_a_report_piped_to_a_reader_that_leaves_still_ends_quietly(store: Path) -> None:
    """The report commands keep ending quietly when `| head` stops reading."""
    pipeline = subprocess.run(
        f"{sys.executable} -m activity_report --db {store} --interval hourly | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(pipeline.stdout) == 10
    assert pipeline.stderr == ""


# --------------------------------------------------------------------------- the port


def test_a_port_in_use_is_one_line_before_any_claim_to_serve(store: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = cli("serve", "--port", str(port), db=store)
    assert result.returncode == 1
    assert result.stderr == (
        f"activity-report: error: port {port} on 127.0.0.1 is in use; stop the program that "
        "listens there, or choose another port with --port\n"
    )
    assert result.stderr.replace(str(port), "3000") in SERVING


# --------------------------------------------------------------------------- slow clients


@pytest.mark.slow  # its own server, and the header timeout
@pytest.mark.parametrize("served", [("--header-timeout", "1")], indirect=True)
def test_requests_whose_headers_never_end_are_closed(served: tuple[str, Path]) -> None:
    url, _ = served
    silent, partial, drip, second, body = raw(url), raw(url), raw(url), raw(url), raw(url)
    partial.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    # Whole headers, then a tenth of the body they announce.
    body.sendall(
        b"POST /signin HTTP/1.1\r\nHost: x\r\nOrigin: http://x\r\nContent-Length: 100\r\n\r\n"
        b"token=abc&"
    )
    # A complete request and its answer, then the next request's first line only:
    # uvicorn's keep-alive timer no longer runs, the header timeout does.
    second.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b" 200 " in second.recv(65536)
    second.sendall(b"GET /healthz HTTP/1.1\r\n")
    slowloris = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200
    waits = {
        "silent": closed_after(silent, 4),
        "partial": closed_after(partial, 4),
        "second": closed_after(second, 4),
        "one byte at a time": closed_after(drip, 4, slowloris),
        "a body that never ends": closed_after(body, 4),
    }
    assert all(wait is not None and wait < 3.5 for wait in waits.values()), waits
    assert healthz_ms(url) < 1000


@pytest.mark.slow  # its own server
@pytest.mark.parametrize(
    "served", [("--max-connections", "8", "--header-timeout", "2")], indirect=True
)
def test_connections_past_the_limit_get_503_at_once_and_one_log_line(
    served: tuple[str, Path],
) -> None:
    url, log = served
    idle = [raw(url) for _ in range(8)]
    time.sleep(0.3)
    extra = [raw(url) for _ in range(12)]
    answers = []
    for sock in extra:
        sock.settimeout(5)
        answers.append(sock.recv(65536))
        sock.close()
    assert all(a.startswith(b"HTTP/1.1 503 ") and b"Retry-After: " in a for a in answers)
    assert all(b"too many connections" in a for a in answers)
    assert answers[0].decode().split("\r\n\r\n")[1] in SERVING
    # The idle ones time out, and their places are free again.
    assert all(closed_after(sock, 5) is not None for sock in idle)
    assert healthz_ms(url) < 1000
    warnings = [line for line in log.read_text().splitlines() if "connections open" in line]
    assert warnings == [
        "activity-report: warning: 9 connections open, the limit (--max-connections 8); "
        "new ones are answered 503 until some close"
    ]
    assert warnings[0].replace("9 ", "1001 ").replace(" 8)", " 1000)") in SERVING


@pytest.mark.slow  # its own server
def test_a_process_short_of_descriptors_caps_its_connections(store: Path) -> None:
    """At `ulimit -n 256` a flood of idle connections never runs the server out of files."""

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    url, process = start_server(store, "--header-timeout", "2", preexec_fn=few_files)
    try:
        flood = []
        for _ in range(400):
            try:
                flood.append(raw(url))
            except OSError:
                break
        assert len(flood) == 400
        time.sleep(3)  # the header timeout closes them
        for sock in flood:
            sock.close()
        assert process.poll() is None, process.log.read_text()  # type: ignore[attr-defined]
        assert healthz_ms(url) < 1000
    finally:
        code, stderr = stop(process)
    assert code == 0
    assert "Errno 24" not in stderr and "Traceback" not in stderr
    noted = [line for line in stderr.splitlines() if "at most" in line]
    assert noted == [
        "activity-report: note: at most 128 connections, not 1000: the process may open only "
        "256 files (raise `ulimit -n` for more)"
    ]
    assert noted[0] in SERVING
    assert len(stderr) < 5_000


def test_running_out_of_descriptors_is_logged_once(capsys: pytest.CaptureFixture[str]) -> None:
    from activity_report.server.limits import quiet_accept_errors

    loop = asyncio.new_event_loop()
    try:
        quiet_accept_errors(loop, 1024)
        for _ in range(100):
            loop.call_exception_handler(
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(24, "Too many open files"),
                }
            )
    finally:
        loop.close()
    logged = capsys.readouterr().err.splitlines()
    assert logged == [
        "activity-report: error: out of file descriptors (the process may open 1024); new "
        "connections wait until some close; raise `ulimit -n` or lower serve's --max-connections"
    ]
    assert logged[0] in SERVING


# --------------------------------------------------------------------------- work in flight


@pytest.mark.slow  # its own server, a flood of reports
@pytest.mark.parametrize(
    "served", [("--workers", "1", "--queue", "1", "--request-timeout", "60")], indirect=True
)
def test_a_flood_of_big_reports_is_refused_fast_and_small_answers_stay_fast(
    served: tuple[str, Path], token: str
) -> None:
    url, _ = served
    headers = {"Session-Token": token}
    cached = httpx.get(f"{url}{ACTIVITY}?{CHEAP}", headers=headers, timeout=30)
    assert cached.status_code == 200
    outcomes: dict[int, tuple[int, float, httpx.Response]] = {}

    def slow(year: int) -> None:
        began = time.monotonic()
        answer = httpx.get(f"{url}{ACTIVITY}?{slow_query(year)}", headers=headers, timeout=120)
        outcomes[year] = (answer.status_code, time.monotonic() - began, answer)

    flood = [threading.Thread(target=slow, args=(2000 + i,)) for i in range(8)]
    began = time.monotonic()
    for thread in flood:
        thread.start()
    time.sleep(0.5)
    quick, small = [], []
    for day in range(1, 6):
        quick.append(healthz_ms(url))
        start = time.monotonic()
        again = httpx.get(f"{url}{ACTIVITY}?{CHEAP}", headers=headers, timeout=30)
        assert again.content == cached.content
        quick.append((time.monotonic() - start) * 1000)
        # A small report never asked before: computed beside the flood, not behind it.
        start = time.monotonic()
        fresh = httpx.get(
            f"{url}{ACTIVITY}?start=2022-08-{day:02d}&end=2022-08-{day + 10:02d}&interval=daily",
            headers=headers,
            timeout=30,
        )
        assert fresh.status_code == 200, fresh.text
        small.append((time.monotonic() - start) * 1000)
        assert httpx.get(f"{url}/metrics", headers=headers, timeout=30).status_code == 200
    for thread in flood:
        thread.join(timeout=120)
    assert time.monotonic() - began < 100
    assert max(quick) < 1000, quick
    # Not refused, and answered while big ones run; how soon is the store reader's
    # (its read window drains before it reopens, a second or a big report's time).
    assert max(small) < 10_000, small
    statuses = sorted(status for status, _, _ in outcomes.values())
    assert len(statuses) == 8
    assert statuses.count(200) <= 2  # one running, one waiting
    refused = [(took, answer) for status, took, answer in outcomes.values() if status == 503]
    assert len(refused) >= 6
    for took, answer in refused:
        assert took < 5
        assert answer.headers["Retry-After"] == "5"
        assert answer.json()["message"] == "The server is busy; try again shortly."
        shown = answer.text.replace("1 waiting", "0 waiting")
        assert shown in SERVING


@pytest.mark.slow  # its own server, a report to its deadline
@pytest.mark.parametrize(  # a limit no ten-year hourly report meets, on any machine
    "served", [("--workers", "1", "--queue", "0", "--request-timeout", "0.05")], indirect=True
)
def test_a_timeout_answers_at_its_deadline_and_ends_the_work(
    served: tuple[str, Path], token: str
) -> None:
    url, _ = served
    headers = {"Session-Token": token}
    began = time.monotonic()
    answer = httpx.get(f"{url}{ACTIVITY}?{slow_query(2010)}", headers=headers, timeout=60)
    took = time.monotonic() - began
    assert answer.status_code == 503
    assert answer.json()["message"] == "The request took too long."
    assert took < 2.5
    assert answer.text.replace("(0.05 s)", "(2 s)") in SERVING
    # The one worker is free again at once: the run stopped in Python, not minutes later.
    statuses = []
    for _ in range(10):
        statuses.append(httpx.get(f"{url}{ACTIVITY}?{CHEAP}", headers=headers).status_code)
        if statuses[-1] == 200:
            break
        time.sleep(0.1)
    assert statuses[-1] == 200, statuses


@pytest.mark.slow  # a ten-year hourly report built in Python, three times
def test_a_cancel_ends_the_python_side_of_a_report() -> None:
    from datetime import UTC, datetime

    from activity_report.errors import Interrupted
    from activity_report.intervals import bucket_edges, parse_interval
    from activity_report.model import build_report, to_json
    from activity_report.resources import RunContext

    context = RunContext()
    start, end = datetime(2010, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)
    edges = bucket_edges(start, end, parse_interval("hourly"), UTC, check=context.check)
    cells = [(b, "u", 1, 1_000_000) for b in range(len(edges) - 1)]
    report = build_report(edges, cells, {}, check=context.check)
    context.cancel()
    for work in (
        lambda: bucket_edges(start, end, parse_interval("hourly"), UTC, check=context.check),
        lambda: build_report(edges, cells, {}, check=context.check),
        lambda: to_json(report, check=context.check),
    ):
        with pytest.raises(Interrupted):
            work()


# --------------------------------------------------------------------------- proxies


@pytest.mark.parametrize(
    ("options", "believed"), [((), False), (("--forwarded-allow-ips", "127.0.0.1"), True)]
)
def test_proxy_headers_are_believed_from_the_named_proxy_only(
    store: Path, token: str, options: tuple[str, ...], believed: bool
) -> None:
    url, process = start_server(store, *options)
    forged = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    try:
        assert httpx.get(url + "/healthz", headers=forged, timeout=10).status_code == 200
        scheme = "https" if believed else "http"
        signed_in = httpx.post(
            url + "/signin",
            data={"token": token, "next": ""},
            headers={**forged, "Origin": f"{scheme}://127.0.0.1:{port_of(url)}"},
            timeout=30,
        )
    finally:
        code, stderr = stop(process)
    assert code == 0
    assert signed_in.status_code == 303, signed_in.text
    cookie = signed_in.headers["set-cookie"]
    assert ("secure" in cookie.lower()) is believed
    logged = [line.split()[0] for line in stderr.splitlines() if " GET /healthz " in line]
    assert logged[-1] == ("203.0.113.7" if believed else "127.0.0.1")


def test_a_forwarded_allow_ips_that_is_no_address_is_a_usage_error(store: Path) -> None:
    result = cli("serve", "--forwarded-allow-ips", "10.0.0.1,my-proxy", db=store)
    assert result.returncode == 2
    assert result.stderr == (
        "activity-report: error: invalid value for --forwarded-allow-ips: 'my-proxy' (an IP "
        "address or network of the proxy in front of this server, such as 10.0.0.5 or "
        "10.0.0.0/24, several separated by commas, or * for any)\n"
    )


@pytest.mark.slow  # its own server
def test_a_big_page_of_the_view_is_drawn_beside_the_cheap_answers(
    served: tuple[str, Path], token: str
) -> None:
    """The view's page of a big report is drawn on a worker: /healthz does not wait for it."""
    url, _ = served
    with httpx.Client(base_url=url, timeout=120) as browser:
        signed_in = browser.post(
            "/signin",
            data={"token": token, "next": ""},
            headers={"Origin": f"http://127.0.0.1:{port_of(url)}"},
        )
        assert signed_in.status_code == 303, signed_in.text
        pages: list[httpx.Response] = []
        page = threading.Thread(
            target=lambda: pages.append(
                browser.get("/?start=2020-01-01&end=2023-01-01&interval=hourly&tz=UTC")
            )
        )
        page.start()
        waits = []
        while page.is_alive():
            waits.append(healthz_ms(url))
            time.sleep(0.05)
        page.join()
    assert pages[0].status_code == 200
    assert "2022-12-31" in pages[0].text
    assert len(waits) > 3 and max(waits) < 1000, waits
