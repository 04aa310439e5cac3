"""Load on `activity-report serve`: throughput and latency for concurrent clients.

Starts the server in its own process on a free loopback port over a store
(default: one made from sample_data/), makes a token, and runs CLIENTS
concurrent clients for SECONDS each in two workloads:

- ``same``: every client asks the API page's query (a dashboard refreshing);
- ``distinct``: every request asks a query not asked before (another start
  day each time), so no answer can be reused.

Every answer must be a 200 with the report; the script fails otherwise.
Writes a Markdown table to --output (default: benchmarks/RESULTS-SERVE.md).

    python benchmarks/serve_load.py --clients 16 --seconds 20
    python benchmarks/serve_load.py --db /path/to/20M.duckdb --output /tmp/serve-20M.md
"""

from __future__ import annotations

import argparse
import asyncio
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "sample_data"
ACTIVITY = "/api/private/metrics/activity"
PAGE_QUERY = (
    "start=2022-08-01T00:00:00.000000Z&end=2022-08-31T00:00:00.000000Z&category=ide"
    "&interval=1%20week"
)


def cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "activity_report", *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def distinct_queries() -> Callable[[], str]:
    """A new query each call: another start instant (a second apart), same shape."""
    counter = iter(range(10**9))
    base = datetime(2022, 7, 1, tzinfo=UTC)

    def next_query() -> str:
        start = base + timedelta(seconds=next(counter))
        return f"start={start.isoformat().replace('+00:00', 'Z')}&end=2022-09-01&interval=1%20week"

    return next_query


async def load(
    url: str, token: str, clients: int, seconds: float, query: Callable[[], str]
) -> tuple[list[float], int]:
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers={"Session-Token": token}, timeout=60, limits=limits
    ) as http:

        async def client() -> None:
            nonlocal failures
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await http.get(f"{ACTIVITY}?{query()}")
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200 or "activity" not in response.json():
                    failures += 1
                    print(f"failure: {response.status_code} {response.text[:200]}", file=sys.stderr)

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, failures


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
        try:
            for _ in range(600):
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            rows = []
            for name, query in (("same", lambda: PAGE_QUERY), ("distinct", distinct_queries())):
                asyncio.run(load(url, token, 2, 2.0, query))  # warm up
                cpu_before = cpu_seconds(server.pid)
                latencies, failures = asyncio.run(
                    load(url, token, args.clients, args.seconds, query)
                )
                cpu_ms = (cpu_seconds(server.pid) - cpu_before) * 1000 / max(1, len(latencies))
                rate = len(latencies) / args.seconds
                row = (
                    name, len(latencies), failures, rate,
                    statistics.median(latencies) * 1000, percentile(latencies, 0.95) * 1000,
                    max(latencies) * 1000, cpu_ms,
                )  # fmt: skip
                print(
                    f"{name}: {row[1]} requests, {failures} failed, {rate:.0f} req/s, "
                    f"p50 {row[4]:.0f} ms, p95 {row[5]:.0f} ms, max {row[6]:.0f} ms, "
                    f"server CPU {cpu_ms:.1f} ms per request"
                )
                rows.append(row)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        events = cli("info", "--json", "--db", str(db))
    write_results(Path(args.output), args, rows, events, db if args.db else None)
    return 1 if any(row[2] for row in rows) else 0


def write_results(
    path: Path,
    args: argparse.Namespace,
    rows: Sequence[tuple[str, int, int, float, float, float, float, float]],
    info: str,
    db: Path | None,
) -> None:
    import json

    events = json.loads(info)["events"]
    lines = [
        "# `activity-report serve` under load",
        "",
        f"Measured {date.today().isoformat()} by `python benchmarks/serve_load.py "
        f"--clients {args.clients} --seconds {args.seconds:g}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; the clients run on "
        "the same machine as the server.",
        "",
        f"Store: {db or 'made from sample_data/'} ({events:,} events). "
        f"{args.clients} concurrent clients, keep-alive connections, {args.seconds:g} s per "
        "workload. `same`: every request is the API page's query (answers are reused "
        "until the store changes); `distinct`: every request a new start instant, so "
        "each one runs the report.",
        "",
        "| workload | requests | failed | req/s | p50 ms | p95 ms | max ms | server CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.0f} | {r[4]:.0f} | {r[5]:.0f} | {r[6]:.0f} "
            f"| {r[7]:.1f} |"
            for r in rows
        ),
        "",
        "Server CPU per request (user + system time of the server process, all threads, "
        "over the requests answered) does not depend on what else the machine runs: "
        "1000 / it is the requests a second one core would answer.",
        "",
    ]
    if args.note:
        lines += [args.note, ""]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
