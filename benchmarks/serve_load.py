"""Load on `activity-report serve`: throughput and latency for concurrent clients.

Starts the server in its own process on a free loopback port over a store
(default: one made from sample_data/), makes a token, and runs CLIENTS
concurrent clients for SECONDS each in three workloads, every request a
query not asked before, so no cached answer can be reused:

- ``days``: daily buckets over a range of 1 to 28 whole days (UTC), as the
  view asks;
- ``unaligned``: daily buckets over the 7 days before an instant with
  seconds and microseconds, as a script asks for "the last 7 days";
- ``filters``: one organization and one category over 1 to 28 whole days.

Every answer must be a 200 with the report; the script fails otherwise.
Then a sample of each workload's queries is asked again and compared with
the CLI's ``--json`` report of the same store. Writes a Markdown table to
--output (default: benchmarks/RESULTS-SERVE.md).

    python benchmarks/serve_load.py --clients 16 --seconds 20
    python benchmarks/serve_load.py --db /path/to/20M.duckdb --output /tmp/serve-20M.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "sample_data"
ACTIVITY = "/api/private/metrics/activity"
CATEGORIES = ("ide", "tunnel", "web_terminal", "login", "app")

Queries = Callable[[int], dict[str, str]]


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "activity_report", *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str) -> None:
    """Wait up to about a minute for the server at ``url`` to answer ``/healthz``."""
    for _ in range(600):
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def workloads(first: datetime, last: datetime, orgs: Sequence[str]) -> dict[str, Queries]:
    """The workloads over a store whose events lie from ``first`` to ``last``: the ``i``th
    query of each, all distinct (for ``i`` below some thousands)."""
    day0 = first.replace(hour=0, minute=0, second=0, microsecond=0)
    days = max(1, (last - day0).days)

    def day_range(i: int) -> tuple[datetime, datetime]:
        # Lengths of 1 to 28 days in turn, each 28 queries a day later: no pair repeats.
        length = 1 + i % 28
        start = day0 + timedelta(days=(i // 28 + 5 * (i % 28)) % max(1, days - 28))
        return start, start + timedelta(days=length)

    def aligned(i: int) -> dict[str, str]:
        start, end = day_range(i)
        return {"start": stamp(start), "end": stamp(end), "interval": "1 day"}

    def unaligned(i: int) -> dict[str, str]:
        # The 7 days before an instant 7,919.000123 s after the previous one's.
        span = max(1, days - 7) * 86_400
        end = day0 + timedelta(days=7, seconds=(7919 * i + 11) % span, microseconds=123 * i)
        return {"start": stamp(end - timedelta(days=7)), "end": stamp(end), "interval": "1 day"}

    def filtered(i: int) -> dict[str, str]:
        start, end = day_range(i // (len(orgs) * 3))
        return {
            "start": stamp(start),
            "end": stamp(end),
            "interval": "1 day",
            "org": orgs[i % len(orgs)],
            "category": CATEGORIES[(i // len(orgs)) % 3],
        }

    return {"days": aligned, "unaligned": unaligned, "filters": filtered}


async def load(
    url: str, token: str, clients: int, seconds: float, queries: Queries, first: int
) -> tuple[list[float], int, int]:
    """Run ``clients`` clients for ``seconds``, asking queries ``first``, ``first + 1``, ...

    Each client has a keep-alive connection of its own and one request in flight
    at a time. The clients speak HTTP/1.1 on asyncio's streams, not through an
    HTTP library: they share the machine's cores with the server, and what a
    request costs them is what the server cannot use (see ``client CPU`` in the
    results). Returns the latencies, the failures and the next query's number.
    """
    latencies: list[float] = []
    failures = 0
    counter = iter(range(first, 10**9))
    deadline = time.monotonic() + seconds
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = f"Host: {parts.netloc}\r\nSession-Token: {token}\r\n\r\n".encode()

    async def client() -> None:
        nonlocal failures
        connection = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline:
                target = f"{ACTIVITY}?{urlencode(queries(next(counter)))}"
                started = time.perf_counter()
                connection[1].write(f"GET {target} HTTP/1.1\r\n".encode() + head)
                status, body, kept = await answer(connection[0])
                latencies.append(time.perf_counter() - started)
                # Not parsed: the clients share the machine with the server.
                if status != 200 or b'"activity"' not in body[:4096]:
                    failures += 1
                    print(f"failure: {status} {body[:200]!r}", file=sys.stderr)
                if not kept:
                    connection[1].close()
                    connection = await asyncio.open_connection(host, port)
        finally:
            connection[1].close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, failures, next(counter)


async def answer(stream: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """An HTTP/1.1 response read from ``stream``: its status, its body, and whether the
    connection stays open."""
    head = await stream.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name:
            headers[name.strip().lower()] = value.strip().lower()
    if b"content-length" in headers:
        body = await stream.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding") == b"chunked":
        chunks = []
        while size := int((await stream.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append(await stream.readexactly(size))
            await stream.readexactly(2)
        await stream.readuntil(b"\r\n")  # the empty trailer
        body = b"".join(chunks)
    else:
        return status, await stream.read(), False
    return status, body, headers.get(b"connection") != b"close"


def same_as_cli(url: str, token: str, db: Path, params: dict[str, str]) -> bool:
    """Whether the server's answer to ``params`` is the CLI's ``--json`` report of ``db``."""
    served = httpx.get(url + ACTIVITY, params=params, headers={"Session-Token": token}, timeout=60)
    args = [f"--{key}={value}" for key, value in params.items()]
    reported = cli("--db", str(db), *args, "--json")
    return bool(served.status_code == 200 and served.json() == json.loads(reported))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", help="a store; default: one made from sample_data/")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--checks", type=int, default=3, help="answers per workload compared")
    parser.add_argument("--output", default=str(HERE / "RESULTS-SERVE.md"))
    parser.add_argument(
        "--note", default="", help="a line for the results, e.g. the machine's load"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        db = Path(args.db) if args.db else Path(tmp) / "sample.duckdb"
        if not args.db:
            cli("ingest", str(SAMPLE / "events.parquet"), "--db", str(db))
            cli("users", "import", str(SAMPLE / "users.csv"), "--db", str(db))
        info = json.loads(cli("info", "--json", "--db", str(db)))
        moment = datetime.fromisoformat
        orgs = [o["organization_id"] for o in info["organizations"] if o["organization_id"]]
        loads = workloads(moment(info["first_event"]), moment(info["last_event"]), orgs)
        token = cli("tokens", "create", "--name", f"load-{os.getpid()}", "--db", str(db)).strip()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(tmp) / "serve.log"
        with log.open("w") as stderr:
            server = subprocess.Popen(
                [sys.executable, "-m", "activity_report", "serve", "--db", str(db),
                 "--port", str(port)],
                stdout=subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
        rows: list[Row] = []
        mismatches: list[str] = []
        load_before = os.getloadavg()
        try:
            wait_healthy(url)
            for name, queries in loads.items():
                # Warm-up queries are numbered apart from the measured ones.
                asyncio.run(load(url, token, 2, 2.0, queries, 10**6))
                cpu_before, own_before = cpu_seconds(server.pid), time.process_time()
                latencies, failures, _ = asyncio.run(
                    load(url, token, args.clients, args.seconds, queries, 0)
                )
                answered = max(1, len(latencies))
                cpu_ms = (cpu_seconds(server.pid) - cpu_before) * 1000 / answered
                client_ms = (time.process_time() - own_before) * 1000 / answered
                rate = len(latencies) / args.seconds
                row = (
                    name, len(latencies), failures, rate,
                    statistics.median(latencies) * 1000, percentile(latencies, 0.95) * 1000,
                    max(latencies) * 1000, cpu_ms, client_ms,
                )  # fmt: skip
                print(
                    f"{name}: {row[1]} requests, {failures} failed, {rate:.0f} req/s, "
                    f"p50 {row[4]:.0f} ms, p95 {row[5]:.0f} ms, max {row[6]:.0f} ms, "
                    f"server CPU {cpu_ms:.1f} ms per request, clients' CPU {client_ms:.1f} ms"
                )
                rows.append(row)
                step = max(1, len(latencies) // max(1, args.checks))
                for i in range(0, step * args.checks, step):
                    if not same_as_cli(url, token, db, queries(i)):
                        mismatches.append(f"{name}: {urlencode(queries(i))}")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        load_after = os.getloadavg()
    for mismatch in mismatches:
        print(f"differs from the CLI: {mismatch}", file=sys.stderr)
    checked = f"{args.checks} answers of each workload compared with the CLI's: " + (
        "all equal." if not mismatches else f"{len(mismatches)} differ."
    )
    print(checked)
    write_results(
        Path(args.output), args, rows, info["events"], db if args.db else None,
        (load_before, load_after), checked,
    )  # fmt: skip
    return 1 if mismatches or any(row[2] for row in rows) else 0


Row = tuple[str, int, int, float, float, float, float, float, float]


def write_results(
    path: Path,
    args: argparse.Namespace,
    rows: Sequence[Row],
    events: int,
    db: Path | None,
    loads: tuple[tuple[float, float, float], tuple[float, float, float]],
    checked: str,
) -> None:
    def load(values: tuple[float, float, float]) -> str:
        return " ".join(f"{v:.2f}" for v in values)

    command = "python benchmarks/serve_load.py" + (" --db STORE" if db else "")
    lines = [
        "# `activity-report serve` under load",
        "",
        f"Measured {date.today().isoformat()} by `{command} --clients {args.clients} "
        f"--seconds {args.seconds:g}` on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; the clients run on the same machine as the "
        f"server. Load average (1, 5, 15 min) {load(loads[0])} before, {load(loads[1])} "
        "after.",
        "",
        f"Store: {db or 'made from sample_data/'} ({events:,} events). "
        f"{args.clients} concurrent clients, keep-alive connections, {args.seconds:g} s per "
        "workload, every request a query not asked before (no cached answer). `days`: "
        "daily buckets over 1 to 28 whole days (UTC); `unaligned`: daily buckets over the "
        "7 days before an instant with seconds; `filters`: one organization and one "
        "category over 1 to 28 whole days.",
        "",
        "| workload | requests | failed | req/s | p50 ms | p95 ms | max ms | server CPU ms/req "
        "| clients' CPU ms/req | target (50 req/s, p95 < 250 ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        *(
            f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.0f} | {r[4]:.0f} | {r[5]:.0f} | {r[6]:.0f} "
            f"| {r[7]:.1f} | {r[8]:.1f} | {'met' if r[3] >= 50 and r[5] < 250 else 'missed'} |"
            for r in rows
        ),
        "",
        checked,
        "",
        "Server CPU per request (user + system time of the server process, all threads, "
        "over the requests answered) depends far less than latency on what else the "
        "machine runs: 1000 / it is about the requests a second one idle core would answer. "
        f"The clients' CPU is this script's (its {args.clients} clients speak HTTP/1.1 on "
        "asyncio's streams, one keep-alive connection each) over the same requests: on the same "
        "cores, it is CPU the server did not have.",
        "",
    ]
    if args.note:
        lines += [args.note, ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
