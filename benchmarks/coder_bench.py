"""``ingest --coder`` against reading the same ``connection_logs`` rows with the driver alone.

Starts a throwaway PostgreSQL (as the tests do: tests/coder_db.py, so the
postgres binaries and root or the postgres user are needed), fills
``connection_logs`` with ``--rows`` sessions of ``--users`` users over
``--days`` days (lengths drawn around ``--minutes``), then times, best of
``--repeat``:

* ``driver``: the ADBC PostgreSQL driver fetching ``connection_logs`` as the
  source does (the same SQL: the columns it selects, uuids as their bytes),
  as one Arrow table, and nothing else: the baseline of the ratio;
* ``driver_text``: the same with the uuids as text, as the source read them
  before (for comparison with earlier figures only: a slower read);
* ``ingest``: ``ingest --coder`` (through :func:`activity_report.coder.ingest_coder`)
  into a new store: the read, the runs of active minutes, the store's ingest.

It prints one JSON line with the times, the ratio of the ingest to the
driver's read (and to the text read), the minutes ingested, the ingest's
CPU time (this process's, all its threads; the driver's work is mostly
PostgreSQL's) and the size of the store it made. The goal on 1M rows is a
ratio of at most 3 (see RESULTS-CODER.md). 1M sessions of 10 minutes are
about 11 million active minutes, about a million runs: smoke-test with
``--rows 10000``. The script runs any checkout's ``activity_report``
(``PYTHONPATH=OTHER/src``), to compare two builds.

Run: ``python benchmarks/coder_bench.py --rows 1000000``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.coder_db import Activity, generate, running_cluster  # noqa: E402

#: What the source selects from connection_logs on a first ingest (no time range: see
#: activity_report.sources.coder), spelled out so that every build is measured against it.
DRIVER_SQL = """
SELECT cl.workspace_owner_id AS user_id,
       cl.organization_id AS org,
       cl.type::text AS kind,
       cl.connect_time AS started,
       cl.disconnect_time AS ended
FROM connection_logs cl
JOIN users u ON u.id = cl.workspace_owner_id
WHERE NOT u.is_system AND NOT u.is_service_account
"""

#: How the source read connection_logs before it took uuids as bytes (ids as text).
DRIVER_TEXT_SQL = """
SELECT cl.workspace_owner_id::text, cl.organization_id::text, cl.type::text,
       cl.connect_time, cl.disconnect_time
FROM connection_logs cl JOIN users u ON u.id = cl.workspace_owner_id
WHERE NOT u.is_system AND NOT u.is_service_account
"""


def fill_sql(rows: int, users: int, days: int, minutes: int) -> str:
    """Sessions generated inside PostgreSQL: no rows cross Python."""
    return f"""
INSERT INTO users (id, email, username, hashed_password, created_at, updated_at)
SELECT md5('bench-user-' || u)::uuid, 'u' || u || '@example.com', 'bench' || u, '\\x00',
       now(), now()
FROM generate_series(1, {users}) u;
INSERT INTO connection_logs (id, connect_time, organization_id, workspace_owner_id,
    workspace_id, workspace_name, agent_name, type, connection_id, disconnect_time)
SELECT md5('bench-conn-' || i)::uuid, t, md5('bench-org')::uuid,
       md5('bench-user-' || (1 + i % {users}))::uuid, md5('bench-ws-' || i % {users})::uuid,
       'ws', 'main', (ARRAY['ssh', 'vscode', 'jetbrains'])[1 + i % 3]::connection_type,
       md5('bench-cid-' || i)::uuid,
       t + make_interval(secs => (random() * {2 * minutes * 60})::int)
FROM (SELECT i, timestamptz '2024-01-01'
                   + make_interval(secs => (random() * {days * 86400})::int) AS t
      FROM generate_series(1, {rows}) i) s
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--minutes", type=int, default=10, help="mean session length")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from activity_report.coder import ingest_coder

    with running_cluster() as db:
        base = generate()
        db.execute(Activity(orgs=base.orgs).sql())
        db.execute(fill_sql(args.rows, args.users, args.days, args.minutes))
        db.execute("ANALYZE")

        reads: dict[str, list[float]] = {"driver": [], "driver_text": []}
        for _ in range(args.repeat):
            for name, sql in (("driver", DRIVER_SQL), ("driver_text", DRIVER_TEXT_SQL)):
                began = time.perf_counter()
                with db.connect() as con, con.cursor() as cur:
                    cur.execute(sql)
                    table = cur.fetch_arrow_table()
                reads[name].append(time.perf_counter() - began)
                assert table.num_rows == args.rows, table.num_rows

        ingest, cpu = [], []
        minutes = size = 0
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as folder:
                store = Path(folder) / "store.duckdb"
                began, used = time.perf_counter(), time.process_time()
                result, _users, _orgs = ingest_coder(store, db.url)
                ingest.append(time.perf_counter() - began)
                cpu.append(time.process_time() - used)
                minutes = result.new
                size = sum(p.stat().st_size for p in Path(folder).glob("store.duckdb*"))
    print(
        json.dumps(
            {
                "rows": args.rows,
                "events": minutes,
                "driver_s": round(min(reads["driver"]), 3),
                "driver_text_s": round(min(reads["driver_text"]), 3),
                "ingest_s": round(min(ingest), 3),
                "ratio": round(min(ingest) / min(reads["driver"]), 2),
                "ratio_to_text": round(min(ingest) / min(reads["driver_text"]), 2),
                "ingest_cpu_s": round(min(cpu), 2),
                "store_mb": round(size / 2**20, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
