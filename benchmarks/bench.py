"""Benchmark activity-report against a hand-written DuckDB baseline.

One run:

1. generates (once; cached in ``benchmarks/data/`` by N and seed) a synthetic
   event log of N events with a fixed seed: 500 users, 180 days from
   2024-01-01, sessions of heartbeats a minute apart (IDE, tunnel, web
   terminal), logins, app sessions with an ``end_time``, four organizations;
   Parquet (zstd), plus a CSV of N/10 events for the CSV path;
2. times each case as a subprocess, ``--repeat`` times, keeping the median,
   min and max wall time and the peak RSS of the child: the report from the
   CLI (``--format json -o FILE``) for ``--category any`` and ``ide``, intervals
   ``1 day``, ``1 week`` and ``1 month``, in ``UTC`` and ``Europe/Berlin``;
   the hand-written DuckDB baseline (``benchmarks/baseline.py``) of each case,
   whose numbers must agree with the report's per bucket and user (a mismatch
   fails the run, exit 1); ``activity-report --help``; the CSV path; the store
   (ingest, re-ingest, report from the store) when ``activity-report ingest``
   exists; and, with ``--scale``, the weekly report at several N;
3. prints the results and writes ``benchmarks/RESULTS.md``, with the targets
   marked met or missed.

Run from the repository root with the project's Python environment:

    python benchmarks/bench.py                       # N = 20 million
    python benchmarks/bench.py --events 2000000 --repeat 1 --only week
    python benchmarks/bench.py --scale 1e6,5e6,2e7,1e8
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ingest_bench import CTAS

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
RESULTS = HERE / "RESULTS.md"
BASELINE = HERE / "baseline.py"
BASELINE_LEAD = HERE / "baseline_lead.py"

#: Bump when the generator changes, so cached files are made again.
GENERATOR_VERSION = 1
USERS = 500
DAYS = 180
ORGS = 4
FIRST_DAY = date(2024, 1, 1)  # a Monday; Europe/Berlin springs forward on 2024-03-31
MEAN_HEARTBEATS = 45  # mean length of a heartbeat session, in events
START, END = "2024-01-01", "2024-06-29"  # the report range: the 180 days
HEARTBEAT_US = 60_000_000

CATEGORY_CASES = ("any", "ide")
INTERVAL_CASES = ("day", "week", "month")
TZ_CASES = ("UTC", "Europe/Berlin")

# The speed targets (the report's, and the store's).
MAX_RATIO = 1.3
MAX_TZ_RATIO = 1.2
MAX_RSS = 1.5 * 2**30
MAX_HELP_S = 0.4
MAX_100M_WEEKLY_S = 60.0
MAX_INGEST_RATIO = 3.0  # ingest (and re-ingest) against CREATE TABLE AS of the same file
MAX_INGEST_RSS = 2 * 2**30
MAX_STORE_RATIO = 0.25  # a report from the store against the lead() query on the Parquet file


# --------------------------------------------------------------------------- data


def data_path(n: int, seed: int, fmt: str) -> Path:
    if fmt == "heartbeats":
        return DATA / f"heartbeats-n{n}-seed{seed}-v{HEARTBEATS_VERSION}.parquet"
    if fmt == NO_IDS:
        return DATA / f"heartbeats-noids-n{n}-seed{seed}-v{HEARTBEATS_VERSION}.parquet"
    return DATA / f"events-n{n}-seed{seed}-v{GENERATOR_VERSION}.{fmt}"


HEARTBEATS_VERSION = 1

#: The heartbeat-only log without its ``id`` column: what a file with ids
#: pays for the repeated-row rule (finding ids that repeat) is the difference.
NO_IDS = "heartbeats-noids"

#: The heartbeat-only log: no end_time, no duration. Every user works one
#: stretch a day (starting between 07:00 and 11:00 UTC) with one event a
#: minute, each 0-19 s late; row i is event i % $per of user-day i // $per.
HEARTBEATS_SQL = """
WITH rows AS (
    SELECT i, i // $per AS ud, i % $per AS k FROM range($n) t(i)
),
events AS (
    SELECT i, ud % $users AS u, ud // $users AS day,
        ($first_day + (ud // $users) * 86400
            + (420 + CAST(hash(ud, $seed, 1) % 240 AS BIGINT)) * 60 + k * 60) * 1000000
            + CAST(hash(i, $seed, 2) % 20000000 AS BIGINT) AS ts_us,
        CASE WHEN hash(ud, $seed, 3) % 10 < 7 THEN 'ide'
             WHEN hash(ud, $seed, 3) % 10 < 9 THEN 'tunnel' ELSE 'web_terminal' END AS category
    FROM rows
),
users AS (
    SELECT u, substr(m, 1, 8) || '-' || substr(m, 9, 24) AS user_id
    FROM (SELECT u, md5('user-' || $seed || '-' || u) AS m FROM range($users) t(u))
),
orgs AS (
    SELECT o, substr(m, 1, 8) || '-' || substr(m, 9, 4) || '-' || substr(m, 13, 4) || '-'
              || substr(m, 17, 4) || '-' || substr(m, 21, 12) AS org_id
    FROM (SELECT o, md5('org-' || $seed || '-' || o) AS m FROM range($orgs) t(o))
)
SELECT 'hb-' || e.i AS id, make_timestamptz(e.ts_us) AS time, us.user_id, e.category,
       o.org_id AS organization_id
FROM events e JOIN users us ON us.u = e.u JOIN orgs o ON o.o = e.u % $orgs
ORDER BY e.ts_us, e.i
"""


#: The generator: one row of ``range($sessions)`` is a session; its events are
#: unnested and the first $n rows (in session order) are kept, then written in
#: time order. Everything random comes from ``hash(session, seed, stream)``.
GENERATOR_SQL = """
WITH sessions AS (
    SELECT s,
        CAST(floor($users * pow((hash(s, $seed, 1) % 1000000) / 1e6, 1.3)) AS BIGINT) AS u,
        CAST(hash(s, $seed, 2) % $days AS BIGINT) AS day0,
        hash(s, $seed, 3) % 100 AS kind,
        hash(s, $seed, 4) % 10 AS weekday_roll,
        CAST(CASE WHEN hash(s, $seed, 5) % 5 = 0 THEN hash(s, $seed, 6) % 86400
                  ELSE 25200 + hash(s, $seed, 6) % 43200 END AS BIGINT) AS start_s,
        CAST(1 + hash(s, $seed, 7) % (2 * $mean - 1) AS BIGINT) AS heartbeats,
        CAST(300 + hash(s, $seed, 8) % 7200 AS BIGINT) AS app_s,
        CAST(hash(s, $seed, 9) % 10 = 0 AS BIGINT) AS other_org
    FROM range($sessions) t(s)
),
shaped AS (
    SELECT s, u, app_s, other_org, start_s,
        -- most weekend sessions move to Thursday or Friday
        CASE WHEN day0 % 7 >= 5 AND weekday_roll < 7 THEN day0 - 2 ELSE day0 END AS day,
        CASE WHEN kind < 60 THEN heartbeats ELSE 1 END AS len,
        CASE WHEN kind < 40 THEN 'ide' WHEN kind < 55 THEN 'tunnel'
             WHEN kind < 60 THEN 'web_terminal' WHEN kind < 88 THEN 'login'
             ELSE 'app' END AS category
    FROM sessions
),
numbered AS (
    SELECT *, sum(len) OVER (ORDER BY s ROWS UNBOUNDED PRECEDING) - len AS first_row
    FROM shaped
),
users AS (
    SELECT u, substr(m, 1, 8) || '-' || substr(m, 9, 24) AS user_id
    FROM (SELECT u, md5('user-' || $seed || '-' || u) AS m FROM range($users) t(u))
),
orgs AS (
    SELECT o, substr(m, 1, 8) || '-' || substr(m, 9, 4) || '-' || substr(m, 13, 4) || '-'
              || substr(m, 17, 4) || '-' || substr(m, 21, 12) AS org_id
    FROM (SELECT o, md5('org-' || $seed || '-' || o) AS m FROM range($orgs) t(o))
),
events AS (
    SELECT n.s, k, n.u, n.category, n.other_org,
        ($first_day + n.day * 86400 + n.start_s) * 1000000 + k * 60000000
            + CASE WHEN k = 0 THEN 0
                   ELSE CAST(hash(n.s, k, $seed) % 6000000 AS BIGINT) - 3000000 END AS ts_us,
        CASE WHEN n.category = 'app' THEN n.app_s END AS app_s
    FROM numbered n, unnest(range(n.len)) r(k)
    WHERE n.first_row < $n AND n.first_row + k < $n
)
SELECT 'evt-' || e.s || '-' || e.k AS id,
       make_timestamptz(e.ts_us) AS time,
       us.user_id,
       e.category,
       o.org_id AS organization_id,
       make_timestamptz(e.ts_us + e.app_s * 1000000) AS end_time
FROM events e
JOIN users us ON us.u = e.u
JOIN orgs o ON o.o = (e.u + e.other_org) % $orgs
ORDER BY e.ts_us, e.s, e.k
"""

#: The CSV path's columns: ISO 8601 text with ``Z``, as an exporter would write.
CSV_SELECT = """
SELECT id, strftime(time, '%Y-%m-%dT%H:%M:%S.%fZ') AS time, user_id, category,
       organization_id, strftime(end_time, '%Y-%m-%dT%H:%M:%S.%fZ') AS end_time
FROM ({inner})
"""


def ensure_data(n: int, seed: int, fmt: str) -> Path:
    """The cached event file of ``n`` events; generated when missing.

    DuckDB runs in a child process: this process stays small, because a child
    forked from it starts with its resident set and ``ru_maxrss`` would count it.
    """
    path = data_path(n, seed, fmt)
    if not path.exists():
        internal("generate", fmt, str(n), str(seed))
    return path


def internal(*args: str) -> str:
    """Run ``bench.py --internal ARGS`` in a child process; its stdout."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--internal", *args],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(args)} failed (exit {done.returncode})")
    return done.stdout


def generate(n: int, seed: int, fmt: str) -> None:
    """Write the event file of ``n`` events (in this process: see :func:`ensure_data`)."""
    import duckdb

    path = data_path(n, seed, fmt)

    DATA.mkdir(parents=True, exist_ok=True)
    spill = DATA / "tmp"
    spill.mkdir(exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    log(f"generating {path.name} ({n:,} events) ...")
    started = time.perf_counter()
    first_day = int(
        datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC).timestamp()
    )
    mean_len = 0.6 * MEAN_HEARTBEATS + 0.4
    sessions = int(n / mean_len * 1.15) + 1_000
    # A good neighbour on a shared machine: sort within 4 GB, spill the rest.
    con = duckdb.connect(config={"temp_directory": str(spill), "memory_limit": "4GB"})
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET TimeZone = 'UTC'")
        params = {
            "seed": seed,
            "n": n,
            "sessions": sessions,
            "users": USERS,
            "days": DAYS,
            "orgs": ORGS,
            "mean": MEAN_HEARTBEATS,
            "first_day": first_day,
        }
        query = GENERATOR_SQL if fmt == "parquet" else CSV_SELECT.format(inner=GENERATOR_SQL)
        if fmt == "heartbeats":
            query = HEARTBEATS_SQL
            del params["sessions"], params["days"], params["mean"]
            params["per"] = -(-n // (USERS * DAYS))
        if fmt == NO_IDS:  # a copy of the heartbeat-only log (made first), without ids
            source = str(data_path(n, seed, "heartbeats"))
            rel = con.sql("SELECT * EXCLUDE (id) FROM read_parquet($p)", params={"p": source})
        else:
            rel = con.sql(query, params=params)
        if fmt in ("parquet", "heartbeats", NO_IDS):
            rel.write_parquet(str(partial), compression="zstd")
        else:
            rel.write_csv(str(partial), header=True)
        rows = con.execute(
            "SELECT count(*) FROM read_parquet($p)"
            if fmt in ("parquet", "heartbeats", NO_IDS)
            else "SELECT count(*) FROM read_csv($p, header = true, all_varchar = true)",
            {"p": str(partial)},
        ).fetchall()[0][0]
    finally:
        con.close()
    if rows != n:
        partial.unlink()
        raise SystemExit(f"bench: the generator made {rows} rows, not {n}; raise its session count")
    partial.replace(path)
    took = time.perf_counter() - started
    log(f"  {path.name}: {path.stat().st_size / 2**20:.0f} MiB in {took:.1f} s")


def data_range(path: Path) -> tuple[str, str]:
    """The weekly range a report without --start/--end covers: Monday to Monday, UTC."""
    low, high = internal("range", str(path)).split()
    return low, high


def compute_range(path: Path) -> tuple[str, str]:
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        columns = {
            c[0]
            for c in con.execute(
                "DESCRIBE SELECT * FROM read_parquet($p)", {"p": str(path)}
            ).fetchall()
        }
        end = "epoch_us(end_time)" if "end_time" in columns else "NULL"  # the heartbeat-only log
        first, last = con.execute(
            f"""SELECT min(epoch_us(time)),
                       max(greatest(coalesce({end}, epoch_us(time) + $hb), epoch_us(time) + 1))
                FROM read_parquet($p)""",
            {"p": str(path), "hb": HEARTBEAT_US},
        ).fetchall()[0]
    finally:
        con.close()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    low = (epoch + timedelta(microseconds=int(first))).date()
    low -= timedelta(days=low.weekday())
    high_moment = epoch + timedelta(microseconds=int(last))
    high = high_moment.date()
    if high_moment != datetime(high.year, high.month, high.day, tzinfo=UTC) or high.weekday():
        high += timedelta(days=7 - high.weekday())
    return low.isoformat(), high.isoformat()


# --------------------------------------------------------------------------- timing


@dataclass
class Run:
    wall_s: float
    cpu_s: float  # user + system time of the child
    rss_bytes: int
    exit_code: int
    stderr: str


def measure(cmd: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` to its end; its wall time and the peak RSS of that child alone."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", errors="replace")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss * 1024, proc.returncode, text)


@dataclass
class Timing:
    runs: list[Run] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and all(r.exit_code == 0 for r in self.runs)

    @property
    def median(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def low(self) -> float:
        return min(r.wall_s for r in self.runs)

    @property
    def high(self) -> float:
        return max(r.wall_s for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu_s for r in self.runs)

    @property
    def peak_rss(self) -> int:
        return max(r.rss_bytes for r in self.runs)

    def cpu_cell(self) -> str:
        return f"{self.cpu:.1f}" if self.ok else "-"

    def rss_cell(self) -> str:
        return _mib(self.peak_rss) if self.runs else "-"

    def cell(self) -> str:
        if not self.runs:
            return "-"
        if not self.ok:
            return "FAILED"
        if len(self.runs) == 1:
            return f"{self.median:.2f}"
        return f"{self.median:.2f} ({self.low:.2f}-{self.high:.2f})"


def timed(label: str, cmd: Sequence[str], timing: Timing, env: dict[str, str] | None = None) -> Run:
    run = measure(cmd, env)
    timing.runs.append(run)
    if run.exit_code != 0:
        log(f"  {label}: exit {run.exit_code}: {run.stderr.strip()[-2000:]}")
    return run


# --------------------------------------------------------------------------- agreement

Cells = dict[tuple[int, str], tuple[int, int]]


def _micros(text: str) -> int:
    moment = datetime.fromisoformat(text)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def tool_cells(path: Path) -> tuple[list[int], Cells]:
    """Bucket edges (µs) and ``(bucket start, user) -> (count, duration ns)`` of a report."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    edges: list[int] = []
    cells: Cells = {}
    for bucket in doc["activity"]:
        start = _micros(bucket["time"])
        edges.append(start)
        end = start + bucket["duration"] // 1000
        for user in bucket["user_activity"]:
            cells[(start, user["user_id"])] = (user["count"], user["duration"])
    if edges:
        edges.append(end)
    return edges, cells


def baseline_cells(path: Path) -> tuple[list[int], Cells]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    cells = {(int(b), str(u)): (int(n), int(d) * 1000) for b, u, n, d in doc["cells"]}
    return [int(e) for e in doc["edges"]], cells


def disagreements(tool_json: Path, baseline_json: Path) -> list[str]:
    """What differs between the report and the baseline; empty when they agree."""
    tool_edges, tool = tool_cells(tool_json)
    base_edges, base = baseline_cells(baseline_json)
    problems: list[str] = []
    if tool_edges != base_edges:
        problems.append(
            f"bucket edges differ: tool {tool_edges[:4]}..., baseline {base_edges[:4]}..."
        )
    keys = sorted(set(tool) | set(base))
    wrong = [k for k in keys if tool.get(k) != base.get(k)]
    for key in wrong[:5]:
        problems.append(
            f"bucket {key[0]} user {key[1]}: tool (count, ns) {tool.get(key)}, "
            f"baseline {base.get(key)}"
        )
    if len(wrong) > 5:
        problems.append(f"... {len(wrong)} cells differ of {len(keys)}")
    if not tool:
        problems.append("the report is empty")
    return problems


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    category: str
    interval: str  # day, week or month
    tz: str
    fmt: str = "parquet"
    auto_range: bool = False  # no --start/--end: the range comes from the data
    store: Path | None = None  # the report reads this store (holding the file's events)

    @property
    def name(self) -> str:
        extra = ", csv" if self.fmt == "csv" else ""
        extra += ", heartbeats only" if self.fmt in ("heartbeats", NO_IDS) else ""
        extra += ", no ids" if self.fmt == NO_IDS else ""
        extra += ", range from data" if self.auto_range else ""
        extra += ", from a store" if self.store is not None else ""
        return f"{self.category} / 1 {self.interval} / {self.tz}{extra}"

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")

    def tool_cmd(self, tool: Sequence[str], events: Path, out: Path) -> list[str]:
        source = ["--db", str(self.store)] if self.store else ["--events", str(events)]
        cmd = [*tool, *source, "--interval", f"1 {self.interval}"]
        if not self.auto_range:
            cmd += ["--start", START, "--end", END]
        return cmd + [
            "--tz",
            self.tz,
            "--category",
            self.category,
            "--format",
            "json",
            "-o",
            str(out),
        ]

    def baseline_cmd(self, events: Path, out: Path, start: str, end: str) -> list[str]:
        if self.fmt in ("heartbeats", NO_IDS):  # the lead() query, the strongest for such a log
            return [
                sys.executable, str(BASELINE_LEAD), "--events", str(events),
                "--start", start, "--end", end, "--interval", self.interval, "--tz", self.tz,
                "--category", self.category, "--heartbeat-us", str(HEARTBEAT_US), "-o", str(out),
            ]  # fmt: skip
        return [
            sys.executable, str(BASELINE), "--events", str(events), "--format", self.fmt,
            "--start", start, "--end", end, "--interval", self.interval, "--tz", self.tz,
            "--category", self.category, "--heartbeat-us", str(HEARTBEAT_US), "-o", str(out),
        ]  # fmt: skip


@dataclass
class CaseResult:
    case: Case
    events: int
    tool: Timing = field(default_factory=Timing)
    baseline: Timing = field(default_factory=Timing)
    problems: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if not (self.tool.ok and self.baseline.ok):
            return None
        return self.tool.median / self.baseline.median

    @property
    def cpu_ratio(self) -> float | None:
        if not (self.tool.ok and self.baseline.ok):
            return None
        return self.tool.cpu / self.baseline.cpu


def run_cases(
    cases: Sequence[Case], n: int, events: Path, tool: Sequence[str], repeat: int, work: Path
) -> list[CaseResult]:
    """Time each case's report and baseline; check that they agree.

    Round by round: every case runs once per round, its report and its
    baseline one after the other, so that a change of load on a shared
    machine touches all cases alike (and UTC and Berlin stay comparable).
    """
    results = [CaseResult(case, n) for case in cases]
    ranges = {case: data_range(events) if case.auto_range else (START, END) for case in cases}
    for rep in range(repeat):
        for result in results:
            case = result.case
            tool_out = work / f"{case.slug}.tool.json"
            base_out = work / f"{case.slug}.baseline.json"
            for path in (tool_out, base_out):
                path.unlink(missing_ok=True)
            tool_run = timed(
                f"{case.name} report", case.tool_cmd(tool, events, tool_out), result.tool
            )
            start, end = ranges[case]
            base_run = timed(
                f"{case.name} baseline",
                case.baseline_cmd(events, base_out, start, end),
                result.baseline,
            )
            if rep == 0 and tool_run.exit_code == 0 and base_run.exit_code == 0:
                result.problems = disagreements(tool_out, base_out)
            elif rep == 0:
                result.problems = ["a run failed; see its stderr above"]
            log(
                f"  round {rep + 1}/{repeat} {case.name:38s} report {tool_run.wall_s:6.2f} s "
                f"(CPU {tool_run.cpu_s:5.1f})  baseline {base_run.wall_s:6.2f} s "
                f"(CPU {base_run.cpu_s:5.1f})"
                + ("" if rep or not result.problems else "  !!! MISMATCH")
            )
    for result in results:
        ratio = result.ratio
        verdict = "AGREE" if not result.problems else "MISMATCH"
        log(
            f"  {result.case.name:38s} report {result.tool.cell():>20s} s  baseline "
            f"{result.baseline.cell():>20s} s  ratio {'-' if ratio is None else f'{ratio:.2f}'}  "
            f"rss {result.tool.rss_cell()}  {verdict}"
        )
        for problem in result.problems:
            log(f"    !!! {problem}")
    return results


@dataclass
class StoreResult:
    name: str = "store"
    note: str = ""
    ctas: Timing = field(default_factory=Timing)
    ingest: Timing = field(default_factory=Timing)
    reingest: Timing = field(default_factory=Timing)
    report: Timing = field(default_factory=Timing)
    problems: list[str] = field(default_factory=list)


def has_command(name: str) -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from activity_report.cli import command; "
         f"sys.exit(0 if {name!r} in command.commands else 1)"],
        capture_output=True, check=False,
    )  # fmt: skip
    return probe.returncode == 0


def run_store(
    events: Path,
    tool: Sequence[str],
    repeat: int,
    work: Path,
    parquet_report: Path | None,
    name: str = "store",
) -> StoreResult:
    """Ingest into a fresh store, ingest again, report from the store.

    The store of the last round stays in ``work`` as ``{name}.duckdb``.
    """
    result = StoreResult(name=name)
    if not has_command("ingest"):
        result.note = "skipped: `activity-report ingest` does not exist yet"
        log(f"  store: {result.note}")
        return result
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITY_REPORT_")}
    store, plain = work / f"{name}.duckdb", work / "ctas.duckdb"
    case = Case("any", "week", "UTC")
    out = work / f"{name}-report.json"
    for _ in range(repeat):
        for path in (store, plain, Path(f"{store}.wal"), Path(f"{plain}.wal")):
            path.unlink(missing_ok=True)
        timed("CTAS", [sys.executable, "-c", CTAS, str(plain), str(events)], result.ctas)
        ingest = [*tool, "ingest", "--db", str(store), str(events)]
        timed("ingest", ingest, result.ingest, env)
        timed("re-ingest", ingest, result.reingest, env)
        report = [*tool, "--db", str(store), *case.tool_cmd([], events, out)[2:]]
        timed("report from store", report, result.report, env)
    if parquet_report is not None and result.report.ok:
        _, from_store = tool_cells(out)
        _, from_files = tool_cells(parquet_report)
        if from_store != from_files:
            result.problems.append("the report from the store differs from the one from Parquet")
    log(
        f"  {name}: CTAS {result.ctas.cell()} s, ingest {result.ingest.cell()} s, "
        f"re-ingest {result.reingest.cell()} s, report {result.report.cell()} s"
    )
    for problem in result.problems:
        log(f"    !!! {problem}")
    return result


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        match = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read_text())
        if match:
            ram = f"{int(match.group(1)) / 2**20:.1f} GiB"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": str(cores),
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "DuckDB": importlib.metadata.version("duckdb"),
        "pyarrow": importlib.metadata.version("pyarrow"),
        "commit": _git_commit(),
        "code measured": _code_fingerprint(),
    }


def _code_fingerprint() -> str:
    """Where the measured ``activity_report`` lives and a hash of its sources.

    Several people edit the tree; the hash says which state a run measured.
    """
    where = "import activity_report, os; print(os.path.dirname(activity_report.__file__))"
    probe = subprocess.run(
        [sys.executable, "-c", where], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return "unknown"
    folder = Path(probe.stdout.strip())
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{folder} (sources sha256 {digest.hexdigest()[:12]})"


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (src/ with uncommitted changes)" if dirty else head


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# --------------------------------------------------------------------------- results


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def _mark(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**MISSED**")


@dataclass
class Bench:
    n: int
    seed: int
    repeat: int
    machine: dict[str, str]
    load_before: str
    command: str
    files: dict[str, Path] = field(default_factory=dict)
    help: Timing = field(default_factory=Timing)
    help_cmd: str = ""
    cases: list[CaseResult] = field(default_factory=list)
    heartbeats: list[CaseResult] = field(default_factory=list)
    csv: CaseResult | None = None
    store: StoreResult | None = None
    store_heartbeats: list[CaseResult] = field(default_factory=list)
    store_hb: StoreResult | None = None
    scale: list[CaseResult] = field(default_factory=list)
    load_after: str = ""
    seconds: float = 0.0

    @property
    def mismatches(self) -> list[CaseResult]:
        everything = [
            *self.cases, *self.heartbeats, *self.scale, *([self.csv] if self.csv else [])
        ]  # fmt: skip
        return [r for r in everything if r.problems]

    def targets(self) -> list[tuple[str, str, bool | None]]:
        rows: list[tuple[str, str, bool | None]] = []
        fixed = [r for r in self.cases if not r.case.auto_range]
        ratios = [(r.ratio, r) for r in fixed if r.ratio is not None]
        if ratios:
            worst, case = max(ratios, key=lambda x: x[0])
            rows.append(
                (f"report <= {MAX_RATIO}x the baseline of the same case (worst case)",
                 f"{worst:.2f}x ({case.case.name})", worst <= MAX_RATIO)
            )  # fmt: skip
            utc_base = {
                (r.case.category, r.case.interval): r.baseline.median
                for r in fixed
                if r.case.tz == "UTC" and r.baseline.ok
            }
            strict = [
                (r.tool.median / utc_base[(r.case.category, r.case.interval)], r)
                for r in fixed
                if r.tool.ok and (r.case.category, r.case.interval) in utc_base
            ]
            if strict:
                worst, case = max(strict, key=lambda x: x[0])
                rows.append(
                    (f"report <= {MAX_RATIO}x the UTC baseline (worst case; the stricter reading "
                     "for Berlin)", f"{worst:.2f}x ({case.case.name})", worst <= MAX_RATIO)
                )  # fmt: skip
        tz_ratios = self.tz_ratios()
        if tz_ratios:
            worst_tz, label = max((r, f"{c} / 1 {i}") for c, i, _, _, r, _ in tz_ratios)
            rows.append(
                (f"Europe/Berlin <= {MAX_TZ_RATIO}x UTC (worst case)",
                 f"{worst_tz:.2f}x ({label})", worst_tz <= MAX_TZ_RATIO)
            )  # fmt: skip
        lead = [(r.ratio, r) for r in self.heartbeats if r.ratio is not None]
        if lead:
            worst, case = max(lead, key=lambda x: x[0])
            rows.append(
                (f"heartbeat-only log: report <= {MAX_RATIO}x the lead() query of the same "
                 "case (worst case)", f"{worst:.2f}x ({case.case.name})", worst <= MAX_RATIO)
            )  # fmt: skip
            utc_lead = {
                (r.case.interval, r.case.fmt): r.baseline.median
                for r in self.heartbeats
                if r.case.tz == "UTC" and r.baseline.ok
            }
            strict = [
                (r.tool.median / utc_lead[(r.case.interval, r.case.fmt)], r)
                for r in self.heartbeats
                if r.tool.ok and (r.case.interval, r.case.fmt) in utc_lead
            ]
            if strict:
                worst, case = max(strict, key=lambda x: x[0])
                rows.append(
                    (f"heartbeat-only log: report <= {MAX_RATIO}x the UTC lead() query (worst "
                     "case; the stricter reading for Berlin)", f"{worst:.2f}x ({case.case.name})",
                     worst <= MAX_RATIO)
                )  # fmt: skip
        from_store = [(r.ratio, r) for r in self.store_heartbeats if r.ratio is not None]
        if from_store:
            worst, case = max(from_store, key=lambda x: x[0])
            rows.append(
                (f"heartbeat-only log in a store: report <= {MAX_STORE_RATIO}x the lead() query "
                 "on the Parquet file (worst case)", f"{worst:.2f}x ({case.case.name})",
                 worst <= MAX_STORE_RATIO)
            )  # fmt: skip
        without = {
            (r.case.interval, r.case.tz): r.tool.median
            for r in self.heartbeats
            if r.case.fmt == NO_IDS and r.tool.ok
        }
        ids = [
            (r.tool.median / without[(r.case.interval, r.case.tz)], r)
            for r in self.heartbeats
            if r.case.fmt == "heartbeats" and r.tool.ok and (r.case.interval, r.case.tz) in without
        ]
        if ids:
            worst, case = max(ids, key=lambda x: x[0])
            rows.append(
                (f"heartbeat-only log with ids: report <= {MAX_RATIO}x the same log without "
                 "(worst case)", f"{worst:.2f}x ({case.case.name})", worst <= MAX_RATIO)
            )  # fmt: skip
        with_rss = [r for r in [*self.cases, *self.heartbeats] if r.tool.runs]
        if with_rss:
            fat = max(with_rss, key=lambda r: r.tool.peak_rss)
            rows.append(
                (f"peak RSS <= {_mib(int(MAX_RSS))}",
                 f"{_mib(fat.tool.peak_rss)} ({fat.case.name})", fat.tool.peak_rss <= MAX_RSS)
            )  # fmt: skip
        if self.help.ok:
            rows.append(
                (f"`--help` < {MAX_HELP_S} s", f"{self.help.median:.3f} s",
                 self.help.median < MAX_HELP_S)
            )  # fmt: skip
        weekly = [
            r for r in [*self.cases, *self.scale]
            if r.events >= 100_000_000 and r.case == Case("any", "week", "UTC") and r.tool.ok
        ]  # fmt: skip
        if weekly:
            rows.append(
                (f"100M events, weekly report < {MAX_100M_WEEKLY_S:.0f} s",
                 f"{weekly[0].tool.median:.1f} s at {weekly[0].events:,}",
                 weekly[0].tool.median < MAX_100M_WEEKLY_S)
            )  # fmt: skip
        else:
            rows.append(
                (f"100M events, weekly report < {MAX_100M_WEEKLY_S:.0f} s",
                 "not run (add 1e8 to --scale)", None)
            )  # fmt: skip
        growth = self.growth()
        if growth is not None:
            rows.append(
                ("report time grows linearly or better (time per event does not rise by more "
                 "than 10% from one N to the next)", growth[0], growth[1])
            )  # fmt: skip
        for label, store in (("mixed log", self.store), ("heartbeat-only log", self.store_hb)):
            if store is None or not (store.ingest.ok and store.ctas.ok):
                continue
            ctas = store.ctas.median
            rows.append(
                (f"{label}: ingest <= {MAX_INGEST_RATIO}x CREATE TABLE AS",
                 f"{store.ingest.median / ctas:.2f}x",
                 store.ingest.median <= MAX_INGEST_RATIO * ctas)
            )  # fmt: skip
            rows.append(
                (f"{label}: ingest peak RSS <= {_mib(MAX_INGEST_RSS)}",
                 _mib(store.ingest.peak_rss), store.ingest.peak_rss <= MAX_INGEST_RSS)
            )  # fmt: skip
            if store.reingest.ok:
                rows.append(
                    (f"{label}: re-ingest <= {MAX_INGEST_RATIO}x CREATE TABLE AS",
                     f"{store.reingest.median / ctas:.2f}x",
                     store.reingest.median <= MAX_INGEST_RATIO * ctas)
                )  # fmt: skip
        if self.store is not None and self.store.ingest.ok and self.store.ctas.ok:
            weekly_files = self.find(Case("any", "week", "UTC"))
            if self.store.report.ok and weekly_files is not None and weekly_files.tool.ok:
                rows.append(
                    ("report from the store <= report from Parquet",
                     f"{self.store.report.median:.2f} s vs {weekly_files.tool.median:.2f} s",
                     self.store.report.median <= weekly_files.tool.median)
                )  # fmt: skip
        return rows

    def find(self, case: Case) -> CaseResult | None:
        return next((r for r in self.cases if r.case == case), None)

    def tz_ratios(self) -> list[tuple[str, str, float, float, float, float]]:
        """(category, interval, UTC s, Berlin s, Berlin/UTC, Berlin/UTC in CPU time)."""
        rows = []
        for category in CATEGORY_CASES:
            for interval in INTERVAL_CASES:
                utc = self.find(Case(category, interval, "UTC"))
                berlin = self.find(Case(category, interval, "Europe/Berlin"))
                if utc and berlin and utc.tool.ok and berlin.tool.ok:
                    a, b = utc.tool.median, berlin.tool.median
                    rows.append((category, interval, a, b, b / a, berlin.tool.cpu / utc.tool.cpu))
        return rows

    def growth(self) -> tuple[str, bool] | None:
        points = sorted((r.events, r.tool.median) for r in self.scale if r.tool.ok)
        if len(points) < 2:
            return None
        per_event = [t / n for n, t in points]
        rises = [b / a for a, b in zip(per_event, per_event[1:], strict=False)]
        text = ", ".join(f"{n / 1e6:g}M: {t / n * 1e6:.2f} s/M" for n, t in points)
        return text, max(rises) <= 1.10

    def markdown(self) -> str:
        out: list[str] = ["# Benchmark results", ""]
        out += [
            "Made by `benchmarks/bench.py`; the command that reproduces this run:",
            "",
            f"    {self.command}",
            "",
            f"Run finished {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}, "
            f"took {self.seconds / 60:.1f} min. Times are wall-clock seconds of the whole "
            f"process (Python start-up included): the median of {self.repeat} runs, "
            "(min-max) beside it; CPU s is the median user + system time of the process, "
            "which other jobs on a shared machine disturb less than wall time. Ratios are "
            "the report's median over the baseline's. Peak RSS is the child's `ru_maxrss`.",
            "How the benchmark works: [README.md](README.md); where the time goes and what "
            "was tried: [PROFILE.md](PROFILE.md).",
            "",
            "## Machine",
            "",
            "| | |",
            "|---|---|",
        ]
        out += [f"| {k} | {v} |" for k, v in self.machine.items()]
        out += [
            f"| load average (1, 5, 15 min) before / after | {self.load_before} / "
            f"{self.load_after} |",
            "",
            "The machine is shared: other jobs ran beside this one, so single figures carry "
            "noise; compare ratios of runs made side by side.",
            "",
            "## Data",
            "",
            f"Synthetic, seed {self.seed}: {USERS} users, {DAYS} days from "
            f"{FIRST_DAY.isoformat()} (Europe/Berlin's spring-forward day inside), {ORGS} "
            f"organizations; sessions of heartbeats a minute apart (±3 s) for ide, tunnel and "
            f"web_terminal (about {MEAN_HEARTBEATS} each), single login events, app sessions of "
            f"5 min to 2 h with an end_time. Report range `--start {START} --end {END}`.",
            "",
        ]
        out += [
            f"- {label}: `{path.relative_to(HERE)}` ({path.stat().st_size / 2**20:.0f} MiB)"
            for label, path in self.files.items()
        ]
        out += ["", "## Targets", "", "| target | measured | status |", "|---|---|---|"]
        out += [f"| {t} | {m} | {_mark(ok)} |" for t, m, ok in self.targets()]
        if self.mismatches:
            out += ["", "**MISMATCH: the report and the baseline disagree:**", ""]
            for r in self.mismatches:
                out += [f"- {r.case.name} ({r.events:,} events): " + "; ".join(r.problems)]
        out += [
            "",
            f"## Reports, {self.n:,} events (Parquet)",
            "",
            "`activity-report --events FILE --start ... --end ... --interval ... --tz ... "
            "--category ... --format json -o FILE` against `benchmarks/baseline.py` (the "
            "hand-written DuckDB query of the same semantics). Agree: the report's counts and "
            "durations equal the baseline's for every bucket and user.",
            "",
            *CASE_HEADER,
        ]
        out += [self._row(r) for r in self.cases]
        if self.heartbeats:
            out += [
                "",
                f"## Reports on a heartbeat-only log, {self.heartbeats[0].events:,} events",
                "",
                f"{USERS} users x {DAYS} days, one event a minute with 0-19 s of jitter, no "
                "end_time or duration column. The baseline is `benchmarks/baseline_lead.py`: "
                "user ids hashed to integers, one `lead()` window (each event covers "
                "`min(next_time - time, heartbeat)`), names joined back from a "
                "`DISTINCT hash(user_id), user_id`; in Europe/Berlin it takes the wall clock "
                'with `timezone()` per value, as `baseline.py` does. Rows marked "no ids" '
                "read a copy of the same log without its `id` column: the difference is what "
                "the repeated-row rule costs a file with ids (finding the ids that repeat). "
                "Agree: equal counts and durations for every bucket and user.",
                "",
                *CASE_HEADER,
            ]
            out += [self._row(r) for r in self.heartbeats]
        if self.store_heartbeats:
            out += [
                "",
                "## Reports from a store holding the heartbeat-only log",
                "",
                "`activity-report ingest` of the heartbeat-only file into a new store, then "
                "`activity-report --db STORE ...` (range from the data) against the same "
                "`lead()` query on the Parquet file, alternately. Agree: equal counts and "
                "durations for every bucket and user.",
                "",
                *CASE_HEADER,
            ]
            out += [self._row(r) for r in self.store_heartbeats]
        tz_rows = self.tz_ratios()
        if tz_rows:
            out += [
                "",
                "## Europe/Berlin against UTC (the report)",
                "",
                "| case | UTC s | Europe/Berlin s | ratio | CPU ratio | status |",
                "|---|---|---|---|---|---|",
            ]
            out += [
                f"| {c} / 1 {i} | {a:.2f} | {b:.2f} | {r:.2f} | {cr:.2f} "
                f"| {_mark(r <= MAX_TZ_RATIO)} |"
                for c, i, a, b, r, cr in tz_rows
            ]
        out += ["", "## Start-up", ""]
        if self.help.runs:
            out += [
                f"`{self.help_cmd}`: {self.help.cell()} s (CPU {self.help.cpu_cell()} s), "
                f"peak RSS {_mib(self.help.peak_rss)}."
            ]
        if self.csv is not None:
            out += [
                "",
                f"## CSV, {self.csv.events:,} events",
                "",
                *CASE_HEADER,
                self._row(self.csv),
            ]
        for title, store in (
            ("## Store: the mixed log", self.store),
            ("## Store: the heartbeat-only log", self.store_hb),
        ):
            out += ["", title, ""]
            if store is None:
                out += ["Not run."]
            elif store.note:
                out += [store.note.capitalize() + "."]
            else:
                out += [
                    "| step | s | CPU s | peak RSS |",
                    "|---|---|---|---|",
                    *(
                        f"| {label} | {t.cell()} | {t.cpu_cell()} | {t.rss_cell()} |"
                        for label, t in (
                            ("CREATE TABLE AS SELECT * FROM read_parquet (the yardstick)",
                             store.ctas),
                            ("ingest into a new store", store.ingest),
                            ("ingest the same file again", store.reingest),
                            ("report any / 1 week / UTC from the store", store.report),
                        )
                    ),
                ]  # fmt: skip
                out += [f"\n**{p}**" for p in store.problems]
        if self.scale:
            out += [
                "",
                "## Scaling (any / 1 week / UTC)",
                "",
                "| events | report s | report CPU s | s per million events | baseline s "
                "| baseline CPU s | ratio | report peak RSS | agree |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for r in sorted(self.scale, key=lambda r: r.events):
                per = f"{r.tool.median / r.events * 1e6:.3f}" if r.tool.ok else "-"
                ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
                agree = "yes" if not r.problems else "**NO**"
                out += [
                    f"| {r.events:,} | {r.tool.cell()} | {r.tool.cpu_cell()} | {per} "
                    f"| {r.baseline.cell()} | {r.baseline.cpu_cell()} | {ratio} "
                    f"| {r.tool.rss_cell()} | {agree} |"
                ]
        return "\n".join(out) + "\n"

    @staticmethod
    def _row(r: CaseResult) -> str:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}"
        cpu_ratio = "-" if r.cpu_ratio is None else f"{r.cpu_ratio:.2f}"
        agree = "yes" if not r.problems else "**NO**"
        return (
            f"| {r.case.name} | {r.tool.cell()} | {r.tool.cpu_cell()} | {r.baseline.cell()} "
            f"| {r.baseline.cpu_cell()} | {ratio} | {cpu_ratio} | {r.tool.rss_cell()} "
            f"| {r.baseline.rss_cell()} | {agree} |"
        )


CASE_HEADER = (
    "| case | report s | report CPU s | baseline s | baseline CPU s | ratio | CPU ratio "
    "| report peak RSS | baseline peak RSS | agree |",
    "|---|---|---|---|---|---|---|---|---|---|",
)


# --------------------------------------------------------------------------- main


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_count(text: str) -> int:
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of events: {text!r}") from None
    if value < 1_000 or value != int(value):
        raise argparse.ArgumentTypeError(f"need a whole number of at least 1000: {text!r}")
    return int(value)


def parse_counts(text: str) -> list[int]:
    return [parse_count(part) for part in text.split(",") if part.strip()]


def all_cases() -> list[Case]:
    cases = [
        Case(category, interval, tz)
        for category in CATEGORY_CASES
        for interval in INTERVAL_CASES
        for tz in TZ_CASES
    ]
    return [*cases, Case("any", "week", "UTC", auto_range=True)]


def heartbeat_cases(fmt: str = "heartbeats") -> list[Case]:
    """The heartbeat-only log's cases (with ids, or ``NO_IDS``), against the lead() query."""
    return [Case("any", "week", tz, fmt=fmt) for tz in TZ_CASES]


def run_internal(args: Sequence[str]) -> int:
    """The child-process half of :func:`internal`."""
    if args[0] == "generate":
        fmt, n, seed = args[1], int(args[2]), int(args[3])
        generate(n, seed, fmt)
    elif args[0] == "range":
        print(*compute_range(Path(args[1])))
    else:
        raise SystemExit(f"bench: unknown internal step {args[0]!r}")
    return 0


def compile_package() -> None:
    """Write the package's bytecode, as ``pip install`` does, before anything is timed.

    An editable install has none, and with ``PYTHONDONTWRITEBYTECODE`` set
    (or a read-only checkout) every run would compile the modules it
    imports again: about 0.05 s that an installed tool does not spend.
    """
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("activity_report")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            compileall.compile_dir(folder, quiet=1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Time activity-report against a hand-written DuckDB baseline."
    )
    parser.add_argument(
        "--events",
        type=parse_count,
        default=20_000_000,
        metavar="N",
        help="events in the main data set (default 20_000_000; 1e8 works)",
    )
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (default 3)")
    parser.add_argument(
        "--scale",
        type=parse_counts,
        default=[],
        metavar="N,N,...",
        help="also time the weekly report at these sizes, e.g. 1e6,5e6,2e7,1e8",
    )
    parser.add_argument(
        "--only",
        default="",
        metavar="REGEX",
        help="only the report cases whose name matches, e.g. 'week' or 'any.*UTC'",
    )
    parser.add_argument(
        "--skip",
        default="",
        metavar="PARTS",
        help="comma-separated parts to leave out: help, csv, store, cases, heartbeats",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS,
        help=f"where to write the results (default {RESULTS.relative_to(HERE.parent)})",
    )
    parser.add_argument("--generate-only", action="store_true", help="make the data files and stop")
    parser.add_argument("--internal", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.internal:
        return run_internal(args.internal)
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    started = time.perf_counter()
    tool = [sys.executable, "-m", "activity_report"]
    if subprocess.run([*tool, "--version"], capture_output=True, check=False).returncode != 0:
        parser.error(f"{sys.executable} cannot run activity_report; use the project's venv")
    compile_package()

    parquet = ensure_data(args.events, args.seed, "parquet")
    csv_n = max(args.events // 10, 1_000)
    csv = ensure_data(csv_n, args.seed, "csv") if "csv" not in skip else None
    heartbeats = (
        ensure_data(args.events, args.seed, "heartbeats") if "heartbeats" not in skip else None
    )
    no_ids = ensure_data(args.events, args.seed, NO_IDS) if heartbeats is not None else None
    for n in args.scale:
        ensure_data(n, args.seed, "parquet")
    if args.generate_only:
        return 0

    command = " ".join(
        ["python benchmarks/bench.py", *(argv if argv is not None else sys.argv[1:])]
    )
    bench = Bench(
        n=args.events, seed=args.seed, repeat=args.repeat, machine=machine(),
        load_before=load_average(), command=command,
    )  # fmt: skip
    bench.files[f"Parquet, {args.events:,} events"] = parquet
    if csv is not None:
        bench.files[f"CSV, {csv_n:,} events"] = csv
    if heartbeats is not None:
        bench.files[f"Parquet, {args.events:,} heartbeats only"] = heartbeats
    if no_ids is not None:
        bench.files[f"Parquet, {args.events:,} heartbeats only, no id column"] = no_ids
    log(f"machine: {bench.machine}; load {bench.load_before}")

    DATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="run-", dir=DATA) as tmp:
        work = Path(tmp)
        if "help" not in skip:
            script = Path(sys.executable).parent / "activity-report"
            help_cmd = [str(script)] if script.exists() else tool
            bench.help_cmd = f"{' '.join(help_cmd[-1:] if script.exists() else help_cmd)} --help"
            for _ in range(max(args.repeat, 5)):
                timed("--help", [*help_cmd, "--help"], bench.help)
            log(f"  --help: {bench.help.cell()} s")

        if "cases" not in skip:
            log(f"reports over {args.events:,} events, {args.repeat} runs each:")
            selected = [c for c in all_cases() if re.search(args.only, c.name)]
            bench.cases = run_cases(selected, args.events, parquet, tool, args.repeat, work)

        if heartbeats is not None:
            log(f"reports over {args.events:,} heartbeats, {args.repeat} runs each:")
            selected = [c for c in heartbeat_cases() if re.search(args.only, c.name)]
            bench.heartbeats = run_cases(selected, args.events, heartbeats, tool, args.repeat, work)
        if no_ids is not None:
            selected = [c for c in heartbeat_cases(NO_IDS) if re.search(args.only, c.name)]
            bench.heartbeats += run_cases(selected, args.events, no_ids, tool, args.repeat, work)

        if heartbeats is not None and "store" not in skip and has_command("ingest"):
            log(f"store of {args.events:,} heartbeats, then reports from it:")
            bench.store_hb = run_store(
                heartbeats, tool, args.repeat, work, None, name="store-heartbeats"
            )
            held = work / "store-heartbeats.duckdb"
            selected = [
                Case("any", "week", tz, fmt="heartbeats", auto_range=True, store=held)
                for tz in TZ_CASES
            ]
            bench.store_heartbeats = run_cases(
                [c for c in selected if re.search(args.only, c.name)],
                args.events, heartbeats, tool, args.repeat, work,
            )  # fmt: skip

        if csv is not None:
            log(f"CSV, {csv_n:,} events:")
            (bench.csv,) = run_cases(
                [Case("any", "week", "UTC", fmt="csv")], csv_n, csv, tool, args.repeat, work
            )

        if "store" not in skip:
            log("store:")
            weekly = bench.find(Case("any", "week", "UTC"))
            report = work / f"{Case('any', 'week', 'UTC').slug}.tool.json"
            bench.store = run_store(
                parquet, tool, args.repeat, work, report if weekly and weekly.tool.ok else None
            )

        if args.scale:
            log("scaling, any / 1 week / UTC:")
            for n in args.scale:
                same = bench.find(Case("any", "week", "UTC"))
                if n == args.events and same is not None:
                    bench.scale.append(same)
                    continue
                path = ensure_data(n, args.seed, "parquet")
                bench.scale += run_cases(
                    [Case("any", "week", "UTC")], n, path, tool, args.repeat, work
                )

    bench.load_after = load_average()
    bench.seconds = time.perf_counter() - started
    text = bench.markdown()
    args.output.write_text(text, encoding="utf-8")
    print(text)
    log(f"wrote {args.output}")
    if bench.mismatches:
        log("!!! MISMATCH: the report and the hand-written baseline disagree (see above) !!!")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
