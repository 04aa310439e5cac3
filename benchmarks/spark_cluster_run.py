"""``--engine spark`` on a standalone Spark cluster on this machine, next to ``--engine duckdb``.

Starts, from the pyspark install's own ``bin/`` (``spark-class``,
``spark-submit``; Java 17 or newer on the PATH):

1. a standalone master (``org.apache.spark.deploy.master.Master``),
2. one worker registered with it (``org.apache.spark.deploy.worker.Worker
   spark://127.0.0.1:PORT``),
3. a Spark Connect server whose applications run on that cluster
   (``SparkConnectServer --master spark://127.0.0.1:PORT``),

each on a free port of localhost, with its logs and the worker's directory
in a temporary folder. Then runs the weekly report over 180 days of the
benchmark's heartbeat log without ids (made once, as ``bench.py`` makes it)
with ``--engine duckdb`` and, twice (the first run warms the cluster's
executors), with ``--engine spark --spark-remote sc://127.0.0.1:PORT``, and
checks that the JSON reports are equal byte for byte. Every JVM it started
is stopped at the end, also on failure or Ctrl-C. Exit status 1 if the
reports differ.

Run from the repository root with the project's environment:

    python benchmarks/spark_cluster_run.py                 # 1M events
    python benchmarks/spark_cluster_run.py --scale 2e7 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (the generator of the benchmark's data)

RESULTS = HERE / "RESULTS-SPARK.md"
CONNECT_SERVER = "org.apache.spark.sql.connect.service.SparkConnectServer"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


class Cluster:
    """The master, worker and Connect server processes, each in its own process group."""

    def __init__(self, workdir: Path, cores: int, memory: str) -> None:
        self.workdir = workdir
        self.cores = cores
        self.memory = memory
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.master_port = free_port()
        self.master_ui = free_port()
        self.connect_port = free_port()
        self.commands: list[str] = []

    def start(self, name: str, args: Sequence[str]) -> None:
        home = spark_home()
        env = dict(os.environ, SPARK_HOME=str(home), SPARK_CONNECT_MODE="0")
        env.pop("PYSPARK_SUBMIT_ARGS", None)
        log = (self.workdir / f"{name}.log").open("wb")
        argv = [str(home / "bin" / args[0]), *args[1:]]
        shown = shlex.join(args[1:]).replace(str(self.workdir), "$TMP")
        self.commands.append(f"$SPARK_HOME/bin/{args[0]} {shown}")
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        self.procs.append((name, proc))

    def up(self) -> str:
        master = f"spark://127.0.0.1:{self.master_port}"
        self.start(
            "master",
            ["spark-class", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
             "--port", str(self.master_port), "--webui-port", str(self.master_ui)],
        )  # fmt: skip
        wait_for(lambda: listening(self.master_port), "the master", self)
        self.start(
            "worker",
            ["spark-class", "org.apache.spark.deploy.worker.Worker", master,
             "--host", "127.0.0.1", "--webui-port", str(free_port()),
             "--cores", str(self.cores), "--memory", self.memory,
             "--work-dir", str(self.workdir / "work")],
        )  # fmt: skip
        wait_for(self.worker_alive, "the worker's registration", self)
        self.start(
            "connect",
            ["spark-submit", "--class", CONNECT_SERVER, "--name", "Spark Connect server",
             "--master", master, "--executor-memory", self.memory,
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
             "--conf", f"spark.connect.grpc.binding.port={self.connect_port}",
             "--conf", "spark.ui.enabled=false"],
        )  # fmt: skip
        wait_for(lambda: listening(self.connect_port), "the Spark Connect server", self)
        return f"sc://127.0.0.1:{self.connect_port}"

    def worker_alive(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.master_ui}/json/"
            with urllib.request.urlopen(url, timeout=2) as answer:
                state = json.load(answer)
        except (OSError, ValueError):
            return False
        return int(state.get("aliveworkers", 0)) >= 1

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"the {name} process ended (exit {proc.returncode}):\n{tail}")

    def stop(self) -> bool:
        """Stop every process started here, the last started first, and wait for them:
        whether they have all ended."""
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return all(proc.poll() is not None for _, proc in self.procs)


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(ready: object, what: str, cluster: Cluster, timeout: float = 180) -> None:
    assert callable(ready)
    deadline = time.monotonic() + timeout
    while not ready():
        cluster.check_alive()
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} was not up after {timeout:.0f} s")
        time.sleep(0.5)


def report(events: Path, out: Path, *engine: str) -> float:
    tool = str(Path(sys.executable).with_name("activity-report"))
    command = [
        tool, "--events", str(events), "--start", bench.START, "--end", bench.END,
        "--interval", "1 week", "--tz", "UTC", "--format", "json", "-o", str(out), *engine,
    ]  # fmt: skip
    began = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="1e6", help="events (default 1e6)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--cores", type=int, default=2, help="the worker's cores (default 2)")
    parser.add_argument("--memory", default="2g", help="the worker's and executor's memory")
    parser.add_argument("--no-write", action="store_true", help="print, do not append to RESULTS")
    args = parser.parse_args()
    n = int(float(args.scale))
    bench.ensure_data(n, args.seed, "heartbeats")  # the log without ids is made from it
    events = bench.ensure_data(n, args.seed, bench.NO_IDS).relative_to(Path.cwd())
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="spark-cluster-") as tmp:
        workdir = Path(tmp)
        duck_out, spark_out = workdir / "duckdb.json", workdir / "spark.json"
        duck_s = report(events, duck_out, "--engine", "duckdb")
        cluster = Cluster(workdir, args.cores, args.memory)
        try:
            began = time.perf_counter()
            remote = cluster.up()
            up_s = time.perf_counter() - began
            cold_s = report(events, spark_out, "--engine", "spark", "--spark-remote", remote)
            warm_s = report(events, spark_out, "--engine", "spark", "--spark-remote", remote)
        finally:
            stopped = cluster.stop()
        same = duck_out.read_bytes() == spark_out.read_bytes()
        size = duck_out.stat().st_size
    load_after = os.getloadavg()
    loads = " ".join(f"{x:.2f}" for x in load_before), " ".join(f"{x:.2f}" for x in load_after)
    dollar_commands = "\n".join(f"    {c}" for c in cluster.commands)
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    text = f"""
### Standalone cluster: `spark_cluster_run.py --scale {args.scale}` ({when})

One master, one worker ({args.cores} cores, {args.memory}) and a Spark Connect server
running its applications on them, all on this machine, started as
(`$SPARK_HOME` is the pyspark install, `$TMP` a temporary folder; the ports are
free ones picked at start):

{dollar_commands}

The report: `activity-report --events {events} --start {bench.START} --end {bench.END}
--interval '1 week' --tz UTC --format json -o OUT --engine spark --spark-remote
sc://127.0.0.1:{cluster.connect_port}` ({n:,} events; the relative path is made absolute
before it is sent to the server).

| run | wall |
|:---|---:|
| `--engine duckdb` | {duck_s:.1f} s |
| cluster start (master, worker, Connect server) | {up_s:.1f} s |
| `--engine spark --spark-remote`, first (the executors start) | {cold_s:.1f} s |
| `--engine spark --spark-remote`, second | {warm_s:.1f} s |

JSON ({size:,} bytes) equal to `--engine duckdb`'s byte for byte: **{"yes" if same else "NO"}**.
Every JVM started was stopped at the end: {"yes" if stopped else "NO"}.
Load average before: {loads[0]}, after: {loads[1]}.
"""
    print(text)
    if not args.no_write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write(text)
    sys.exit(0 if same and stopped else 1)


if __name__ == "__main__":
    main()
