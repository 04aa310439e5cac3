"""What the input held that no report counts, as ``sources.diagnose`` tells it.

One aggregate pass counts rows, invalid rows, unknown categories and text
that is not UTF-8 (:func:`totals`): a job of its own (:func:`diagnose`), or
observed during the report's counting job (``SparkSource.expect_cells``), so
that the file is read once. The reasons, the first invalid rows with their
row numbers and the commonest unknown categories are read only when there
are any (:func:`finish`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ... import sources
from ...sources import Diagnostics

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

    from .reading import SparkEvents


def totals() -> list[Column]:
    """The aggregate of every canonical row the diagnostics start from (named columns)."""
    from pyspark.sql import functions as F

    problem = F.col("problem")
    return [
        F.count(F.lit(1)).alias("total"),
        F.count_if(problem.isNotNull()).alias("invalid"),
        F.count_if(_unknown_row()).alias("unknown"),
        F.count_if(F.col("_bad_text")).alias("bad_text"),
    ]


def _unknown_row() -> Column:
    from pyspark.sql import functions as F

    return F.col("problem").isNull() & ~F.col("category").isin(list(sources.CATEGORIES))


def diagnose(events: SparkEvents) -> Diagnostics:
    """The diagnostics by a job of their own."""
    return finish(events, events.frame.agg(*totals()).collect()[0].asDict())


def finish(events: SparkEvents, counts: Mapping[str, Any]) -> Diagnostics:
    """The diagnostics from the :func:`totals` of ``events``: follow-up jobs only for
    what the input holds (text that is not UTF-8 is an error)."""
    from pyspark.sql import functions as F

    frame = events.frame
    problem = F.col("problem")
    unknown_row = _unknown_row()
    total, invalid, unknown = int(counts["total"]), int(counts["invalid"]), int(counts["unknown"])
    if int(counts["bad_text"]):
        first = located(events).where(F.col("_bad_text")).orderBy("_file", "row").first()
        assert first is not None
        raise sources.not_utf8_error(events.display(str(first["_file"])), int(first["row"]) + 1)
    reasons: list[tuple[str, int]] = []
    examples: list[tuple[str, int | None, str]] = []
    if invalid:
        grouped = frame.where(problem.isNotNull()).groupBy("problem").count().collect()
        reasons = sorted(
            ((str(r["problem"]), int(r["count"])) for r in grouped),
            key=lambda item: (-item[1], item[0]),
        )
        first_rows = (
            located(events).where(problem.isNotNull()).orderBy("_file", "row").limit(3).collect()
        )
        examples = sorted(
            (
                (events.display(str(r["_file"])), int(r["row"]), str(r["problem"]))
                for r in first_rows
            ),
            key=lambda e: (e[0], e[1] or 0),
        )
    unknown_values: list[tuple[str, int]] = []
    if unknown:
        top = (
            frame.where(unknown_row)
            .groupBy("category")
            .count()
            .orderBy(F.col("count").desc(), "category")
            .limit(5)
            .collect()
        )
        unknown_values = [(str(r["category"]), int(r["count"])) for r in top]
    return Diagnostics.of(
        total, reasons=reasons, examples=examples, unknown=unknown_values, unknown_rows=unknown
    )


def located(events: SparkEvents, columns: Sequence[str] = ("problem", "_bad_text")) -> DataFrame:
    """Every row with its 1-based number among its file's data rows.

    Parquet gives the row index. For CSV, rows keep their order within a read
    split (``monotonically_increasing_id``) and splits are ordered by where
    they start in the file; a multi-line CSV file is one split. A JSON Lines
    row's line is its id's place among its split's lines
    (:func:`.json_files.numbered`); an array's element has its number.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from .json_files import numbered

    frames: list[DataFrame] = []
    for part in events.parts:
        frame = part.frame
        if part.lines is not None:
            frame = numbered(frame, part.lines)
        elif part.fmt == "csv":
            order = Window.partitionBy("_file").orderBy("_block", "_seq")
            frame = frame.withColumn("_seq", F.monotonically_increasing_id()).withColumn(
                "row", F.row_number().over(order)
            )
        else:
            frame = frame.withColumn("row", F.col("_order"))
        frames.append(frame.select("_file", "row", *dict.fromkeys(columns)))
    located = frames[0]
    for frame in frames[1:]:
        located = located.unionByName(frame)
    return located
