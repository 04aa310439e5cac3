"""How fast could ``ingest --coder`` be with this store's layout? A floor, not an ingest.

On the same generated database as ``coder_bench.py`` (every user of one
category and one organization), it times, best of ``--repeat``, the driver
alone (the baseline of ``coder_bench.py``) and a bare first ingest that keeps
only the work no first ingest into this store can skip:

* the source's read and its runs of minutes (the tool's own functions);
* each run cut at slot edges and summed per user and slot, in NumPy, in two
  threads (the tool's own :func:`activity_report.store.coverage.slot_sums`);
* the daily sums, and both tables and the runs sorted as the store keeps
  them (NumPy);
* the three inserts from Arrow into a new store, in one transaction.

It skips what the real ingest does to stay general: comparing with a stored
past, the checks and counts, users of several categories or organizations,
users and organizations, the store's lock, the ingest's record. It writes as
many rows to each table as the real ingest (checked once against it: the
``same_rows_as_ingest`` of its output), not checked row by row. Its
ratio is therefore a lower bound for the ratio of ``coder_bench.py`` with
this layout: where it is above 3, no ingest into this layout reaches 3.

Run: ``python benchmarks/coder_floor.py --rows 1000000``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")  # as the command line sets it

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from coder_bench import DRIVER_SQL, fill_sql  # noqa: E402

from activity_report.coder import ingest_coder  # noqa: E402
from activity_report.sources import coder as coder_source  # noqa: E402
from activity_report.store import Store, coverage  # noqa: E402
from activity_report.store.rollups import DAY_US, SLOT_US  # noqa: E402
from tests.coder_db import Activity, generate, running_cluster  # noqa: E402

MINUTE_US = 60_000_000
#: The store's tables that :func:`bare_ingest` fills, by the name of their count.
_TABLES = {"runs": "minute_runs", "slot_rows": "rollups", "day_rows": "rollups_daily"}


def bare_ingest(url: str, store_path: Path) -> dict[str, int]:
    """A first ingest of ``url`` into a new store, without what keeps the real one general."""
    data = coder_source.read(url)
    con = duckdb.connect()
    for name, table in (
        ("coder_connections", data.connections),
        ("coder_app_stats", data.app_stats),
        ("coder_logins", data.logins),
    ):
        con.register(name, table)
    runs = coder_source.runs(con, data.now)
    user = np.asarray(runs.column("user_id").combine_chunks().indices, np.int64)
    ts = np.asarray(runs.column("first_m"), np.int64) * MINUTE_US
    te = (np.asarray(runs.column("last_m"), np.int64) + 1) * MINUTE_US
    # The runs come sorted by kind, then time: by user and time when each user has one kind.
    in_order = bool(
        np.all((user[1:] > user[:-1]) | ((user[1:] == user[:-1]) & (ts[1:] >= ts[:-1])))
    )
    by_user = np.arange(len(user)) if in_order else np.lexsort((ts, user))
    user, ts, te = user[by_user], ts[by_user], te[by_user]
    half = int(np.searchsorted(user, user[len(user) // 2]))
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = list(
            pool.map(
                lambda p: coverage.slot_sums(
                    user[p], ts[p], te[p], None, None, SLOT_US, (te[p] - ts[p]) // MINUTE_US
                ),
                (slice(0, half), slice(half, None)),
            )
        )
    offset = [0, half]
    row = np.concatenate([s.row + o for s, o in zip(parts, offset, strict=True)])
    slot = np.concatenate([s.slot for s in parts])
    n = np.concatenate([s.n for s in parts])
    duration = np.concatenate([s.duration for s in parts])
    uid = user[row].astype(np.int32) + 1
    day = slot - slot % DAY_US
    first = np.flatnonzero(np.r_[True, (uid[1:] != uid[:-1]) | (day[1:] != day[:-1])])
    day_order = np.lexsort((uid[first], day[first]))
    slot_order = np.argsort(slot, kind="stable")
    run_order = np.argsort(ts, kind="stable")
    category, org, user_id = (
        runs.column(name).combine_chunks() for name in ("category", "org", "user_id")
    )
    slots = _rollup_rows(
        "slot", slot[slot_order], uid[slot_order], n[slot_order], duration[slot_order],
        _take(category, by_user[row[slot_order]]),
        _take(org, by_user[row[slot_order]]),
    )  # fmt: skip
    days_rows = by_user[row[first[day_order]]]
    days = _rollup_rows(
        "day", day[first][day_order], uid[first][day_order],
        np.add.reduceat(n, first)[day_order], np.add.reduceat(duration, first)[day_order],
        _take(category, days_rows), _take(org, days_rows),
    )  # fmt: skip
    stored = by_user[run_order]
    run_rows = pa.table(
        {
            "ts": ts[run_order],
            "end_us": te[run_order],
            "user_id": _take(user_id, stored),
            "category": _take(category, stored),
            "org": _take(org, stored),
            "ingest_file": np.ones(len(stored), np.int32),
        }
    )
    with Store.open(store_path) as store, store.writing(), store.atomic():
        store.con.from_arrow(run_rows).insert_into("minute_runs")
        store.con.from_arrow(slots).insert_into("rollups")
        store.con.from_arrow(days).insert_into("rollups_daily")
    return {"runs": run_rows.num_rows, "slot_rows": slots.num_rows, "day_rows": days.num_rows}


def _take(column: pa.DictionaryArray, rows: np.ndarray) -> pa.DictionaryArray:
    """The dictionary column's values at ``rows``: its codes taken, its dictionary kept."""
    codes = np.asarray(column.indices)[rows]
    return pa.DictionaryArray.from_arrays(pa.array(codes), column.dictionary)


def _rollup_rows(
    time_column: str,
    at: np.ndarray,
    uid: np.ndarray,
    n: np.ndarray,
    duration: np.ndarray,
    category: pa.DictionaryArray,
    org: pa.DictionaryArray,
) -> pa.Table:
    return pa.table(
        {
            time_column: at,
            "category": category,
            "org": org,
            "uid": uid,
            "count": n,
            "duration": duration,
            "single": np.ones(len(at), bool),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with running_cluster() as db:
        db.execute(Activity(orgs=generate().orgs).sql())
        db.execute(fill_sql(args.rows, 2_000, 365, 10))
        db.execute("ANALYZE")
        driver, bare = [], []
        counts: dict[str, int] = {}
        for _ in range(args.repeat):
            began = time.perf_counter()
            with db.connect() as con, con.cursor() as cur:
                cur.execute(DRIVER_SQL)
                cur.fetch_arrow_table()
            driver.append(time.perf_counter() - began)
            with tempfile.TemporaryDirectory() as folder:
                began = time.perf_counter()
                counts = bare_ingest(db.url, Path(folder) / "store.duckdb")
                bare.append(time.perf_counter() - began)
        with tempfile.TemporaryDirectory() as folder:  # the rows the real ingest writes
            ingest_coder(Path(folder) / "store.duckdb", db.url)
            with duckdb.connect(str(Path(folder) / "store.duckdb"), read_only=True) as con:
                real = {
                    name: int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
                    for name, table in _TABLES.items()
                }
    print(
        json.dumps(
            {
                "rows": args.rows,
                **counts,
                "driver_s": round(min(driver), 3),
                "bare_ingest_s": round(min(bare), 3),
                "floor_ratio": round(min(bare) / min(driver), 2),
                "same_rows_as_ingest": real == counts,
            }
        )
    )


if __name__ == "__main__":
    main()
