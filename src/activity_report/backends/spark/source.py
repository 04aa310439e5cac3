"""The Spark engine behind the report's event-source seam (:mod:`..protocol`).

:class:`SparkSource` answers what :func:`...reporting.run` asks, by Spark jobs
over the canonical rows of :class:`.reading.SparkEvents`: the same checks, the
same rule for repeated rows and the same counts as the DuckDB engine. Only
small results (counts, the cells) come back to the driver. The user directory,
a small file, is read with DuckDB on the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ... import directory as directory_mod
from ... import sources
from ...model import UserInfo
from ...sources import DEFAULT_READING, Diagnostics, Reading
from ..protocol import Counted, Filters

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from ...resources import RunContext
    from .reading import SparkEvents

_CONTENT = ("ts", "end_us", "user_id", "category", "org", "event_id", "problem")

#: The cells a report asks for: bucket edges, filters, heartbeat.
_Request = tuple[tuple[int, ...], Filters, int]

#: The name of the diagnostics' totals observed during the counting job.
_OBSERVED = "activity_report_diagnostics"


class SparkSource:
    """Event files read and counted by Spark; ``users_file`` names the users."""

    def __init__(
        self, events: SparkEvents, users_file: str | None = None, orgs_file: str | None = None
    ) -> None:
        self.events = events
        self.users_file = users_file
        self.orgs_file = orgs_file
        self._checked: Diagnostics | None = None
        self._counted: DataFrame | None = None
        self._expected: _Request | None = None
        self._early: tuple[_Request, Counted] | None = None

    def expect_cells(self, edges_us: Sequence[int], filters: Filters, heartbeat_us: int) -> None:
        """The cells the report will ask for: the diagnostics are then counted in the
        same job as they (one scan of the files), when the rows need no rule for repeats."""
        self._expected = (tuple(edges_us), filters, heartbeat_us)

    def diagnostics(self) -> Diagnostics:
        if self._checked is None:
            if self._expected is not None and self._plain():
                self._checked = self.events.guard(self._check_and_count)
            else:
                self._checked = self.events.diagnose()
        return self._checked

    def _check_and_count(self) -> Diagnostics:
        """The expected cells, with the diagnostics' totals observed on the rows they are
        counted from (``DataFrame.observe``): one job reads the files once.

        The totals come back with the job's result (its ``executionInfo``); where they
        do not (an older pyspark, a file without rows), the diagnostics are a job of
        their own.
        """
        from pyspark.sql import functions as F

        from . import counting, diagnostics

        assert self._expected is not None
        edges, filters, heartbeat_us = self._expected
        frame = self.events.frame.observe(_OBSERVED, *diagnostics.totals())
        rows = frame.where(F.col("problem").isNull()).select(*_CONTENT)
        merged = counting.cell_frame(rows, edges, filters, heartbeat_us, self._coverage())
        self._early = (self._expected, Counted(counting.collect(merged), "events"))
        info = getattr(merged, "executionInfo", None)
        counts = dict(getattr(info, "flows", None) or ()).get(_OBSERVED)
        if not counts or "total" not in counts:  # also when Spark saw no rows to observe
            return diagnostics.diagnose(self.events)
        return diagnostics.finish(self.events, counts)

    def span(
        self,
        filters: Filters,
        heartbeat_us: int,
        start_us: int | None = None,
        end_us: int | None = None,
    ) -> tuple[int, int] | None:
        from . import counting

        rows = self.counted()
        return self.events.guard(
            lambda: counting.data_span(rows, filters, heartbeat_us, start_us, end_us)
        )

    def cells(self, edges_us: Sequence[int], filters: Filters, heartbeat_us: int) -> Counted:
        if self._early is not None and self._early[0] == (tuple(edges_us), filters, heartbeat_us):
            return self._early[1]
        rows = self.counted()
        return self.events.guard(lambda: self._compute(rows, edges_us, filters, heartbeat_us))

    def _compute(
        self, rows: DataFrame, edges_us: Sequence[int], filters: Filters, heartbeat_us: int
    ) -> Counted:
        from . import counting

        cells = counting.compute(
            self.events.spark, rows, edges_us, filters, heartbeat_us, self._coverage()
        )
        return Counted(cells, "events")

    def _coverage(self) -> bool:
        """Whether some file has end times or durations."""
        return any(part.has_coverage for part in self.events.parts)

    def directory(self) -> dict[str, UserInfo]:
        if not self.users_file:
            return {}
        from ..duckdb import connect

        con = connect()
        try:
            return directory_mod.index(directory_mod.read_directory_file(con, self.users_file))
        finally:
            con.close()

    def refuse_files_without_valid_rows(self, diagnostics: Diagnostics) -> None:
        """As :func:`...sources.refuse_files_without_valid_rows`, by a Spark job."""
        from pyspark.sql import functions as F

        frame = self.events.frame
        per_file = (
            frame.groupBy("_file")
            .agg(F.count_if(F.col("problem").isNull()).alias("valid"))
            .where(F.col("valid") == 0)
            .select("_file")
            .collect()
        )
        bad = sorted(self.events.display(str(r["_file"])) for r in per_file)
        first_bad = None
        if bad:
            spark_file = next(
                str(r["_file"]) for r in per_file if self.events.display(str(r["_file"])) == bad[0]
            )
            grouped = frame.where(F.col("_file") == spark_file).groupBy("problem").count().collect()
            problems = sorted(
                ((str(r["problem"]), int(r["count"])) for r in grouped),
                key=lambda item: (-item[1], item[0]),
            )
            first_bad = (bad[0], problems)
        sources.refuse_no_valid_rows(first_bad, diagnostics)

    def unknown_in_range(self, diagnostics: Diagnostics, start_us: int, end_us: int) -> Diagnostics:
        import dataclasses

        from pyspark.sql import functions as F

        col = F.col
        top = (
            self.events.frame.where(
                col("problem").isNull()
                & ~col("category").isin(list(sources.CATEGORIES))
                & (col("ts") >= start_us)
                & (col("ts") < end_us)
            )
            .groupBy("category")
            .count()
            .collect()
        )
        values = sorted(
            ((str(r["category"]), int(r["count"])) for r in top),
            key=lambda item: (-item[1], item[0]),
        )
        return dataclasses.replace(
            diagnostics, unknown_rows=sum(n for _, n in values), unknown_values=values[:5]
        )

    def values_like(self, column: str, values: Sequence[str]) -> set[str]:
        from pyspark.sql import functions as F

        if column not in ("org", "user_id"):
            raise ValueError(f"not a filter column: {column}")
        wanted = sorted({v.lower() for v in values})
        rows = (
            self.counted()
            .where(F.col("problem").isNull() & F.lower(F.col(column)).isin(wanted))
            .select(column)
            .distinct()
            .collect()
        )
        return {str(r[column]) for r in rows}

    def org_names(self) -> dict[str, str]:
        """The organization directory file's names (a small file, read with DuckDB here)."""
        if not self.orgs_file:
            return {}
        from ...orgs import read_orgs_file
        from ..duckdb import connect

        con = connect()
        try:
            return read_orgs_file(con, self.orgs_file)
        finally:
            con.close()

    def user_ids(self) -> set[str]:
        """Every user id of the valid events: what a ``--user`` pseudonym may stand for."""
        from pyspark.sql import functions as F

        rows = (
            self.counted()
            .where(F.col("problem").isNull() & F.col("user_id").isNotNull())
            .select("user_id")
            .distinct()
            .collect()
        )
        return {str(r["user_id"]) for r in rows}

    def counted(self) -> DataFrame:
        """The rows a report counts, by the rule the store keeps for repeated rows.

        Rows sharing an id are one event (the first file's first such row);
        id-less rows with equal content are copies, each content counted as
        many times as the file that holds it most often. Invalid rows pass.
        """
        if self._counted is None:
            self._counted = self.events.guard(self._count_repeats)
        return self._counted

    def _several(self) -> bool:
        """Whether the rows may come from several files (a read of unknown files may)."""
        known = [part.files for part in self.events.parts]
        return None in known or sum(n or 0 for n in known) > 1

    def _plain(self) -> bool:
        """Whether the valid rows are counted as they are: no ids, one file."""
        return not self._several() and not any(part.has_ids for part in self.events.parts)

    def _count_repeats(self) -> DataFrame:
        """The valid rows, repeated ones counted by the rule (invalid ones no report counts).

        What the plan knows decides without a Spark job: rows can share an id only
        if some file has an id column, and copies in several files only if
        there are several files.
        """
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        events = self.events
        has_ids = any(part.has_ids for part in events.parts)
        several = self._several()
        valid = events.frame.where(F.col("problem").isNull())
        if not several and not has_ids:
            return valid.select(*_CONTENT)
        parts = []
        plain = valid
        if has_ids:
            from .diagnostics import located

            frame = located(events, list(_CONTENT)).where(F.col("problem").isNull())
            files = [str(r["_file"]) for r in frame.select("_file").distinct().collect()]
            order = {d: i for i, d in enumerate(events.displays())}
            index = {f: order.get(events.display(f), len(order)) for f in files}
            pairs = [x for f, i in index.items() for x in (F.lit(f), F.lit(i))]
            rank = F.create_map(*pairs)[F.col("_file")] if pairs else F.lit(0)
            first = Window.partitionBy("event_id").orderBy(rank, F.col("row"))
            parts.append(
                frame.where(F.col("event_id").isNotNull())
                .withColumn("_first", F.row_number().over(first))
                .where(F.col("_first") == 1)
                .select(*_CONTENT)
            )
            plain = frame
            several = len(files) > 1
        plain = plain.where(F.col("event_id").isNull())
        if several:
            content = list(_CONTENT)
            copies = (
                plain.groupBy(*content, "_file")
                .count()
                .groupBy(*content)
                .agg(F.max("count").alias("copies"))
            )
            plain = copies.withColumn("_copy", F.explode(F.sequence(F.lit(1), F.col("copies"))))
        parts.append(plain.select(*_CONTENT))
        counted = parts[0]
        for part in parts[1:]:
            counted = counted.unionByName(part)
        return counted


def open_source(
    events: Sequence[str],
    *,
    users_file: str | None = None,
    remote: str | None = None,
    start_us: int | None = None,
    end_us: int | None = None,
    heartbeat_us: int,
    context: RunContext | None = None,
    reading: Reading | None = None,
    orgs_file: str | None = None,
) -> SparkSource:
    """The events of files, folders or URLs, read by Spark (a local one without ``remote``).

    ``reading``: named columns, epoch time formats and a category map, as the
    DuckDB engine reads them (see :mod:`activity_report.sources.mapping`).

    ``start_us``/``end_us`` prune Hive-partitioned folders (``date=...``) to the
    report's range. ``context`` removes the copy of a stream (``-``, a FIFO)
    when it closes; a stream needs one.
    """
    from .reading import PruneWindow, open_events, plan
    from .session import connect

    reading = reading or DEFAULT_READING
    reads = plan(events, local=remote is None, context=context, reading=reading)
    session = connect(remote)
    read = open_events(
        session,
        events,
        local=remote is None,
        window=PruneWindow(start_us, end_us, heartbeat_us),
        context=context,
        reading=reading,
        reads=reads,
    )
    return SparkSource(read, users_file, orgs_file)
