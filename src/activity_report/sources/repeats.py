"""The repeated-row rule, for DuckDB: written once, for reports on files and for the store.

Rows sharing an id are one event: the first file's, its first row. Id-less
rows with equal content (time, end, user, category, organization) are
copies, and each content counts as many times as the file that holds it
most often. Invalid rows take no part: they are reported, never merged.

Finding the rows the rule concerns is one sort of 64-bit hashes, one per
valid row's identity (:data:`IDENTITY`, or :func:`id_hash` over a raw id
column): NumPy sorts 20 million in a fraction of a second, while a DuckDB
aggregate over as many groups takes ten times as long and a gigabyte, and
a window ordered over the whole column runs on one thread. Usually no hash
repeats, and no row is grouped at all. Those whose hash repeats go through
:func:`kept_rows`, which groups them by their real columns (so a hash
collision merges nothing). Spark writes the same rule its own way
(``backends/spark``); ``tests/backends`` checks both against the same cases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .canonical import id_text
from .columns import Column

if TYPE_CHECKING:
    import duckdb
    import numpy as np

#: SQL over canonical rows: the 64-bit hash of a row's identity, its id when it has
#: one, else its content.
IDENTITY = (
    "CASE WHEN event_id IS NOT NULL THEN hash(event_id) "
    "ELSE hash(ts, user_id, category, org, end_us) END"
)

#: The canonical columns a counted row keeps.
CONTENT = "ts, end_us, user_id, category, org"

#: The columns of :func:`kept_rows`' answer.
KEPT_COLUMNS = f"{CONTENT}, event_id, file_no, copy"


def kept_rows(rows: str) -> str:
    """SQL: the rows of ``rows`` that the rule keeps, as :data:`KEPT_COLUMNS`.

    ``rows`` (a relation) holds valid canonical rows with ``file_no``, the
    file's place in the run (the first file's lowest), and ``source_row``,
    the row's place in its file (NULL ranks first). Of the rows of one id,
    the first file's first row is kept (``copy`` 1). Id-less rows of equal
    content are numbered 1, 2, ... within each file, and one row is kept per
    content and number (``copy``), from the first file holding that many:
    as many copies as the file that holds the most.

    Aggregates, not windows: DuckDB's hash aggregates run on every thread.
    """
    first_of_id = f"""SELECT unnest(arg_min(
                             struct_pack({CONTENT}, event_id, file_no),
                             file_no * 4294967296 + coalesce(source_row, 0))),
                         1 AS copy
                  FROM {rows} WHERE event_id IS NOT NULL GROUP BY event_id"""
    copies = f"""SELECT {CONTENT}, CAST(NULL AS VARCHAR) AS event_id, min(file_no) AS file_no, copy
                 FROM (SELECT {CONTENT}, file_no, unnest(range(1, n + 1)) AS copy
                       FROM (SELECT {CONTENT}, file_no, count(*) AS n
                             FROM {rows} WHERE event_id IS NULL
                             GROUP BY {CONTENT}, file_no))
                 GROUP BY {CONTENT}, copy"""
    return f"({first_of_id})\nUNION ALL\n({copies})"


def id_hash(column: Column) -> str:
    """SQL over a raw scan: the hash of the canonical ``event_id``, NULL where that is NULL.

    The same values as :data:`IDENTITY` over the rows that have an id, at less
    cost: a raw id whose first byte lies between ``!`` and DEL (one comparison
    of the string's inlined prefix), that ends with no space and is all ASCII
    is its own canonical id; any other is made canonical first (see
    :func:`~.canonical.id_text`), and NULL there (none, or blank) hashes to NULL.
    """
    text = f"CAST({column.sql} AS VARCHAR)"
    plain = (
        f"{text} >= '!' AND {text} < chr(128) AND NOT ends_with({text}, ' ') "
        f"AND strlen({text}) = length({text})"
    )
    canonical = id_text(column)
    return (
        f"CASE WHEN {plain} THEN hash({text}) "
        f"WHEN {canonical} IS NOT NULL THEN hash({canonical}) END"
    )


def read_hashes(con: duckdb.DuckDBPyConnection, query: str) -> np.ndarray:
    """The 64-bit hashes of ``query``'s one column ``h``, its NULLs left out.

    For ids, invalid rows may count too: a hash they repeat only sends the
    valid rows of that id through :func:`kept_rows`, which finds nothing to merge.
    """
    # NULLs, not a WHERE: the filter would compute every id a second time.
    # The rows are read before anything asks for NumPy: its import, under way
    # in another thread, then runs beside DuckDB (``fetchnumpy`` on a streamed
    # result imports it first, and would wait for it). DuckDB 1.4 calls this
    # step ``execute``.
    relation = con.sql(query)
    materialize = getattr(relation, "materialize", None) or getattr(relation, "execute", None)
    rows = relation if materialize is None else materialize()
    import numpy as np

    column = rows.fetchnumpy()["h"]
    # Masked where an id is missing; not asked as np.ma.isMaskedArray, which
    # would import numpy.ma for nothing.
    return column if type(column) is np.ndarray else column.compressed()


def repeated_hashes(hashes: np.ndarray) -> np.ndarray | None:
    """The values of ``hashes`` that occur more than once, or None (usually none do).

    Sorted in place and neighbours compared (see the module's note on why NumPy).
    """
    import numpy as np

    hashes.sort()
    same = hashes[1:] == hashes[:-1]
    if not same.any():
        return None
    return np.unique(hashes[1:][same])


def hash_table(con: duckdb.DuckDBPyConnection, table: str, hashes: np.ndarray) -> None:
    """Create the temporary table ``table`` (a quoted name) of ``hashes``, column ``h``."""
    import pyarrow as pa

    # A relation, not a registered view: inside a transaction, a dropped view
    # keeps its Python object until the commit.
    con.from_arrow(pa.table({"h": hashes})).query(
        "hashes", f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT h FROM hashes"
    )
