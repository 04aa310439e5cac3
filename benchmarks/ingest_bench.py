"""Ingest into the store next to a plain ``CREATE TABLE AS`` of the same Parquet file.

Each step is a separate process, timed from the outside (wall time, and the
peak RSS of that child from ``wait4``): CTAS into a fresh database file, a
first ingest into a fresh store (rollups included), a re-ingest of the same
file (every row known), and a weekly report from the store.

    python benchmarks/ingest_bench.py --events 2e6,5e6 --log heartbeats,mixed
    python benchmarks/ingest_bench.py --scale 2e7,1e8
    python benchmarks/ingest_bench.py --nightly 2e7,1e8 --against /path/to/other/src

``--scale`` measures what a fleet's store costs as it grows, and projects it to
a year of a 10,000-user fleet (a heartbeat a minute, eight hours a day: 4.8M
events a day, ~1.75 billion a year). At each size N: an ingest of N events
of such a fleet into a fresh store, then a nightly ingest of the next 4.8M
events (one day's worth) into that store, then a weekly report over the whole
store (range from the data: the rollups answer it). Times and peak RSS per
step; the projection is a straight line through the measured sizes.

Logs (generated once into benchmarks/data/, cached by size):

* ``heartbeats``: 200 users, one event a minute with 0-19 s of jitter,
  eight hours a day, no end column; each user in one organization;
* ``mixed``: the same clock, but a third of the events carry an end time
  (0-40 minutes later), and users switch categories and organizations;
* ``jittered``: the heartbeat log of ``bench.py`` at any size: 500 users, each
  working one stretch a day (starting between 07:00 and 11:00 UTC) of 222
  heartbeats a minute apart, each 0-19 s late, so about half of them start a
  new covered stretch; as many days as the size needs (180 at 20M, 900 at
  100M); ids, user and organization ids of 32-36 characters as real logs
  have them, rows in time order; no end column.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
USERS = 200
PER_DAY = 480  # eight hours, one event a minute
FLEET = 10_000  # users of the --scale projection
NIGHT = FLEET * PER_DAY  # one day of the fleet's events
YEAR = NIGHT * 365

GENERATOR = """
WITH rows AS (SELECT i, i // $per AS ud, i % $per AS k FROM range($start, $start + $n) t(i))
SELECT 'e-' || i AS id,
       make_timestamptz((1704067200 + (ud // $users) * 86400 + 8 * 3600 + k * 60) * 1000000
                        + CAST(hash(i, 2) % 20000000 AS BIGINT)) AS time,
       'user-' || (ud % $users) AS user_id,
       CASE WHEN $mixed THEN $categories[1 + CAST(hash(i, 3) % 5 AS BIGINT)]
            WHEN (ud % $users) % 10 < 7 THEN 'ide' ELSE 'tunnel' END AS category,
       CASE WHEN (ud % $users) % 10 = 9 THEN NULL
            WHEN $mixed AND hash(i, 4) % 4 = 0 THEN 'org-' || (hash(i, 5) % 3)
            ELSE 'org-' || ((ud % $users) % 7) END AS organization_id
       {end}
FROM rows
"""


#: The ``jittered`` log (see the module's docstring): ``bench.py``'s heartbeat
#: log, with a fixed number of events per user and day instead of fixed days.
JITTERED = """
WITH rows AS (SELECT i, i // $per AS ud, i % $per AS k FROM range($n) t(i)),
events AS (
    SELECT i, ud % $users AS u,
        (1704067200 + (ud // $users) * 86400
            + (420 + CAST(hash(ud, 1, 1) % 240 AS BIGINT)) * 60 + k * 60) * 1000000
            + CAST(hash(i, 1, 2) % 20000000 AS BIGINT) AS ts_us,
        CASE WHEN hash(ud, 1, 3) % 10 < 7 THEN 'ide'
             WHEN hash(ud, 1, 3) % 10 < 9 THEN 'tunnel' ELSE 'web_terminal' END AS category
    FROM rows
),
users AS (
    SELECT u, substr(m, 1, 8) || '-' || substr(m, 9, 24) AS user_id
    FROM (SELECT u, md5('user-1-' || u) AS m FROM range($users) t(u))
),
orgs AS (
    SELECT o, substr(m, 1, 8) || '-' || substr(m, 9, 4) || '-' || substr(m, 13, 4) || '-'
              || substr(m, 17, 4) || '-' || substr(m, 21, 12) AS org_id
    FROM (SELECT o, md5('org-1-' || o) AS m FROM range(4) t(o))
)
SELECT 'hb-' || e.i AS id, make_timestamptz(e.ts_us) AS time, us.user_id, e.category,
       o.org_id AS organization_id
FROM events e JOIN users us ON us.u = e.u JOIN orgs o ON o.o = e.u % 4
ORDER BY e.ts_us, e.i
"""
JITTERED_USERS = 500
JITTERED_PER_DAY = 222


def data_file(n: int, log: str, start: int = 0, users: int = USERS) -> Path:
    """A log of ``n`` events: rows ``start`` to ``start + n`` of the generator's sequence."""
    name = f"ingest-{log}-{n}.parquet"
    if (start, users) != (0, USERS):
        name = f"ingest-{log}-{users}u-{start}+{n}.parquet"
    path = DATA / name
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    end = ""
    if log == "mixed":
        end = """, CASE WHEN hash(i, 6) % 3 = 0
                      THEN make_timestamptz((1704067200 + (ud // $users) * 86400 + 8 * 3600
                                             + k * 60) * 1000000 + CAST(hash(i, 7) % 2400000000
                                             AS BIGINT)) END AS end_time"""
    sql = GENERATOR.format(end=end)
    per = PER_DAY
    if log == "jittered":
        sql, per, users = JITTERED, JITTERED_PER_DAY, JITTERED_USERS
    code = (
        "import sys, duckdb\n"
        # A good neighbour on a shared machine: the time sort spills past 4 GB.
        f"spill = {str(DATA / 'tmp')!r}\n"
        "con = duckdb.connect(config={'memory_limit': '4GB', 'temp_directory': spill})\n"
        "con.execute(\"SET TimeZone = 'UTC'\")\n"
        "con.execute('SET enable_progress_bar = false')\n"
        f"sql = {sql!r}\n"
        "params = dict(n=int(sys.argv[2]), per=int(sys.argv[3]), users=int(sys.argv[4]),\n"
        "              mixed=sys.argv[5] == 'mixed', start=int(sys.argv[6]),\n"
        "              categories=['ide', 'app', 'tunnel', 'web_terminal', 'login'])\n"
        "params = {k: v for k, v in params.items() if '$' + k in sql}\n"
        "con.sql(sql, params=params).write_parquet(sys.argv[1] + '.partial', compression='zstd')\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(path), str(n), str(per), str(users), log, str(start)],
        check=True,
    )
    Path(str(path) + ".partial").replace(path)
    return path


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Wall seconds, peak RSS (bytes) and CPU seconds (user + system) of one child
    process run to its end. On a shared machine the CPU time is the steadier figure."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise SystemExit(f"failed: {' '.join(cmd)}\n{err.read().decode()}")
    return wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


CTAS = (
    "import sys, duckdb\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "con.read_parquet(sys.argv[2]).create('events')\n"
    "con.close()\n"
)


def fleet_store(n: int) -> Path:
    """Where ``--scale`` keeps the fleet's store of ``n`` events (before its night)."""
    return DATA / f"store-fleet-{n}.duckdb"


def scale(sizes: list[int], env: dict[str, str], tool: list[str]) -> None:
    """The fleet's store at each size, then the straight-line projection to a year.

    Each store is kept, as it was before its nightly ingest, for ``--nightly``.
    """
    print(
        f"| events in store | first ingest s | its peak RSS | nightly ingest of {NIGHT:,} s "
        "| its peak RSS | weekly report from store s | its peak RSS | store size |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    points = []
    for n in sizes:
        base = data_file(n, "heartbeats", users=FLEET)
        night = data_file(NIGHT, "heartbeats", start=n, users=FLEET)
        with tempfile.TemporaryDirectory(dir=DATA) as folder:
            store = str(Path(folder) / "s.duckdb")
            first, first_rss, _ = measure([*tool, "ingest", "--db", store, str(base)], env)
            shutil.copyfile(store, fleet_store(n))
            nightly, nightly_rss, _ = measure([*tool, "ingest", "--db", store, str(night)], env)
            out = str(Path(folder) / "r.json")
            report, report_rss, _ = measure(
                [*tool, "--db", store, "--interval", "1 week", "--format", "json", "-o", out],
                env,
            )
            size = Path(store).stat().st_size
        points.append((n + NIGHT, nightly, report, nightly_rss))
        print(
            f"| {n:,} | {first:.1f} | {first_rss / 2**20:,.0f} MiB | {nightly:.1f} "
            f"| {nightly_rss / 2**20:,.0f} MiB | {report:.1f} | {report_rss / 2**20:,.0f} MiB "
            f"| {size / 2**30:.2f} GiB |",
            flush=True,
        )
    if len(points) < 2:
        return
    (n0, i0, r0, m0), (n1, i1, r1, m1) = points[0], points[-1]

    def at_year(y0: float, y1: float) -> float:
        return y0 + (y1 - y0) * (YEAR - n0) / (n1 - n0)

    print(
        f"\nProjected to {YEAR:,} events (a year of {FLEET:,} users), a straight line "
        f"through {n0:,} and {n1:,}: nightly ingest of {NIGHT:,} events "
        f"{at_year(i0, i1) / 60:.1f} min; weekly report over the year "
        f"{at_year(r0, r1) / 60:.1f} min; the nightly ingest's peak RSS "
        f"{at_year(m0, m1) / 2**30:.2f} GiB ({m0 / 2**20:,.0f} and {m1 / 2**20:,.0f} MiB measured, "
        f"{m1 / m0:.2f}x)",
        flush=True,
    )


def nightly(
    sizes: list[int], env: dict[str, str], tool: list[str], against: str, rounds: int
) -> None:
    """The same nightly ingest into copies of the kept fleet stores, this code and another.

    ``against``: the ``src`` folder of the other code (put first on PYTHONPATH
    for its runs). The two alternate, each on a fresh copy of the store, so
    they see about the same load.
    """
    other = {**env, "PYTHONPATH": os.pathsep.join([against, env.get("PYTHONPATH", "")])}
    print(f"nightly ingest of {NIGHT:,} events; other code: {against}\n")
    print("| events in store | round | code | wall s | peak RSS |")
    print("|---:|---:|---|---:|---:|")
    for n in sizes:
        kept = fleet_store(n)
        if not kept.exists():
            raise SystemExit(f"{kept}: no kept store; run --scale {n:g} first")
        night = data_file(NIGHT, "heartbeats", start=n, users=FLEET)
        for round_no in range(1, rounds + 1):
            for name, code_env in (("this", env), ("other", other)):
                with tempfile.TemporaryDirectory(dir=DATA) as folder:
                    store = str(Path(folder) / "s.duckdb")
                    shutil.copyfile(kept, store)
                    wall, rss, _ = measure([*tool, "ingest", "--db", store, str(night)], code_env)
                print(
                    f"| {n:,} | {round_no} | {name} | {wall:.1f} | {rss / 2**20:,.0f} MiB |",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="2e6", help="sizes, comma-separated")
    parser.add_argument(
        "--log", default="heartbeats,mixed", help="heartbeats, mixed, jittered (comma-separated)"
    )
    parser.add_argument(
        "--scale", help="store sizes for the fleet projection, comma-separated (e.g. 2e7,1e8)"
    )
    parser.add_argument(
        "--nightly",
        help="store sizes kept by --scale: their nightly ingest, this code against --against",
    )
    parser.add_argument("--against", help="the src folder of the code to compare with")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of --nightly")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITY_REPORT_")}
    tool = [sys.executable, "-m", "activity_report"]
    if args.nightly:
        if not args.against:
            raise SystemExit("--nightly needs --against SRC")
        sizes = [int(float(size)) for size in args.nightly.split(",")]
        nightly(sizes, env, tool, args.against, args.rounds)
        return
    if args.scale:
        scale([int(float(size)) for size in args.scale.split(",")], env, tool)
        return
    print(
        "| log | events | CTAS s | ingest s | ratio | ingest RSS | re-ingest s | ratio "
        "| re-ingest RSS | weekly report from store s | CPU s: CTAS, ingest, re-ingest "
        "| CPU ratios |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for size in args.events.split(","):
        n = int(float(size))
        for log in args.log.split(","):
            events = data_file(n, log)
            with tempfile.TemporaryDirectory(dir=DATA) as folder:
                work = Path(folder)
                ctas, _, ctas_cpu = measure(
                    [sys.executable, "-c", CTAS, str(work / "c.duckdb"), str(events)], env
                )
                store = str(work / "s.duckdb")
                first, first_rss, first_cpu = measure(
                    [*tool, "ingest", "--db", store, str(events)], env
                )
                again, again_rss, again_cpu = measure(
                    [*tool, "ingest", "--db", store, str(events)], env
                )
                out = str(work / "r.json")
                report, _, _ = measure(
                    [*tool, "--db", store, "--interval", "1 week", "--format", "json", "-o", out],
                    env,
                )
            print(
                f"| {log} | {n:,} | {ctas:.2f} | {first:.2f} | {first / ctas:.1f}x "
                f"| {first_rss / 2**20:,.0f} MiB | {again:.2f} | {again / ctas:.1f}x "
                f"| {again_rss / 2**20:,.0f} MiB | {report:.2f} "
                f"| {ctas_cpu:.1f}, {first_cpu:.1f}, {again_cpu:.1f} "
                f"| {first_cpu / ctas_cpu:.1f}x, {again_cpu / ctas_cpu:.1f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
