"""``--engine spark`` in local mode next to ``--engine duckdb``, on the same files.

For each size N (default 1M, 5M and 20M events; the generator and its cache
are ``bench.py``'s), one weekly report over the 180 days (UTC, every
category, ``--format json -o FILE``) is run by each engine as its own process,
and the two outputs must be byte-identical (a difference fails the run, exit
1). A run of ``--engine spark`` on the shipped sample data measures what
starting Spark costs by itself.

Measured per run: wall time and the peak resident memory of the whole process
tree, sampled every 0.1 s from ``/proc`` (the CLI's Python process plus, for
Spark, the local driver JVM that also runs the executors in local mode), and
the JVM's own peak. Spark's driver memory is ``--driver-memory`` (default 4g).

Run from the repository root with the project's environment, pyspark installed:

    python benchmarks/spark_bench.py                      # 1M, 5M, 20M
    python benchmarks/spark_bench.py --scale 1e6,5e6      # a shorter run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (the generator and machine facts of the main benchmark)

RESULTS = HERE / "RESULTS-SPARK.md"
SAMPLE = HERE.parent / "sample_data" / "events.parquet"


@dataclass
class Run:
    wall_s: float
    peak_tree_bytes: int  # Python + JVM, summed at each sample
    peak_jvm_bytes: int
    exit_code: int
    stderr: str


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        found: list[int] = []
        for task in tasks:
            text = (task / "children").read_text().split()
            found.extend(int(c) for c in text)
        return found
    except OSError:
        return []


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _is_java(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "java"
    except OSError:
        return False


def measure(cmd: Sequence[str], env: dict[str, str]) -> Run:
    """Run ``cmd``; its wall time and the peak memory of its process tree."""
    peak_tree = peak_jvm = 0
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env
        )
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_tree, peak_jvm
            while not done.is_set():
                tree, todo = [], [proc.pid]
                while todo:
                    pid = todo.pop()
                    tree.append(pid)
                    todo.extend(_children(pid))
                sizes = {pid: _rss(pid) for pid in tree}
                peak_tree = max(peak_tree, sum(sizes.values()))
                jvm = sum(size for pid, size in sizes.items() if _is_java(pid))
                peak_jvm = max(peak_jvm, jvm)
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        proc.wait()
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        err.seek(0)
        text = err.read().decode("utf-8", errors="replace")
    return Run(wall, peak_tree, peak_jvm, proc.returncode, text)


def report_cmd(events: Path, out: Path, engine: str) -> list[str]:
    tool = str(Path(sys.executable).with_name("activity-report"))
    return [
        tool, "--events", str(events), "--start", bench.START, "--end", bench.END,
        "--interval", "1 week", "--tz", "UTC", "--format", "json", "-o", str(out),
        "--engine", engine,
    ]  # fmt: skip


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="1e6,5e6,2e7", help="event counts, comma-separated")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--driver-memory", default="4g", help="Spark's driver memory")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.scale.split(",")]
    env = dict(os.environ)
    env["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {args.driver_memory} pyspark-shell"
    env.pop("SPARK_REMOTE", None)
    load_before = bench.load_average()
    rows: list[str] = []
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sample.json"
        tool = report_cmd(SAMPLE, out, "spark")[0]
        start = measure([tool, "--events", str(SAMPLE), "-o", str(out), "--engine", "spark"], env)
        bench.log(f"spark on the sample data: {start.wall_s:.1f} s, exit {start.exit_code}")
        rows.append(
            f"| sample data (46k), Spark start-up | | {start.wall_s:.1f} s | "
            f"{mib(start.peak_tree_bytes)} ({mib(start.peak_jvm_bytes)} JVM) | |"
        )
        for n in sizes:
            events = bench.ensure_data(n, args.seed, "parquet")
            results: dict[str, Run] = {}
            outputs: dict[str, bytes] = {}
            for engine in ("duckdb", "spark"):
                target = Path(tmp) / f"{engine}-{n}.json"
                run = measure(report_cmd(events, target, engine), env)
                if run.exit_code != 0:
                    bench.log(f"{engine} at {n:,} failed: {run.stderr.strip()[-800:]}")
                    failed = True
                results[engine] = run
                outputs[engine] = target.read_bytes() if target.exists() else b""
                bench.log(
                    f"{engine:6} {n:>11,} events: {run.wall_s:7.1f} s, peak "
                    f"{mib(run.peak_tree_bytes)} (JVM {mib(run.peak_jvm_bytes)})"
                )
            same = outputs["duckdb"] == outputs["spark"] and bool(outputs["duckdb"])
            failed |= not same
            duck, spark = results["duckdb"], results["spark"]
            rows.append(
                f"| {n:,} | {duck.wall_s:.1f} s, {mib(duck.peak_tree_bytes)} | "
                f"{spark.wall_s:.1f} s | {mib(spark.peak_tree_bytes)} "
                f"({mib(spark.peak_jvm_bytes)} JVM) | {'yes' if same else '**NO**'} |"
            )
    facts = bench.machine()
    lines = [
        "# Spark local mode next to DuckDB",
        "",
        "Written by `benchmarks/spark_bench.py`. The weekly report over 180 days "
        f"(`--start {bench.START} --end {bench.END} --interval '1 week' --format json`), "
        "one process per run, on the same Parquet file. Peak memory is the whole "
        "process tree's resident set (for Spark: the CLI plus the local driver JVM, "
        "which also runs the executors), sampled every 0.1 s.",
        "",
        "| events | DuckDB: wall, peak | Spark: wall | Spark: peak | same bytes |",
        "|---:|---:|---:|---:|:---:|",
        *rows,
        "",
        f"Spark driver memory: `{args.driver_memory}`; load average before the run: "
        f"{load_before}, after: {bench.load_average()}.",
        "",
        *(f"- {key}: {value}" for key, value in facts.items()),
        "",
    ]
    args.output.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
