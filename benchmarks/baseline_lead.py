"""The hand-written DuckDB query for a heartbeat-only log, the strongest one we know.

A log whose events have no end and no duration (every event covers
``[time, time + heartbeat)``) needs no running maximum: sorted by time, an
event's coverage past the one before it ends at the next event's time, so
event *i* adds ``[time_i, min(time_{i+1}, time_i + heartbeat))`` and these
pieces are disjoint. One ``lead()`` window per user does it:

* user ids hashed to integers (``hash(user_id)``), so the window partitions
  and sorts integers; names joined back at the end from a
  ``DISTINCT hash(user_id), user_id`` (no collision check: a user would know
  their data);
* pieces clipped to the range, bucketed by integer arithmetic (UTC) or on the
  wall clock with ``timezone(zone, ts)`` (other zones), as ``baseline.py``
  does; the few pieces that cross a bucket edge are split by a join against
  the edges.

It writes the same ``{"edges": [...], "cells": [...]}`` as ``baseline.py``,
which ``bench.py`` compares with the tool's JSON. It is only right for logs
without end_time/duration; ``bench.py`` runs it on the heartbeat-only data set.

Run: ``python benchmarks/baseline_lead.py --events FILE --start 2024-01-01
--end 2024-06-29 --interval week --tz UTC --category any -o OUT``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb
from baseline import CATEGORIES, answer, arguments, bucket_sql, make_edges


def run(
    events: str, start: str, end: str, interval: str, tz: str, category: str, hb_us: int
) -> dict[str, object]:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET TimeZone = 'UTC'")
    con.read_parquet(events).create_view("src")
    cats = list(CATEGORIES) if category == "any" else [category]
    edges, wall_origin, range_start, range_end = make_edges(con, start, end, interval, tz)
    bucket_a = bucket_sql(interval, tz, "a")
    bucket_last = bucket_sql(interval, tz, "b - 1")
    sql = f"""
        WITH matching AS (
            SELECT hash(user_id) AS uid, epoch_us(time) AS ts
            FROM src
            WHERE list_contains($cats, category)
              AND epoch_us(time) < $end AND epoch_us(time) + $hb > $start
        ),
        pieces AS (
            SELECT uid, ts,
                   greatest(ts, $start) AS a,
                   least(ts + $hb, lead(ts) OVER (PARTITION BY uid ORDER BY ts), $end) AS b
            FROM matching
        ),
        spans AS (
            SELECT uid, ts, a, b, {bucket_a} AS first_bucket, {bucket_last} AS last_bucket
            FROM pieces
        ),
        -- A piece lies in its event's bucket unless it starts before the range
        -- (then it is not counted) or crosses an edge (the join splits those few).
        cells AS (
            SELECT uid, first_bucket AS bucket,
                   count(*) FILTER (ts >= $start) AS n,
                   coalesce(sum(b - a) FILTER (b > a AND first_bucket = last_bucket), 0)
                       AS duration
            FROM spans
            GROUP BY ALL
            UNION ALL
            SELECT s.uid, e.wall AS bucket, 0, sum(least(s.b, e.hi) - greatest(s.a, e.lo))
            FROM spans s JOIN edges e ON e.lo < s.b AND e.hi > s.a
            WHERE s.b > s.a AND s.first_bucket <> s.last_bucket
            GROUP BY ALL
        ),
        totals AS (
            SELECT uid, bucket, sum(n) AS n, sum(duration) AS duration FROM cells GROUP BY ALL
        ),
        names AS (
            SELECT DISTINCT hash(user_id) AS uid, user_id FROM src
            WHERE list_contains($cats, category)
        )
        SELECT e.lo, d.user_id, c.n, c.duration
        FROM totals c JOIN names d USING (uid) JOIN edges e ON e.wall = c.bucket
        WHERE c.n > 0 OR c.duration > 0
        ORDER BY e.lo, d.user_id
    """
    return answer(con, sql, cats, hb_us, interval, tz, edges, wall_origin, range_start, range_end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", required=True, help="a Parquet file without end_time")
    args = arguments(parser)
    result = run(
        args.events, args.start, args.end, args.interval, args.tz, args.category, args.heartbeat_us
    )
    Path(args.output).write_text(json.dumps(result) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
