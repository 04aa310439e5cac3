"""Event files -> the view ``events_input`` and its siblings, registered on a connection.

How the files are read, and which of them share a scan, is told in :mod:`.scans`.

Row numbers count data rows: the header is not a row, so in a plain CSV file
row N is line N + 1. DuckDB gives no row numbers for CSV; a streaming
``row_number() OVER ()`` (which keeps the scan's order and costs nothing
measurable) numbers the rows of a scan. That is the row number when the scan
reads one file; in a multi-file scan the number within a file needs the
position of the file's first row, known only after the scan, so the view
leaves it NULL, and :func:`.diagnostics.diagnose` places the invalid rows it reports with
one more scan of the sibling view ``{view}_located``, taken only when there are
invalid rows. The streaming count skips the malformed lines DuckDB set aside;
:func:`.csv.data_row` adds them back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import DataError
from . import repeats
from .canonical import canonical_select
from .columns import MAX_TIME_US, MIN_TIME_US, Mapping, quote_ident, quote_literal
from .mapping import DEFAULT as DEFAULT_READING
from .mapping import Reading
from .paths import EventFile
from .repeats import CONTENT, hash_table, id_hash, kept_rows, read_hashes
from .scans import file_scans

if TYPE_CHECKING:
    import duckdb

VIEW = "events_input"


@dataclass(frozen=True)
class Summary:
    """The view's rows grouped by what decides their check, when the files allow it.

    ``view`` has the canonical columns and :data:`GROUP_ROWS`, the number of
    rows each of its rows stands for: the files' rows grouped by user id and
    category, with a stand-in time (``ts`` means nothing there). That is exact for a
    count of invalid rows, of unknown categories and for the valid users
    whenever no row's time is at fault, no end or duration column exists,
    and so a row's problem depends on its user id and category alone.
    ``proof`` is one SQL boolean saying whether every row's time is
    present and in range (a Parquet footer usually answers it without a
    scan): the summary holds only when it is true.
    """

    view: str
    proof: str


#: The column of :attr:`Summary.view` that counts the rows a row stands for.
GROUP_ROWS = "group_rows"

#: The column of ``{view}_located`` with each row's time as its file writes it (text),
#: for the message of a file whose times none reads (:func:`.diagnostics.unparseable_times`);
#: a name no file's column has.
RAW_TIME = "_activity_report_raw_time"

#: The types of a time column whose valid values the Parquet statistics bound:
#: read as they are (``epoch_us``), with no parsing that could fail a row.
_PLAIN_TIMES = ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE")


@dataclass
class LoadedEvents:
    """The result of :func:`load_events`: the view is registered on ``con``."""

    view: str
    files: list[EventFile]
    has_coverage: bool
    summary: Summary | None = None
    #: A query of one column ``h``: the 64-bit hash of every row's id, of the
    #: rows that have one (:func:`.repeats.id_hash`); None when no file has ids.
    id_hashes: str | None = None

    @property
    def has_ids(self) -> bool:
        """Whether some file has an id column."""
        return self.id_hashes is not None


def load_events(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[EventFile],
    *,
    view: str = VIEW,
    reading: Reading = DEFAULT_READING,
) -> LoadedEvents:
    """Register ``view`` on ``con``: the canonical rows of every file.

    Nothing is read yet but the files' schemas: every query on the view scans
    the files again, in DuckDB. Also registered: ``{view}_located``, the same
    rows with CSV row numbers, which :func:`diagnose` reads to place invalid
    rows, and the rejects tables ``{view}_rejects`` and ``{view}_rejects_scans``
    where DuckDB records the malformed CSV lines; ``{view}_located`` also
    carries each row's time as text (:data:`RAW_TIME`). ``reading`` says which
    columns hold which field and how times and categories are written
    (:mod:`.mapping`).
    """
    if not files:
        raise DataError(
            "no event files given; pass {events} PATH or {db} PATH", params=("events", "db")
        )
    rejects = f"{view}_rejects"
    for table in (rejects, f"{rejects}_scans"):
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
    scans = file_scans(con, files, rejects, reading)
    # Messages name the file as the user gave it (stdin's temp file is "<stdin>").
    names = quote_ident(f"{view}_names")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {names} (path VARCHAR, display VARCHAR)")
    con.executemany(f"INSERT INTO {names} VALUES (?, ?)", [[f.path, f.display] for f in files])
    plain, located, hashes = [], [], []
    summaries: list[tuple[str, str] | None] = []
    for index, (mapping, fmt, relation, members) in enumerate(scans):
        name = quote_ident(f"{view}_raw_{index}")
        # TEMP: nothing of a load outlives the connection, nor lands in a store's file
        # (the relation's create_view would make a persistent view). The scan's SQL is
        # DuckDB's own rendering of the read_csv/read_parquet call, paths quoted by it.
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {relation.sql_query()}")
        one = len(members) == 1
        plain.append(_displayed(canonical_select(mapping, name, fmt, numbered=one), members, names))
        # The raw time rides along as text: a query that does not read it never casts it.
        timed = f"(SELECT *, CAST({mapping.time.sql} AS VARCHAR) AS {RAW_TIME} FROM {name})"
        located.append(
            _displayed(
                canonical_select(mapping, timed, fmt, numbered=True, carry=RAW_TIME),
                members,
                names,
            )
        )
        summaries.append(_grouped(con, mapping, fmt, name, f"{view}_groups_{index}"))
        if mapping.event_id is not None:
            hashes.append(f"SELECT {id_hash(mapping.event_id)} AS h FROM {name}")
    for target, selects in ((view, plain), (f"{view}_located", located)):
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {quote_ident(target)} AS " + "\nUNION ALL\n".join(selects)
        )
    summary = None
    if all(part is not None for part in summaries):
        parts = [part for part in summaries if part is not None]
        summary = Summary(f"{view}_summary", " AND ".join(f"({proof})" for _, proof in parts))
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {quote_ident(summary.view)} AS "
            + "\nUNION ALL\n".join(select for select, _ in parts)
        )
    return LoadedEvents(
        view=view,
        files=list(files),
        has_coverage=any(mapping.has_coverage for mapping, _, _, _ in scans),
        summary=summary,
        id_hashes="\nUNION ALL\n".join(hashes) or None,
    )


def _displayed(select: str, members: Sequence[EventFile], names: str) -> str:
    """``select`` (one scan's canonical rows) with ``source_file`` the name messages show.

    A scan of one file names it with a constant, which a query that reads no
    file name never computes; a scan of several looks each row's file up in
    the table ``names`` (path, display), a join that every query of the view
    would pay for, since DuckDB keeps a LEFT JOIN whose columns go unread.
    """
    if len(members) == 1:
        return (
            f"SELECT * REPLACE ({quote_literal(members[0].display)} AS source_file) FROM ({select})"
        )
    return f"""SELECT f.* REPLACE (coalesce(n.display, f.source_file) AS source_file)
               FROM ({select}) f LEFT JOIN {names} n ON n.path = f.source_file"""


def _grouped(
    con: duckdb.DuckDBPyConnection, mapping: Mapping, fmt: str, raw: str, name: str
) -> tuple[str, str] | None:
    """One scan's part of the :class:`Summary`: its canonical SELECT and its proof, or None.

    Registers ``name``: the scan's rows grouped by their user id and
    category as read, with their number and a stand-in for their times (the
    proof vouches for the real ones).
    The other columns a canonical row reads are NULL there: a summary is
    only made for a Parquet scan without end or duration columns, whose
    time column is a plain timestamp (no parsing, no integers from the
    footer), so those columns cannot make a row invalid.
    """
    if fmt != "parquet" or mapping.has_coverage:
        return None
    time, user, category = mapping.time, mapping.user_id, mapping.category
    if time.epoch_unit is not None or time.type not in _PLAIN_TIMES:
        return None
    others = [c for c in (mapping.organization_id, mapping.event_id) if c is not None]
    names = {c.name for c in (time, user, category, *others)}
    if len(names) < 3 + len(others) or GROUP_ROWS in names:
        return None  # one column serving two fields: not worth the care
    # Any valid time would do, and reading none is cheaper than the earliest.
    stand_in = f"CAST(TIMESTAMP '1970-01-01' AS {time.type})"
    nulls = "".join(f", CAST(NULL AS VARCHAR) AS {c.sql}" for c in others)
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS
            SELECT {user.sql}, {category.sql}, {stand_in} AS {time.sql}{nulls},
                   count(*) AS {GROUP_ROWS},
                   CAST(NULL AS VARCHAR) AS filename, CAST(0 AS BIGINT) AS file_row_number
            FROM {raw} GROUP BY {user.sql}, {category.sql}"""
    )
    # An infinite time has no epoch_us (NULL): it is unparseable, and disproves.
    proof = f"""SELECT count(*) = 0 OR coalesce(
                    count(*) = count({time.sql})
                    AND epoch_us(min({time.sql})) >= {MIN_TIME_US}
                    AND epoch_us(max({time.sql})) < {MAX_TIME_US}, false)
                FROM {raw}"""
    return canonical_select(mapping, quote_ident(name), fmt, carry=GROUP_ROWS), proof


def counted_view(con: duckdb.DuckDBPyConnection, loaded: LoadedEvents) -> str:
    """Register ``{view}_counted``: the rows of ``loaded`` that a report counts.

    The repeated-row rule, as the store keeps it (:mod:`.repeats`). One file
    without ids is counted as it is, at no cost. Invalid rows pass through
    unchanged.
    """
    return counted_view_later(con, loaded)()


def counted_view_later(con: duckdb.DuckDBPyConnection, loaded: LoadedEvents) -> Callable[[], str]:
    """:func:`counted_view` in two steps, so that other queries run in between.

    The ids' hashes are read now, while a thread of its own imports NumPy
    (a tenth of a second of Python that DuckDB's reading hides); their sort,
    NumPy's and single-threaded, runs in that thread too while the caller's
    next query (the check pass) keeps DuckDB's threads busy. The call
    returned waits for the sort and registers the view; it does so once, and
    then gives the same name.
    """
    import functools
    import importlib
    from concurrent.futures import ThreadPoolExecutor

    if loaded.id_hashes is None:
        name = _counted(con, loaded, None)
        return lambda: name
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="id-sort")
    try:
        pool.submit(importlib.import_module, "numpy")
        hashes = read_hashes(con, loaded.id_hashes)
        sorting = pool.submit(repeats.repeated_hashes, hashes)
    finally:
        pool.shutdown(wait=False)  # its tasks run on; the pool takes no other

    @functools.cache
    def finish() -> str:
        repeated = sorting.result()  # raises here what the sort raised
        table = None
        if repeated is not None:
            table = quote_ident(f"{loaded.view}_repeated_ids")
            hash_table(con, table, repeated)
        return _counted(con, loaded, table)

    return finish


def _counted(con: duckdb.DuckDBPyConnection, loaded: LoadedEvents, repeated: str | None) -> str:
    """The counted view over ``loaded``, given the table of repeated id hashes (or None).

    The rows the rule may merge (:func:`.repeats.kept_rows`) are those of an
    id whose hash repeats and, when there are several files, the id-less
    rows; the others pass as they are.
    """
    view = loaded.view
    several = len(loaded.files) > 1
    source = quote_ident(view)
    if repeated is None and not several:
        return view
    columns = "ts, end_us, user_id, category, org, event_id, problem, source_file, source_row"
    valid = f"SELECT {columns} FROM {source} WHERE problem IS NULL"
    parts = [f"SELECT {columns} FROM {source} WHERE problem IS NOT NULL"]
    merged = []
    if loaded.has_ids:
        if repeated is None:
            parts.append(f"{valid} AND event_id IS NOT NULL")
        else:
            candidates = f"hash(event_id) IN (SELECT h FROM {repeated})"
            parts.append(f"{valid} AND event_id IS NOT NULL AND NOT {candidates}")
            merged.append(f"event_id IS NOT NULL AND {candidates}")
    if several:
        merged.append("event_id IS NULL")
    else:
        parts.append(f"{valid} AND event_id IS NULL")
    order = quote_ident(f"{view}_file_order")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {order} (display VARCHAR, idx BIGINT)")
    con.executemany(
        f"INSERT INTO {order} VALUES (?, ?)", [[f.display, i] for i, f in enumerate(loaded.files)]
    )
    rows = f"""(SELECT v.*, o.idx AS file_no
               FROM {source} v LEFT JOIN {order} o ON o.display = v.source_file
               WHERE v.problem IS NULL AND ({" OR ".join(f"({m})" for m in merged)}))"""
    parts.append(
        f"""SELECT {CONTENT}, event_id, CAST(NULL AS VARCHAR) AS problem,
                   CAST(NULL AS VARCHAR) AS source_file, CAST(NULL AS BIGINT) AS source_row
            FROM ({kept_rows(rows)})"""
    )
    counted = f"{view}_counted"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(counted)} AS "
        + "\nUNION ALL\n".join(f"({part})" for part in parts)
    )
    return counted
