"""The hand-written DuckDB baseline that ``bench.py`` times the tool against.

It computes what a report computes, the way a competent DuckDB user
would write it by hand for one known event file:

* each event covers ``[time, coalesce(end_time, time + heartbeat))``;
* user ids are first mapped to small integers (a dictionary of the distinct
  ids), so the window sorts and partitions integers, not text;
* the union of a user's coverages is cut into disjoint pieces with a running
  maximum of the ends (``max(te) OVER (... 1 PRECEDING)``), clipped to the range;
* buckets on the wall clock: in UTC the instant is the wall clock; in any
  other zone ``timezone(zone, TIMESTAMPTZ)`` gives it (one ICU call per
  value; ``time_bucket(..., zone)`` is 4x to 25x slower here). Days and weeks
  are then integer arithmetic, months ``date_trunc`` on a plain TIMESTAMP. The
  few pieces that cross a bucket edge are split by a join against the edges,
  which ``generate_series`` makes on the zone's wall clock.

It writes ``{"edges": [...], "cells": [[bucket_start_us, user_id, count,
duration_us], ...]}`` for ``bench.py`` to compare with the tool's JSON.

Run: ``python benchmarks/baseline.py --events FILE --start 2024-01-01
--end 2024-06-29 --interval week --tz UTC --category any -o OUT``.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path

import duckdb

CATEGORIES = ("ide", "login", "app", "tunnel", "web_terminal")
STEPS = {"day": "1 day", "week": "7 days", "month": "1 month"}
WIDTH_US = {"day": 86_400_000_000, "week": 7 * 86_400_000_000}


def bucket_sql(interval: str, tz: str, x: str) -> str:
    """A SQL expression: the wall-clock start (µs) of the bucket holding instant ``x``."""
    wall = x if tz == "UTC" else f"epoch_us(timezone($tz, make_timestamptz({x})))"
    if interval in WIDTH_US:
        return f"($origin + ({wall} - $origin) // $width * $width)"
    return f"epoch_us(date_trunc('month', make_timestamp({wall})))"


def make_edges(
    con: duckdb.DuckDBPyConnection, start: str, end: str, interval: str, tz: str
) -> tuple[list[int], int, int, int]:
    """The temp table ``edges (wall, lo, hi)`` of the buckets on ``tz``'s wall clock.

    Returns the bucket starts (µs), the first bucket's wall-clock start, and
    the range's first and last instant.
    """
    wall_start, wall_end = datetime.fromisoformat(start), datetime.fromisoformat(end)
    step = STEPS[interval]
    con.execute(
        """CREATE TEMP TABLE edges AS
           SELECT wall, lo,
                  coalesce(lead(lo) OVER (ORDER BY lo), epoch_us(timezone($tz, $end))) AS hi
           FROM (SELECT epoch_us(t) AS wall, epoch_us(timezone($tz, t)) AS lo
                 FROM generate_series($start, $end, CAST($step AS INTERVAL)) g(t)
                 WHERE t < $end)""",
        {"tz": tz, "start": wall_start, "end": wall_end, "step": step},
    )
    rows = con.execute("SELECT wall, lo, hi FROM edges ORDER BY lo").fetchall()
    edges = [int(lo) for _, lo, _ in rows]
    wall_origin, range_start, range_end = int(rows[0][0]), edges[0], int(rows[-1][2])
    return edges, wall_origin, range_start, range_end


def answer(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    cats: list[str],
    hb_us: int,
    interval: str,
    tz: str,
    edges: list[int],
    wall_origin: int,
    range_start: int,
    range_end: int,
) -> dict[str, object]:
    """Run a baseline's ``sql`` with its parameters; the JSON that ``bench.py`` compares."""
    params: dict[str, object] = {
        "cats": cats,
        "hb": hb_us,
        "start": range_start,
        "end": range_end,
    }
    if interval in WIDTH_US:
        params |= {"origin": wall_origin, "width": WIDTH_US[interval]}
    if tz != "UTC":
        params["tz"] = tz
    rows = con.execute(sql, params).fetchall()
    cells = [[int(b), str(u), int(n), int(d)] for b, u, n, d in rows]
    return {"edges": [*edges, range_end], "cells": cells}


def arguments(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The options both baselines take, after ``--events`` and any of their own."""
    parser.add_argument("--start", required=True, help="wall-clock date in --tz")
    parser.add_argument("--end", required=True, help="wall-clock date in --tz (exclusive)")
    parser.add_argument("--interval", choices=sorted(STEPS), required=True)
    parser.add_argument("--tz", default="UTC")
    parser.add_argument("--category", choices=("any", *CATEGORIES), default="any")
    parser.add_argument("--heartbeat-us", type=int, default=60_000_000)
    parser.add_argument("-o", "--output", required=True)
    return parser.parse_args()


def run(
    events: str, fmt: str, start: str, end: str, interval: str, tz: str, category: str, hb_us: int
) -> dict[str, object]:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    if fmt == "parquet":
        source = con.read_parquet(events)
    else:
        source = con.read_csv(
            events, header=True, dtype={"time": "TIMESTAMPTZ", "end_time": "TIMESTAMPTZ"}
        )
    source.create_view("src")
    cats = list(CATEGORIES) if category == "any" else [category]
    edges, wall_origin, range_start, range_end = make_edges(con, start, end, interval, tz)
    con.execute(
        """CREATE TEMP TABLE dict AS
           SELECT user_id, CAST(row_number() OVER () AS INTEGER) AS uid
           FROM (SELECT DISTINCT user_id FROM src WHERE list_contains($cats, category))""",
        {"cats": cats},
    )
    bucket_a = bucket_sql(interval, tz, "a")
    bucket_last = bucket_sql(interval, tz, "b - 1")
    bucket_ts = bucket_sql(interval, tz, "ts")
    sql = f"""
        WITH ev AS (
            SELECT d.uid, epoch_us(s.time) AS ts,
                   coalesce(epoch_us(s.end_time), epoch_us(s.time) + $hb) AS te
            FROM src s JOIN dict d ON d.user_id = s.user_id
            WHERE list_contains($cats, s.category)
        ),
        matching AS (
            SELECT * FROM ev WHERE ts < $end AND (te > $start OR ts >= $start)
        ),
        pieces AS (
            SELECT uid,
                   greatest(ts, coalesce(max(te) OVER (
                       PARTITION BY uid ORDER BY ts
                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), ts), $start) AS a,
                   least(te, $end) AS b
            FROM matching
        ),
        spans AS (
            SELECT uid, a, b, {bucket_a} AS first_bucket, {bucket_last} AS last_bucket
            FROM pieces WHERE b > a
        ),
        durations AS (
            SELECT uid, first_bucket AS bucket, sum(b - a) AS duration
            FROM spans WHERE first_bucket = last_bucket
            GROUP BY ALL
            UNION ALL
            SELECT s.uid, e.wall AS bucket, sum(least(s.b, e.hi) - greatest(s.a, e.lo))
            FROM spans s JOIN edges e ON e.lo < s.b AND e.hi > s.a
            WHERE s.first_bucket <> s.last_bucket
            GROUP BY ALL
        ),
        counts AS (
            SELECT uid, {bucket_ts} AS bucket, count(*) AS n
            FROM matching WHERE ts >= $start
            GROUP BY ALL
        ),
        cells AS (
            SELECT uid, bucket, sum(n) AS n, sum(duration) AS duration
            FROM (SELECT uid, bucket, n, 0 AS duration FROM counts
                  UNION ALL
                  SELECT uid, bucket, 0 AS n, duration FROM durations)
            GROUP BY ALL
        )
        SELECT e.lo, d.user_id, c.n, c.duration
        FROM cells c JOIN dict d USING (uid) JOIN edges e ON e.wall = c.bucket
        WHERE c.n > 0 OR c.duration > 0
        ORDER BY e.lo, d.user_id
    """
    return answer(con, sql, cats, hb_us, interval, tz, edges, wall_origin, range_start, range_end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", required=True)
    parser.add_argument("--format", dest="fmt", choices=("parquet", "csv"), default="parquet")
    args = arguments(parser)
    result = run(
        args.events,
        args.fmt,
        args.start,
        args.end,
        args.interval,
        args.tz,
        args.category,
        args.heartbeat_us,
    )
    Path(args.output).write_text(json.dumps(result) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
