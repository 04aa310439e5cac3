"""``--engine spark`` next to a hand-written PySpark job for the same cells, in one warm session.

For each size N (default 1M; the heartbeat-only log without ids of
``bench.py``, generated once and cached), one Spark session (the local one
``--engine spark`` starts, or ``--remote sc://...``) runs, in turns:

- the tool: ``activity_report.report(engine="spark")``, the weekly report
  over 180 days (UTC, every category, heartbeat one minute), everything it
  does (schemas, diagnostics, counting) included;
- the job: what one would write by hand for the same cells: read the
  Parquet file, one ``lead()`` window per user, weekly buckets by
  arithmetic, one aggregate, collect.

Start-up is excluded: a first round of each warms the session and is not
counted. The ratio is the tool's median over the job's median, both from
the same interleaved rounds. Both answers are checked: the tool's JSON must
equal ``--engine duckdb``'s byte for byte, and the job's cells the DuckDB
engine's cells (a difference fails the run, exit 1).

Run from the repository root with the project's environment:

    python benchmarks/spark_job_bench.py                     # 1M, 4 rounds
    python benchmarks/spark_job_bench.py --scale 1e6,2e7 --rounds 3
    python benchmarks/spark_job_bench.py --remote sc://localhost:15002 --label cluster
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402  (the generator and machine facts of the main benchmark)

RESULTS = HERE / "RESULTS-SPARK.md"
START, END = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 29, tzinfo=UTC)
WEEK_US = 7 * 86_400 * 1_000_000
HEARTBEAT_US = 60_000_000
CATEGORIES = ("ide", "login", "app", "tunnel", "web_terminal")


def _us(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


def tool(path: Path, remote: str | None) -> str:
    import activity_report as ar
    from activity_report.render import json as render_json

    result = ar.report(
        events=[str(path)],
        engine="spark",
        spark_remote=remote,
        start=START,
        end=END,
        interval="1 week",
        heartbeat=timedelta(microseconds=HEARTBEAT_US),
        tz="UTC",
    )
    return render_json.render(result.report)


def duckdb_answer(path: Path) -> tuple[str, list[tuple[int, str, int, int]]]:
    import activity_report as ar
    from activity_report.backends import open_source
    from activity_report.backends.protocol import Filters
    from activity_report.render import json as render_json

    result = ar.report(
        events=[str(path)],
        start=START,
        end=END,
        interval="1 week",
        heartbeat=timedelta(microseconds=HEARTBEAT_US),
        tz="UTC",
    )
    # The report's buckets: whole weeks from START, the last one cut at END.
    edges = [*range(_us(START), _us(END), WEEK_US), _us(END)]
    with open_source([str(path)], None) as source:
        cells = source.cells(edges, Filters(categories=CATEGORIES), HEARTBEAT_US).cells
    return render_json.render(result.report), [
        (c.bucket, c.user_id, c.count, c.duration_us) for c in cells
    ]


def job(spark: object, path: Path) -> list[tuple[int, str, int, int]]:
    """The hand-written job: one lead() window per user, arithmetic buckets, one aggregate."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    start, end, step, hb = _us(START), _us(END), WEEK_US, HEARTBEAT_US
    frame = spark.read.parquet(str(path))  # type: ignore[attr-defined]
    ts = F.unix_micros("time")
    events = frame.where(F.col("category").isin(list(CATEGORIES))).select("user_id", ts.alias("ts"))
    events = events.where((F.col("ts") < end) & (F.col("ts") + hb > start))
    after = F.lead("ts").over(Window.partitionBy("user_id").orderBy("ts"))
    pieces = events.select(
        "user_id",
        "ts",
        F.greatest("ts", F.lit(start)).alias("a"),
        F.least(F.col("ts") + hb, F.coalesce(after, F.col("ts") + hb), F.lit(end)).alias("b"),
    )
    first = F.floor((F.col("a") - start) / step).cast("long")
    last = F.when(F.col("b") > F.col("a"), F.floor((F.col("b") - 1 - start) / step)).otherwise(
        first
    )
    cut = pieces.select(
        "user_id",
        "ts",
        "a",
        "b",
        F.explode(F.sequence(first, last.cast("long"))).alias("k"),
    )
    lo = F.lit(start) + F.col("k") * step
    cells = (
        cut.select(
            "user_id",
            "k",
            ((F.col("ts") >= start) & (F.col("ts") >= lo)).cast("long").alias("n"),
            F.greatest(F.lit(0), F.least("b", lo + step) - F.greatest("a", lo)).alias("d"),
        )
        .groupBy("k", "user_id")
        .agg(F.sum("n").alias("n"), F.sum("d").alias("d"))
        .where((F.col("n") > 0) | (F.col("d") > 0))
        .collect()
    )
    return sorted((int(r["k"]), str(r["user_id"]), int(r["n"]), int(r["d"])) for r in cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="1e6", help="comma-separated sizes (default 1e6)")
    parser.add_argument("--rounds", type=int, default=4, help="counted rounds of each (default 4)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--remote", default=None, help="a Spark Connect URL (default: local)")
    parser.add_argument("--label", default="local Spark Connect", help="the setup, for the table")
    parser.add_argument("--no-write", action="store_true", help="print, do not append to RESULTS")
    args = parser.parse_args()
    from activity_report.backends.spark import connect
    from activity_report.backends.spark.session import driver_memory

    spark = connect(args.remote)
    load_before = os.getloadavg()
    rows: list[str] = []
    failed = False
    for n in (int(float(s)) for s in args.scale.split(",")):
        bench.ensure_data(n, args.seed, "heartbeats")  # the log without ids is made from it
        path = bench.ensure_data(n, args.seed, bench.NO_IDS)
        duck_json, duck_cells = duckdb_answer(path)
        tool_s: list[float] = []
        job_s: list[float] = []
        same_tool = same_job = True
        for round_ in range(args.rounds + 1):
            began = time.perf_counter()
            answer = tool(path, args.remote)
            took_tool = time.perf_counter() - began
            began = time.perf_counter()
            cells = job(spark, path)
            took_job = time.perf_counter() - began
            same_tool &= answer == duck_json
            same_job &= cells == duck_cells
            print(f"N={n} round {round_}: tool {took_tool:.2f} s, job {took_job:.2f} s", flush=True)
            if round_:  # the first round warms the session
                tool_s.append(took_tool)
                job_s.append(took_job)
        ratio = statistics.median(tool_s) / statistics.median(job_s)
        failed |= not (same_tool and same_job)
        rows.append(
            f"| {n:,} | {args.label} | {statistics.median(tool_s):.2f} s "
            f"({min(tool_s):.2f}-{max(tool_s):.2f}) | {statistics.median(job_s):.2f} s "
            f"({min(job_s):.2f}-{max(job_s):.2f}) | **{ratio:.2f}x** | "
            f"{'yes' if same_tool else 'NO'} | {'yes' if same_job else 'NO'} |"
        )
        print(rows[-1], flush=True)
    load_after = os.getloadavg()
    facts = bench.machine()
    text = "\n".join(
        [
            "",
            f"### `spark_job_bench.py --scale {args.scale} --rounds {args.rounds}` "
            f"({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
            "",
            "| events | Spark | tool: median (min-max) | hand-written job | ratio "
            "| tool = DuckDB, bytes | job = DuckDB, cells |",
            "|---:|:---|---:|---:|---:|:---:|:---:|",
            *rows,
            "",
            f"Warm rounds after one uncounted round, interleaved. Local driver memory: "
            f"{driver_memory() if args.remote is None else 'the server s'}. Load average before: "
            f"{' '.join(f'{x:.2f}' for x in load_before)}, after: "
            f"{' '.join(f'{x:.2f}' for x in load_after)} ({facts.get('cores', '?')} cores, "
            "shared with other jobs).",
            "",
        ]
    )
    print(text)
    if not args.no_write:
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write(text)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
