"""Where a report's time goes: every SQL statement it runs, timed, then profiled.

Runs one report in this process (``activity_report.reporting.run``) on a
connection that records each statement, its parameters and its wall time;
then runs each slow ``SELECT``/``WITH`` statement again under DuckDB's JSON
profiler and prints its operators as an indented tree (operator, time, rows,
what it computes). Operator times are summed over DuckDB's threads, so on two
cores they add up to about twice the wall time.

It knows nothing of the engine's SQL, so it profiles whatever the engine is.

    python benchmarks/profile_engine.py --events 20000000 --interval "1 week"
    python benchmarks/profile_engine.py --events FILE.parquet --tz Europe/Berlin --category ide
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import duckdb

HERE = Path(__file__).resolve().parent
EXTRA_KEYS = ("Projections", "Aggregates", "Groups", "Expression", "Conditions", "Function")


@dataclass
class Statement:
    sql: str
    params: Any
    seconds: float


class _Result:
    """What ``execute`` returns: the rows, already fetched and timed."""

    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def fetchall(self) -> list[Any]:
        return self.rows

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None


class Recorder:
    """A connection stand-in that times every ``execute`` and forwards the rest."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.statements: list[Statement] = []

    def execute(self, sql: str, params: Any = None) -> _Result:
        started = time.perf_counter()
        rows = self.con.execute(sql, params).fetchall()
        self.statements.append(Statement(sql, params, time.perf_counter() - started))
        return _Result(rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


def operator_lines(node: dict[str, Any], depth: int = 0) -> list[str]:
    name = str(node.get("name", "")).strip()
    lines: list[str] = []
    if name:
        extra = node.get("extra_info", {})
        info = []
        for key in EXTRA_KEYS:
            if key in extra:
                value = extra[key]
                text = " | ".join(value) if isinstance(value, list) else str(value)
                info.append(f"{key}: {' '.join(text.split())[:140]}")
        lines.append(
            f"{'  ' * depth}{name:<22s} {float(node.get('timing', 0.0)):7.2f}s "
            f"{int(node.get('intermediate_rows', 0)):>12,}  {'; '.join(info)}"
        )
    for child in node.get("children", []):
        lines += operator_lines(child, depth + 1)
    return lines


def profile(con: duckdb.DuckDBPyConnection, statement: Statement) -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "profile.json"
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute("SET profiling_output = $path", {"path": str(output)})
        started = time.perf_counter()
        try:
            con.execute(statement.sql, statement.params).fetchall()
        finally:
            con.execute("PRAGMA disable_profiling")
        wall = time.perf_counter() - started
        doc = json.loads(output.read_text(encoding="utf-8"))
    lines = [f"profiled again: {wall:.2f} s wall"]
    for node in doc.get("operator", doc.get("children", [])):
        lines += operator_lines(node)
    return lines


def events_path(value: str, seed: int) -> str:
    if Path(value).exists():
        return value
    from bench import ensure_data, parse_count

    return str(ensure_data(parse_count(value), seed, "parquet"))


def main(argv: Sequence[str] | None = None) -> int:
    from activity_report import reporting as core
    from activity_report import sources
    from activity_report.backends.duckdb import FileSource
    from activity_report.query import parse_query

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", default="20000000", help="a file, or N for bench.py's data")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--start", default="2024-01-01", help="'' for none (from the data)")
    parser.add_argument("--end", default="2024-06-29", help="'' for none (from the data)")
    parser.add_argument("--interval", default="1 week")
    parser.add_argument("--tz", default="UTC")
    parser.add_argument("--category", default="any")
    parser.add_argument("--min-seconds", type=float, default=0.2, help="profile slower ones")
    args = parser.parse_args(argv)

    query = parse_query(
        {
            "tz": args.tz,
            "interval": args.interval,
            "category": args.category,
            "start": args.start or None,
            "end": args.end or None,
        }
    )
    con = core.connect()
    recorder = Recorder(con)
    recording = cast(duckdb.DuckDBPyConnection, recorder)
    files = sources.expand_paths([events_path(args.events, args.seed)])
    source = FileSource(recording, sources.load_events(recording, files).view)
    started = time.perf_counter()
    result = core.run(query, source)
    total = time.perf_counter() - started
    print(f"report.run: {total:.2f} s, {len(result.report.activity)} buckets, "
          f"{len(result.report.users)} users")  # fmt: skip
    for index, statement in enumerate(recorder.statements):
        print(f"[{index}] {statement.seconds:7.2f} s  {' '.join(statement.sql.split())[:110]}")
    print(f"statements: {sum(s.seconds for s in recorder.statements):.2f} s of {total:.2f} s")
    for index, statement in enumerate(recorder.statements):
        head = statement.sql.lstrip().split(None, 1)[0].upper()
        if statement.seconds < args.min_seconds or head not in {"SELECT", "WITH"}:
            continue
        print(f"\n== [{index}] {' '.join(statement.sql.split())[:110]}")
        print("\n".join(profile(con, statement)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
