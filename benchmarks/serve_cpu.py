"""Server CPU per answer: two builds of `activity-report serve` side by side, in turns.

Starts one server per ``--code LABEL=SRC`` (its ``activity_report`` package
from ``SRC``, e.g. a checkout's ``src/``) over the same store, and asks each
the same queries of ``serve_load.py``'s workloads one at a time (no query
asked twice of a server, so no cached answer), alternating between the
servers ``--rounds`` times. The figure is the server process's CPU time
(user + system, all threads) per answer: what one answer costs, which the
machine's other work changes far less than latency. Every answer of one
server must equal, byte for byte, the other's answer to the same query.

    python benchmarks/serve_cpu.py --db STORE --code before=../main/src --code after=src

A build whose schema differs from the other's reads a store of its own:
``--store after=COPY`` (a copy of ``--db`` that build has upgraded); the
answers must still be equal.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
from serve_load import ACTIVITY, cli, cpu_seconds, free_port, wait_healthy, workloads


@dataclass
class Server:
    label: str
    src: str
    process: subprocess.Popen[bytes]
    url: str
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)  # per workload, per round
    wall_ms: dict[str, list[float]] = field(default_factory=dict)


def start(label: str, src: str, db: Path) -> Server:
    port = free_port()
    env = build_env(src)
    process = subprocess.Popen(
        [sys.executable, "-m", "activity_report", "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url)
    return Server(label, src, process, url)


def build_env(src: str) -> dict[str, str]:
    """The environment that runs the ``activity_report`` package of ``src``."""
    return {**os.environ, "PYTHONPATH": str(Path(src).resolve())}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db", required=True, help="the store")
    parser.add_argument(
        "--code", action="append", required=True, metavar="LABEL=SRC",
        help="a build to measure: a label and the folder holding its activity_report package",
    )  # fmt: skip
    parser.add_argument(
        "--store", action="append", default=[], metavar="LABEL=DB",
        help="the store of one build, instead of --db (a copy it has upgraded)",
    )  # fmt: skip
    parser.add_argument("--requests", type=int, default=30, help="answers per workload and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="days,unaligned,filters")
    args = parser.parse_args(argv)
    db = Path(args.db)

    info = json.loads(cli("info", "--json", "--db", str(db)))
    orgs = [o["organization_id"] for o in info["organizations"] if o["organization_id"]]
    moment = datetime.fromisoformat
    loads = workloads(moment(info["first_event"]), moment(info["last_event"]), orgs)
    names = [name.strip() for name in args.workloads.split(",")]
    stores = {label: Path(path) for label, _, path in (s.partition("=") for s in args.store)}
    servers, tokens = [], {}
    for code in args.code:
        label, _, src = code.partition("=")
        store = stores.get(label, db)
        name = f"cpu-{os.getpid()}-{label}"
        made = subprocess.run(
            [sys.executable, "-m", "activity_report", "tokens", "create", "--name", name,
             "--db", str(store)],
            capture_output=True, text=True, check=True, env=build_env(src),
        )  # fmt: skip
        tokens[label] = made.stdout.strip()
        servers.append(start(label, src, store))
    load_before = os.getloadavg()
    differ = 0
    try:
        for name in names:
            queries = loads[name]
            for server in servers:  # warm-up, numbered apart from the measured queries
                for i in range(3):
                    ask(server, tokens[server.label], queries(10**6 + i))
            for round_ in range(args.rounds):
                first = round_ * args.requests
                bodies: list[list[bytes]] = []
                for server in servers:
                    before, started = cpu_seconds(server.process.pid), time.perf_counter()
                    answers = [
                        ask(server, tokens[server.label], queries(first + i))
                        for i in range(args.requests)
                    ]
                    took = time.perf_counter() - started
                    cpu = cpu_seconds(server.process.pid) - before
                    server.cpu_ms.setdefault(name, []).append(cpu * 1000 / args.requests)
                    server.wall_ms.setdefault(name, []).append(took * 1000 / args.requests)
                    bodies.append(answers)
                differ += sum(
                    1
                    for answers in bodies[1:]
                    for a, b in zip(answers, bodies[0], strict=True)
                    if a != b
                )
                print(
                    f"{name} round {round_ + 1}: "
                    + ", ".join(f"{s.label} {s.cpu_ms[name][-1]:.1f} ms CPU" for s in servers),
                    flush=True,
                )
    finally:
        for server in servers:
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=30)
    load_after = os.getloadavg()
    print_table(servers, names, args, info["events"], (load_before, load_after), differ)
    return 1 if differ else 0


def ask(server: Server, token: str, params: dict[str, str]) -> bytes:
    response = httpx.get(
        server.url + ACTIVITY, params=params, headers={"Session-Token": token}, timeout=120
    )
    if response.status_code != 200:
        raise SystemExit(f"{server.label}: {response.status_code} {response.text[:200]}")
    return response.content


def print_table(
    servers: Sequence[Server],
    names: Sequence[str],
    args: argparse.Namespace,
    events: int,
    loads: tuple[tuple[float, ...], tuple[float, ...]],
    differ: int,
) -> None:
    def load(values: tuple[float, ...]) -> str:
        return " ".join(f"{v:.2f}" for v in values)

    print()
    print(
        f"{events:,} events; {args.requests} answers per workload, round and server, "
        f"{args.rounds} rounds in turns; load average {load(loads[0])} before, "
        f"{load(loads[1])} after; {os.cpu_count()} cores."
    )
    labels = [s.label for s in servers]
    head = ["workload"] + [f"{label} CPU ms/answer" for label in labels]
    head += [f"{label} req/s on {os.cpu_count()} idle cores" for label in labels]
    if len(servers) == 2:
        head.append(f"CPU {labels[1]} / {labels[0]}")
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * (len(head) - 1))
    for name in names:
        medians = [statistics.median(s.cpu_ms[name]) for s in servers]
        row = [name] + [
            f"{m:.1f} ({min(s.cpu_ms[name]):.1f}-{max(s.cpu_ms[name]):.1f})"
            for m, s in zip(medians, servers, strict=True)
        ]
        row += [f"{1000 * (os.cpu_count() or 1) / m:.0f}" for m in medians]
        if len(servers) == 2:
            row.append(f"{medians[1] / medians[0]:.2f}")
        print("| " + " | ".join(row) + " |")
    print()
    print(
        "All answers byte-identical between the servers."
        if not differ
        else f"{differ} answers differ between the servers."
    )


if __name__ == "__main__":
    sys.exit(main())
