"""JSON event files read by Spark's own readers, as the DuckDB engine reads them.

So a Spark server reads a JSON file where it lies (``s3a://``, HDFS, its own
disks) as it reads CSV or Parquet, with no copy on the driver's machine. (The
local Spark reads a local file's Parquet copy instead, :func:`parquet_copy`:
it answers faster.) The rules are those of :mod:`...sources.jsonl`:

- JSON Lines (``.jsonl``, ``.ndjson``, gzipped too) are read as lines of text
  (``spark.read.text``; only ``\\n`` ends a line). A blank line is no row but
  keeps its number. Each other line is parsed once, wrapped in ``[ ]`` so that
  anything after its value is an error rather than ignored. A line that is no
  JSON object is an invalid row: ``not a JSON object`` when it is one other
  JSON value (``null`` excepted), else ``malformed JSON``. DuckDB's reader also
  takes trailing commas and the words ``nan``, ``inf`` and ``infinity`` (any
  case, ``-`` allowed) as numbers: a line that fails is read once more with
  those repaired (the words become strings of themselves, the text DuckDB
  gives them), so such rows cost only when they occur.
- A ``.json`` file that opens with ``[`` is one array (read whole, as DuckDB
  reads it); each element is a row numbered by its place. An array that is not
  JSON fails the run in one line.
- The keys of every object, and the keys one level down as dotted paths
  (``actor.id``), are the file's columns, in the order DuckDB lists them (by
  depth, then the line each first appears on, then name); a value is text: a
  string as it is, any other value as JSON.

Line numbers: Spark Connect has no RDDs, so a line's number comes from
``monotonically_increasing_id`` (rows keep their order within a read split,
and a split's ids are consecutive) and the split's place in its file
(``_metadata.file_block_start``). Only the invalid rows a message shows, and
the rows a repeated id picks from, need the number; :func:`numbered` adds it
with one small aggregate of the lines per split.

What DuckDB reads and Spark reads differently: a number with a fraction or an
exponent is spelled as Java spells it (``1.5E300``, not ``1.5e300``), which
changes nothing for times and durations but would for a user id written as
such a number; and a string that holds JSON text is taken as an object when
its keys are listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...errors import DataError
from ...sources import Reading
from ...sources.jsonl import PROBLEM, column_paths

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame, SparkSession

    from ...resources import RunContext
    from ...sources import EventFile

#: The columns a JSON read carries beside its keys: the file, the split's start and
#: the row's place (an id for JSON Lines, see :func:`numbered`; the element's number
#: in an array).
FILE, BLOCK, SEQ = "_json_file", "_json_block", "_json_seq"
#: The line of a row in the Parquet copy of a local file (:func:`parquet_copy`).
LINE = "_json_line"
#: The columns of a JSON read that are no key of the file.
OWN = (FILE, BLOCK, SEQ, LINE, PROBLEM)

#: Blank lines, as DuckDB's reader skips them.
_BLANK = r"^[ \t\r\f\x0B]*$"
#: Jackson's options for JSON as DuckDB's reader takes it (no single quotes; the
#: non-finite words are handled by :func:`_repaired`).
_OPTIONS = {"allowSingleQuotes": "false", "allowNonNumericNumbers": "false"}
_OBJECTS = "array<map<string,string>>"
_OBJECT = "map<string,string>"
_STRING = r'"(?:[^"\\]|\\.)*"'
#: A comma before a closing bracket, outside strings.
_TRAILING_COMMA = "(" + _STRING + r")|,(\s*[}\]])"
#: A non-finite word where a value stands.
_WORD = r"([:\[,]\s*)(-?(?i:infinity|inf|nan))(?=\s*[,}\]])"
#: A closing brace then a bracket: where a line may go on past its object unseen
#: by the wrapped parse (its ``]`` would close the wrapper).
_BRACKET_AFTER = r"\}\s*\]"


def detect_format(spark: SparkSession, paths: Sequence[str], shown: str) -> str:
    """``array`` or ``newline_delimited`` by the first text of the files, as
    ``sources.jsonl.json_format`` tells a local file; a Spark job reads one line."""
    from pyspark.sql import functions as F

    value = F.col("value")
    first = (
        spark.read.option("lineSep", "\n")
        .text(list(paths))
        .where(~value.rlike(_BLANK))
        .select(F.regexp_replace(value, "^[\ufeff \t\r]+", "").alias("value"))
        .limit(1)
        .collect()
    )
    if not first:
        return "newline_delimited"
    head = str(first[0]["value"])
    if head.startswith("["):
        return "array"
    if head.startswith("{"):
        return "newline_delimited"
    raise DataError(
        f"{shown}: is not JSON (it starts with {head[:40]!r}); a JSON Lines file holds "
        "one object per line, a .json file an array of objects"
    )


def lines(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """Every line of JSON Lines files, blank ones too, with its file, split and id."""
    from pyspark.sql import functions as F

    return (
        spark.read.option("lineSep", "\n")
        .text(list(paths))
        .select(
            F.col("value"),
            F.col("_metadata.file_path").alias(FILE),
            F.col("_metadata.file_block_start").alias(BLOCK),
            # Right above the scan: Spark pushes no filter below it, so every line has one.
            F.monotonically_increasing_id().alias(SEQ),
        )
    )


def _wrapped(text: SparkColumn) -> SparkColumn:
    from pyspark.sql import functions as F

    return F.concat(F.lit("["), text, F.lit("]"))


def _alone(text: SparkColumn) -> SparkColumn:
    """Nothing follows the text's one value: as a map's only value, it closes the map."""
    from pyspark.sql import functions as F

    inside = F.from_json(F.concat(F.lit('{"v":'), text, F.lit("}")), _OBJECT, _OPTIONS)
    return F.coalesce(F.size(inside) == 1, F.lit(False))


def _object(text: SparkColumn) -> tuple[SparkColumn, SparkColumn]:
    """The text's object as a map of its keys' text, and whether it is exactly one object."""
    from pyspark.sql import functions as F

    parsed = F.from_json(_wrapped(text), _OBJECTS, _OPTIONS)
    one = F.try_element_at(parsed, F.lit(1))
    single = F.coalesce(F.size(parsed) == 1, F.lit(False)) & one.isNotNull()
    checked = single & F.when(text.rlike(_BRACKET_AFTER), _alone(text)).otherwise(F.lit(True))
    return one, checked


def _repaired(text: SparkColumn) -> SparkColumn:
    """The text with trailing commas dropped and non-finite words made strings."""
    from pyspark.sql import functions as F

    commas = F.regexp_replace(text, _TRAILING_COMMA, "$1$2")
    return F.regexp_replace(commas, _WORD, '$1"$2"')


def _one_value(text: SparkColumn) -> SparkColumn:
    """The text is one JSON value other than ``null``."""
    from pyspark.sql import functions as F

    parsed = F.from_json(_wrapped(text), "array<string>", _OPTIONS)
    single = F.coalesce(F.size(parsed) == 1, F.lit(False))
    return single & F.try_element_at(parsed, F.lit(1)).isNotNull() & _alone(text)


def line_objects(frame: DataFrame) -> DataFrame:
    """The non-blank lines of :func:`lines` as a map of their keys' text (``_m``) and
    the problem of a line that is no JSON object."""
    from pyspark.sql import functions as F

    value = F.col("value")
    utf8 = F.is_valid_utf8(value)
    first, good = _object(value)
    repaired = _repaired(value)
    second, good_again = _object(repaired)
    fields = F.when(good & utf8, first).when(utf8 & good_again, second)
    problem = (
        F.when(good & utf8, F.lit(None).cast("string"))
        .when(utf8 & good_again, F.lit(None).cast("string"))
        .when(utf8 & _one_value(repaired), F.lit("not a JSON object"))
        .otherwise(F.lit("malformed JSON"))
    )
    return frame.where(~value.rlike(_BLANK)).select(
        FILE, BLOCK, SEQ, fields.alias("_m"), problem.alias(PROBLEM)
    )


def array_objects(spark: SparkSession, paths: Sequence[str], shown: str) -> DataFrame:
    """The elements of ``.json`` arrays as :func:`line_objects` gives lines; ``SEQ`` is
    the element's number. An array that is not JSON is refused (a Spark job)."""
    from pyspark.sql import functions as F

    whole = spark.read.text(list(paths), wholetext=True).select(
        F.col("_metadata.file_path").alias(FILE),
        F.from_json(F.col("value"), "array<string>", _OPTIONS).alias("_a"),
    )
    if whole.where(F.col("_a").isNull()).limit(1).count():
        raise DataError(
            f"{shown}: cannot read it as JSON: it is not one JSON array; "
            "a .json file holds an array of objects"
        )
    element = F.col("_e")
    parsed = F.from_json(element, _OBJECT, _OPTIONS)
    fields = F.when(element.startswith("{"), parsed)
    problem = (
        F.when(element.isNull(), F.lit("malformed JSON"))
        .when(fields.isNull(), F.lit("not a JSON object"))
        .otherwise(F.lit(None).cast("string"))
    )
    return whole.select(FILE, F.posexplode("_a").alias("_i", "_e")).select(
        FILE,
        F.lit(0).cast("long").alias(BLOCK),
        (F.col("_i") + 1).cast("long").alias(SEQ),
        fields.alias("_m"),
        problem.alias(PROBLEM),
    )


def _value(parts: Sequence[str]) -> SparkColumn:
    """The text at a key path of the map ``_m``: JSON text one level down is parsed again."""
    from pyspark.sql import functions as F

    value = F.try_element_at(F.col("_m"), F.lit(parts[0]))
    for part in parts[1:]:
        value = F.try_element_at(F.from_json(value, _OBJECT, _OPTIONS), F.lit(part))
    return value


def _key_paths(objects: DataFrame) -> list[list[str]]:
    """Every top-level key, then every key of an object one level down, by where each first
    appears, then by name (one Spark job, as ``sources.jsonl._keys`` is one query)."""
    from pyspark.sql import functions as F

    where = F.struct(FILE, BLOCK, SEQ).alias("at")
    entries = objects.where(F.col("_m").isNotNull()).select(
        where, F.explode("_m").alias("key", "value")
    )
    top = entries.select(F.lit(0).alias("depth"), F.array("key").alias("parts"), "at")
    inner = F.when(F.col("value").startswith("{"), F.from_json("value", _OBJECT, _OPTIONS))
    below = (
        entries.select("at", "key", F.map_keys(inner).alias("subs"))
        .where(F.col("subs").isNotNull())
        .select("at", "key", F.explode("subs").alias("sub"))
        .select(F.lit(1).alias("depth"), F.array("key", "sub").alias("parts"), "at")
    )
    rows = top.unionByName(below).groupBy("depth", "parts").agg(F.min("at").alias("at")).collect()
    ordered = sorted(
        rows,
        key=lambda r: (
            int(r["depth"]),
            (str(r["at"][0]), int(r["at"][1]), int(r["at"][2])),
            list(r["parts"]),
        ),
    )
    return [[str(p) for p in r["parts"]] for r in ordered]


def _exists(objects: DataFrame, parts: Sequence[str]) -> bool:
    """Some object has the key path (holding null counts), as DuckDB's ``json_exists``."""
    from pyspark.sql import functions as F

    inner = F.col("_m")
    for part in parts[:-1]:
        inner = F.from_json(F.try_element_at(inner, F.lit(part)), _OBJECT, _OPTIONS)
    found = objects.where(F.coalesce(F.map_contains_key(inner, parts[-1]), F.lit(False)))
    return bool(found.limit(1).count())


def fields(objects: DataFrame, reading: Reading) -> DataFrame:
    """The objects as text columns, one per key path (see :func:`...sources.jsonl.json_relation`),
    with the columns of the file, the split, the place and the problem."""
    from pyspark.sql import functions as F

    paths = column_paths(_key_paths(objects), reading, lambda parts: _exists(objects, parts))
    columns = [_value(parts).alias(name) for name, parts in paths.items()]
    return objects.select(*columns, *(F.col(c) for c in (FILE, BLOCK, SEQ, PROBLEM)))


def numbered(frame: DataFrame, text_lines: DataFrame) -> DataFrame:
    """``frame`` (rows of JSON Lines with ``_file``, ``_block`` and ``_order``, the row's id)
    with ``row``, its line's number in its file, blank lines counted.

    A split's lines have consecutive ids from its first one; the lines of the splits
    before it in its file are counted by one aggregate of ``text_lines`` per split.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    splits = text_lines.groupBy(FILE, BLOCK).agg(
        F.count(F.lit(1)).alias("n"), F.min(SEQ).alias("first")
    )
    earlier = Window.partitionBy(FILE).orderBy(BLOCK).rowsBetween(Window.unboundedPreceding, -1)
    before = F.coalesce(F.sum("n").over(earlier), F.lit(0))
    shifts = splits.select(
        F.col(FILE).alias("_file"),
        F.col(BLOCK).alias("_block"),
        (before - F.col("first") + 1).alias("_shift"),
    )
    return frame.join(F.broadcast(shifts), on=["_file", "_block"], how="left").withColumn(
        "row", F.col("_order") + F.col("_shift")
    )


def parquet_copy(file: EventFile, reading: Reading, context: RunContext | None) -> str:
    """A local JSON file read by the DuckDB engine's own JSON reader into a temporary
    Parquet file of its text columns, its lines (:data:`LINE`) and its problems.

    The local Spark reads that copy: it answers several times faster than parsing
    the JSON in each of a report's passes, with exactly DuckDB's rows, fields and line
    numbers. The copy is removed with the run (at exit without a ``context``).
    """
    import os
    import tempfile

    from ... import sources
    from ...sources.jsonl import json_relation
    from ...sources.mapping import quote_literal
    from ..duckdb import connect

    if context is not None:
        fd, name = context.new_temp_file("activity-report-json-", ".parquet")
        os.close(fd)
    else:
        import atexit
        import contextlib

        fd, name = tempfile.mkstemp(prefix="activity-report-json-", suffix=".parquet")
        os.close(fd)

        def remove(path: str = name) -> None:
            with contextlib.suppress(OSError):
                os.remove(path)

        atexit.register(remove)
    con = connect()
    try:
        relation, columns = json_relation(con, file, reading, "_json_events")
        names = ", ".join(sources.quote_ident(c.name) for c in columns)
        con.execute(
            f"""COPY (SELECT {names + ", " if names else ""}
                             CAST(file_row_number + 1 AS BIGINT) AS {LINE},
                             {PROBLEM}
                      FROM ({relation.sql_query()}))
                TO {quote_literal(name)} (FORMAT parquet)"""
        )
    finally:
        con.close()
    return os.path.abspath(name)
