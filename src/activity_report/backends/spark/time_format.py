"""A ``--time-format`` that reads none of a file's times is refused, as the DuckDB engine
refuses it (``sources.mapping.check_time_format``): the same rule, message and exit code.

The files are taken in the DuckDB engine's scans (Parquet files that map
alike, CSV files with one header line, each other file alone) and in their
order; the first thousand rows with a time usually settle a scan in one job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ...errors import DataError, InvalidValue
from ...sources import Reading
from .canonical import RAW_TIME
from .session import first_line

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Row

    from .reading import _Part

#: Problems of rows with no time to read, which :func:`check_time_format` passes over.
_NO_TIME = ("missing time", "malformed JSON", "not a JSON object")
#: The rows of a scan that usually settle :func:`check_time_format`.
_SAMPLE = 1000


def check_time_formats(parts: Sequence[_Part], reading: Reading) -> None:
    """Refuse a time format that reads none of the times of a scan's files
    (:func:`check_time_format`), the parts grouped and ordered as the DuckDB
    engine's scans are: JSON and far-time Parquet files, then Parquet, then CSV."""
    from pyspark.errors import PySparkException

    scans: dict[tuple[int, object], list[_Part]] = {}
    for n, part in enumerate(sorted(parts, key=lambda p: 0 if p.scan is None else p.scan[0])):
        scans.setdefault(part.scan or (0, n), []).append(part)
    for members in scans.values():
        frames = [m.carried for m in members if m.carried is not None]
        if not frames:
            continue
        frame = frames[0]
        for other in frames[1:]:
            frame = frame.unionByName(other)
        order = [path for m in members for path in m.displays]
        display = next(iter(members[0].displays.values()))  # the first file, as DuckDB's

        def rank(spark_path: str, order: list[str] = order) -> int:
            plain = plain_path(spark_path)
            return order.index(plain) if plain in order else len(order)

        try:
            check_time_format(frame, display, reading, rank)
        except PySparkException as exc:
            raise DataError(f"cannot read the events: {first_line(exc)}") from None


def plain_path(spark_path: str) -> str:
    """The local path of a file Spark names by its URL (``file:///tmp/a.csv``)."""
    from urllib.parse import unquote

    plain = unquote(spark_path)
    if plain.startswith("file://"):
        return plain[len("file://") :]
    if plain.startswith("file:"):
        return plain[len("file:") :]
    return plain


def check_time_format(
    frame: DataFrame, display: str, reading: Reading, rank: Callable[[str], int]
) -> None:
    """The twin of ``sources.mapping.check_time_format``: refuse a time format that reads
    none of the times of one scan's files.

    ``frame`` is their canonical frame with ``_raw_time`` (``carry``); ``rank``
    gives the place of a file (as Spark names it) among the files given, which
    picks the example as DuckDB does: the first time of the first file. One
    job takes the first thousand rows with a time, which usually settles it;
    only when none of them parses and there are more is the whole scan asked
    (a second job, one row per file).
    """
    from pyspark.sql import functions as F

    problem = F.col("problem")
    timed = frame.where(problem.isNull() | ~problem.isin(*_NO_TIME))
    parsed = problem.isNull() | (problem != "unparseable time")
    place = ("_file", "_block", "_order")
    rows = timed.select(parsed.alias("parsed"), RAW_TIME, *place).limit(_SAMPLE).collect()
    if not rows or any(row["parsed"] for row in rows):
        return
    firsts = rows
    if len(rows) == _SAMPLE:  # more rows may follow: the whole scan, one row per file
        firsts = (
            timed.withColumn("_pos", F.monotonically_increasing_id())  # the place in its split
            .groupBy("_file")
            .agg(
                F.max(parsed.cast("int")).alias("parsed"),
                F.min(F.struct("_block", "_order", "_pos", RAW_TIME)).alias("_m"),
            )
            .select("parsed", "_file", "_m.*")
            .collect()
        )
        if any(row["parsed"] for row in firsts):
            return

    def key(row: Row) -> tuple[int, str, int, int]:
        return (rank(row["_file"]), row["_file"], row["_block"] or 0, row["_order"] or 0)

    example = min(firsts, key=key)[RAW_TIME]  # min keeps the first of equals: Spark's order
    raise InvalidValue(
        "time_format",
        reading.time_format,
        f"it reads none of the times of {display}, such as {str(example).strip()!r}",
    )
