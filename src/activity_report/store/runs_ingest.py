"""Ingest of runs of minutes (``ingest --coder``): merged into the stored runs, never twice.

The runs read (one query: ``ts``, ``end_us``, ``user_id``, ``category``,
``org``; whole UTC minutes; runs of one user, category and organization
neither overlapping nor touching) stand for their minutes, each one event
(see :mod:`.minute_runs`). A minute counts once in the store however often
it is read, as a minute read twice was one event when the store held
minutes:

* a minute the events table already holds, one minute long and without an
  id or with a Coder id (an earlier release stored Coder's minutes so), is
  not new: the runs read lose it;
* the runs left merge with the stored runs of the same user, category and
  organization that they overlap or touch: those are replaced by the union,
  so a session read while it was still open and again once closed counts
  with its real end, and its minutes stored the first time count once.

As the file ingest (:mod:`.ingest`), the run compares with the store and
prepares the rollup slots it changes with the store attached read-only,
then holds it for writing only to replace the runs, apply the rollups and
record the ``ingests`` row, in one transaction (staging again first if
another ingest committed meanwhile). Nothing lists the minutes: the rollups
cut runs at slot edges (:mod:`.rollups`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .. import sources
from ..errors import DataError, Kind
from . import minute_runs, rollups
from .ingest import Progress, _Phases
from .results import FileCounts, IngestResult
from .schema import is_interrupt, scope

if TYPE_CHECKING:
    from .core import Store

M = minute_runs.MINUTE_US
#: Ids an earlier release gave the Coder minutes it stored as events.
CODER_ID_PREFIX = "coder:"
#: The temporary tables of a run, dropped when it ends.
_TABLES = ("runs_read", "runs_taken", "runs_fresh", "runs_replaced", "runs_merged")
#: The same (user, category, organization), in two tables ``a`` and ``b``.
_SAME_KIND = """{a}.user_id = {b}.user_id AND {a}.category = {b}.category
                AND {a}.org IS NOT DISTINCT FROM {b}.org"""


def _same(a: str, b: str) -> str:
    return _SAME_KIND.format(a=a, b=b)


class RunsIngest:
    """One ingest of runs of minutes into ``store`` (open for writing)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.con = store.con
        #: Whether the stored runs that the new ones touch are replaced (else: only added).
        self.replacing = False
        #: The tables of the fresh runs and of the runs to store (see :meth:`_stage`): a
        #: table the run would copy unchanged is named instead.
        self.fresh = "runs_fresh"
        self.merged = "runs_merged"

    def run(
        self,
        sql: str,
        params: dict[str, object] | None,
        label: str,
        progress: Progress | None,
        also: Callable[[], object] | None = None,
    ) -> IngestResult:
        """Read the runs of ``sql`` and merge them in; ``label`` names them in ``ingests``.

        ``also``: more writes of the same source, made in the same transaction.
        """
        limited = self.store.memory_limit is None
        if limited:
            self.con.execute("SET memory_limit = $limit", {"limit": rollups.MEMORY_LIMIT})
        try:
            return self._run(sql, params, label, progress, also)
        except BaseException as exc:
            if is_interrupt(exc):
                raise KeyboardInterrupt from None
            raise
        finally:
            for table in (*_TABLES, *rollups.PREPARED):
                self.con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")
            if limited:
                self.con.execute("RESET memory_limit")

    def _run(
        self,
        sql: str,
        params: dict[str, object] | None,
        label: str,
        progress: Progress | None,
        also: Callable[[], object] | None,
    ) -> IngestResult:
        con = self.con
        phases = _Phases(progress)
        phases.start("reading the runs of minutes", 0)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE runs_read AS
                SELECT CAST(ts AS BIGINT) AS ts, CAST(end_us AS BIGINT) AS end_us,
                       CAST(user_id AS VARCHAR) AS user_id, CAST(category AS VARCHAR) AS category,
                       CAST(org AS VARCHAR) AS org
                FROM ({sql})""",
            params,
        )
        self._check_read()
        rows = self._minutes("runs_read")
        unknown = [
            (str(c), n)
            for c, n in self.con.execute(
                f"""SELECT category, sum({_weight()}) FROM runs_read
                    WHERE NOT list_contains($known, category)
                    GROUP BY category ORDER BY sum({_weight()}) DESC, category""",
                {"known": list(sources.CATEGORIES)},
            ).fetchall()
        ]
        diagnostics = sources.Diagnostics.of(
            rows, unknown=unknown[:5], unknown_rows=sum(n for _, n in unknown)
        )
        phases.start("comparing with the store", 300)
        with self.store.peeking():  # readers go on: the store is only read
            offset = self._last_file()
            self._stage()
        phases.start("waiting for the store", 880)
        with self.store.writing(), self.store.atomic(done="the ingest is committed"):
            phases.start("adding new runs", 900)
            if self._last_file() != offset:  # another ingest committed meanwhile
                offset = self._last_file()
                self._stage()
            number = offset + 1
            if self.replacing:
                con.execute(
                    f"""DELETE FROM {minute_runs.TABLE} s USING runs_replaced x
                        WHERE {_same("s", "x")} AND s.ts = x.ts"""
                )
            con.execute(
                f"""INSERT INTO {minute_runs.TABLE}
                    SELECT ts, end_us, user_id, category, org, $number FROM {self.merged}
                    ORDER BY ts""",
                {"number": number},
            )
            rollups.apply(con)
            new = self._minutes(self.merged) - self._minutes("runs_replaced")
            new_unknown = self._new_unknown()
            if also is not None:
                also()
            con.execute(
                "INSERT INTO ingests VALUES ($number, $file, $rows, $new, $dup, 0, $now)",
                {
                    "number": number,
                    "file": label,
                    "rows": rows,
                    "new": new,
                    "dup": rows - new,
                    "now": datetime.now(UTC),
                },
            )
        phases.done()
        counts = FileCounts(label, rows, new, rows - new, 0)
        return IngestResult(self.store.path, (counts,), diagnostics, 0, new_unknown)

    def _check_read(self) -> None:
        """The runs read must be whole minutes, with a user and a category (a bug if not)."""
        bad = self.con.execute(
            f"""SELECT count(*) FROM runs_read
                WHERE ts IS NULL OR end_us IS NULL OR end_us <= ts OR ts % {M} <> 0
                   OR end_us % {M} <> 0 OR user_id IS NULL OR category IS NULL"""
        ).fetchall()[0][0]
        if bad:
            raise DataError(
                f"{bad} runs of minutes read are not whole minutes with a user and a category; "
                "nothing was ingested (a bug in activity-report: please report it)",
                kind=Kind.internal,
            )

    def _minutes(self, table: str) -> int:
        return int(
            self.con.execute(f"SELECT coalesce(sum({_weight()}), 0) FROM {table}").fetchall()[0][0]
        )

    def _last_file(self) -> int:
        """The number of the store's last ingested file (0 for none)."""
        return int(self.con.execute("SELECT coalesce(max(id), 0) FROM ingests").fetchall()[0][0])

    def _stage(self) -> None:
        """The fresh runs, ``runs_replaced`` and the runs to store, and the rollups they change.

        Reads the store (attached read-only, or for writing) and writes temporary
        tables only.
        """
        con = self.con
        first, last = con.execute("SELECT min(ts), max(end_us) FROM runs_read").fetchall()[0]
        self._take_stored_minutes((first, last))
        fresh = con.execute(f"SELECT min(ts), max(end_us) FROM {self.fresh}").fetchall()[0]
        if fresh[0] is None:
            con.execute(f"CREATE OR REPLACE TEMP TABLE runs_replaced AS FROM {self.fresh}")
        else:
            lo, hi = int(fresh[0]), int(fresh[1])
            # Constant bounds: the scan skips the row groups of other times.
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE runs_replaced AS
                    SELECT s.ts, s.end_us, s.user_id, s.category, s.org
                    FROM {minute_runs.TABLE} s
                    WHERE s.ts <= {hi} AND s.end_us >= {lo} AND EXISTS (
                        SELECT 1 FROM {self.fresh} f
                        WHERE {_same("f", "s")} AND s.ts <= f.end_us AND f.ts <= s.end_us)"""
            )
        self.replacing = bool(
            con.execute("SELECT EXISTS (SELECT 1 FROM runs_replaced)").fetchall()[0][0]
        )
        if self.replacing:
            # Equal rows are one first, so that the order of the windows is total.
            self.merged = "runs_merged"
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE runs_merged AS
                   WITH both_runs AS (
                       SELECT * FROM {self.fresh} UNION SELECT * FROM runs_replaced),
                   reaches AS (
                       SELECT *, max(end_us) OVER (
                           PARTITION BY user_id, category, org ORDER BY ts, end_us
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
                       FROM both_runs),
                   numbered AS (
                       SELECT *, sum(CASE WHEN reach IS NULL OR ts > reach THEN 1 ELSE 0 END)
                           OVER (PARTITION BY user_id, category, org ORDER BY ts, end_us
                                 ROWS UNBOUNDED PRECEDING) AS run
                       FROM reaches)
                   SELECT min(ts) AS ts, max(end_us) AS end_us, user_id, category, org
                   FROM numbered GROUP BY user_id, category, org, run"""
            )
            others = f"""SELECT user_id, category, org, ts, end_us FROM {minute_runs.TABLE} s
                         WHERE NOT EXISTS (SELECT 1 FROM runs_replaced x
                                           WHERE {_same("x", "s")} AND x.ts = s.ts)"""
        else:  # the fresh runs are maximal already
            self.merged = self.fresh
            others = f"SELECT user_id, category, org, ts, end_us FROM {minute_runs.TABLE}"
        rollups.prepare(
            con,
            scope(f"SELECT user_id, ts, end_us FROM {self.fresh}"),
            None,  # the run's memory limit (see run)
            runs=f"""({others}
                      UNION ALL SELECT user_id, category, org, ts, end_us FROM {self.merged})""",
        )

    def _take_stored_minutes(self, span: tuple[int | None, int | None]) -> None:
        """The fresh runs (:attr:`fresh`): the runs read without the minutes the events table
        holds already (``runs_read`` itself, when it holds none of them).

        Those are one minute long, without an id or with a Coder id, and of the
        same user, category and organization: the minutes an earlier release
        stored, or a file's equal events (a minute read twice is one event).
        """
        con = self.con
        taken = 0
        if span[0] is not None:
            lo, hi = int(span[0]), int(span[1] or span[0])
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE runs_taken AS
                    SELECT DISTINCT e.ts, e.user_id, e.category, e.org FROM events e
                    WHERE e.ts >= {lo} AND e.ts < {hi} AND e.end_us = e.ts + {M}
                      AND (e.event_id IS NULL OR starts_with(e.event_id, $prefix))
                      AND EXISTS (SELECT 1 FROM runs_read r
                                  WHERE {_same("r", "e")} AND e.ts >= r.ts AND e.ts < r.end_us)""",
                {"prefix": CODER_ID_PREFIX},
            )
            taken = int(con.execute("SELECT count(*) FROM runs_taken").fetchall()[0][0])
        if not taken:
            self.fresh = "runs_read"
            return
        self.fresh = "runs_fresh"
        # The runs that hold a taken minute, listed as minutes without those, and
        # made runs again (gaps and islands); the other runs as they were.
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE runs_fresh AS
                WITH hit AS (
                    SELECT DISTINCT r.* FROM runs_read r JOIN runs_taken e
                    ON {_same("r", "e")} AND e.ts >= r.ts AND e.ts < r.end_us),
                kept AS (
                    SELECT h.user_id, h.category, h.org, h.m
                    FROM (SELECT *, unnest(range(ts, end_us, {M})) AS m FROM hit) h
                    WHERE NOT EXISTS (SELECT 1 FROM runs_taken e
                                      WHERE {_same("e", "h")} AND e.ts = h.m)),
                islands AS (
                    SELECT *, m - {M} * row_number() OVER (
                        PARTITION BY user_id, category, org ORDER BY m) AS island
                    FROM kept)
                SELECT r.* FROM runs_read r
                WHERE NOT EXISTS (SELECT 1 FROM hit h WHERE {_same("h", "r")} AND h.ts = r.ts)
                UNION ALL
                SELECT min(m), max(m) + {M}, user_id, category, org
                FROM islands GROUP BY user_id, category, org, island"""
        )

    def _new_unknown(self) -> list[tuple[str, int]]:
        """The categories of the minutes this run added that no report counts."""
        rows = self.con.execute(
            f"""SELECT category, sum(n) FROM (
                    SELECT category, sum({_weight()}) AS n FROM {self.merged} GROUP BY category
                    UNION ALL
                    SELECT category, -sum({_weight()}) FROM runs_replaced GROUP BY category)
                WHERE NOT list_contains($known, category)
                GROUP BY category HAVING sum(n) > 0 ORDER BY sum(n) DESC, category""",
            {"known": list(sources.CATEGORIES)},
        ).fetchall()
        return [(str(c), int(n)) for c, n in rows]


def _weight() -> str:
    """SQL: a run's minutes."""
    return f"(end_us - ts) // {M}"
