"""What the input held that no report counts: invalid rows, rejected lines, unknown categories.

One pass over the view :func:`~.loading.load_events` registered counts the
invalid rows by reason, the malformed CSV lines DuckDB set aside, and the
rows of unknown categories, with the first examples placed by file and row.
For typed Parquet files whose times are all sound, the pass reads only
their user ids and categories, grouped (:class:`~.loading.Summary`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..backends.protocol import Diagnostics
from ..errors import DataError, first_line
from .columns import CATEGORIES, quote_ident
from .csv import data_row, refuse_not_utf8, reject_lines_sql
from .loading import GROUP_ROWS, RAW_TIME, VIEW, Summary
from .mapping import epoch_formats, epoch_reading

if TYPE_CHECKING:
    import duckdb


def diagnose(
    con: duckdb.DuckDBPyConnection,
    view: str = VIEW,
    *,
    every_column: bool = True,
    covered: bool = False,
    users: bool = False,
    summary: Summary | None = None,
) -> Diagnostics:
    """Count invalid rows and unknown categories (one pass over ``view``).

    The same pass also collects, when asked, the categories with explicit
    coverage (``covered``) and the distinct valid user ids (``users``); see
    :class:`Diagnostics`. A report uses them to pick its plan and to name its
    users without scanning the events again.

    With ``every_column`` the pass reads every canonical column, so every
    malformed CSV line any later query could meet is in the rejects tables
    when this returns. A CSV line that is not UTF-8 is an error: the file is
    in another encoding, and its other rows cannot be trusted either. Only
    CSV needs it: reading the optional text columns of 20 million Parquet
    rows would triple the pass's cost for nothing.

    With a ``summary`` (see :class:`~.loading.Summary`) whose proof holds,
    the counts and the users come from its groups: the files' user ids and
    categories, read without the rest of the rows. The reasons and examples
    of invalid rows, if any, still come from ``view``.
    """
    import duckdb

    try:
        return _diagnose(con, view, every_column, covered, users, summary)
    except duckdb.InterruptException:
        raise KeyboardInterrupt from None
    except duckdb.Error as exc:  # a file damaged past its schema, found by the scan
        raise DataError(f"cannot read {_which_files(con, view)}: {first_line(exc)}") from exc


def _which_files(con: duckdb.DuckDBPyConnection, view: str) -> str:
    """The files a failing scan of ``view`` read, for its message."""
    import duckdb

    try:
        shown = [
            str(name)
            for (name,) in con.execute(
                f"SELECT display FROM {quote_ident(view + '_names')} ORDER BY display"
            ).fetchall()
        ]
    except duckdb.Error:
        return "the events"
    if len(shown) == 1:
        return shown[0]
    listed = ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")
    return f"the events (one of {listed})"


#: SQL over canonical rows: a valid row whose category is none of :data:`CATEGORIES`
#: (bind ``$known`` to that list).
UNKNOWN_CATEGORY = "problem IS NULL AND NOT list_contains($known, category)"


def tally(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    column: str,
    where: str = "true",
    params: dict[str, object] | None = None,
    limit: int | None = None,
) -> list[tuple[str, int]]:
    """The values of ``column`` among the rows of ``relation`` that meet ``where``, each
    with its count, most common first (ties by value): how every list of reasons and
    of unknown categories is ordered."""
    sql = (
        f"SELECT {column}, count(*) FROM {relation} WHERE {where} "
        f"GROUP BY {column} ORDER BY count(*) DESC, {column}"
    )
    if limit is not None:
        sql += f" LIMIT {limit}"
    rows = con.execute(sql, params).fetchall() if params else con.execute(sql).fetchall()
    return [(str(value), int(n)) for value, n in rows]


def _diagnose(
    con: duckdb.DuckDBPyConnection,
    view: str,
    every_column: bool,
    covered: bool,
    users: bool,
    summary: Summary | None,
) -> Diagnostics:
    source = quote_ident(view)
    known: dict[str, object] = {"known": list(CATEGORIES)}
    touched = "count(org) + count(event_id) + count(end_us) + count(source_row)"
    # coalesce: an aggregate over no rows is NULL, which would read as "not asked"
    covering = "list(DISTINCT category) FILTER (problem IS NULL AND end_us IS NOT NULL)"
    covering = f"coalesce({covering}, [])"
    user_list = "coalesce(list(DISTINCT user_id) FILTER (problem IS NULL), [])"
    counted, rows_of = source, "count(*) FILTER"
    if summary is not None and not every_column and _holds(con, summary):
        # A summary has no end times: nothing covers explicitly.
        counted, rows_of = quote_ident(summary.view), f"sum({GROUP_ROWS}) FILTER"
        covering = "[]"
    rows = con.execute(
        f"""
        SELECT
            coalesce({rows_of} (true), 0) AS total,
            coalesce({rows_of} (problem IS NOT NULL), 0) AS invalid,
            coalesce({rows_of} ({UNKNOWN_CATEGORY}), 0) AS unknown,
            {touched if every_column else "0"} AS touched,
            {covering if covered else "NULL"} AS covered,
            {user_list if users else "NULL"} AS users
        FROM {counted}
        """,
        known,
    ).fetchall()
    total, invalid, unknown, _ = (int(v) for v in rows[0][:4])
    covered_categories = None if rows[0][4] is None else tuple(sorted(map(str, rows[0][4])))
    user_ids = None if rows[0][5] is None else tuple(sorted(map(str, rows[0][5])))
    rejected = _rejected_lines(con, view)
    reasons: list[tuple[str, int]] = []
    examples: list[tuple[str, int | None, str]] = []
    unknown_values: list[tuple[str, int]] = []
    if invalid:
        reasons = tally(con, source, "problem", "problem IS NOT NULL")
        examples = _invalid_examples(con, view)
    if rejected is not None:
        reject_reasons, reject_examples = rejected
        examples = [(f, data_row(con, view, f, r), p) for f, r, p in examples]
        merged: dict[str, int] = dict(reasons)
        for reason, n in reject_reasons:
            merged[reason] = merged.get(reason, 0) + n
        reasons = sorted(merged.items(), key=lambda item: (-item[1], item[0]))
        examples = sorted(examples + reject_examples, key=lambda e: (e[0], e[1] or 0))[:3]
        rejected_count = sum(n for _, n in reject_reasons)
        total += rejected_count
        invalid += rejected_count
    if unknown:
        unknown_values = tally(con, source, "category", UNKNOWN_CATEGORY, known, limit=5)
    return Diagnostics.of(
        total,
        reasons=reasons,
        examples=examples,
        unknown=unknown_values,
        unknown_rows=unknown,
        covered_categories=covered_categories,
        user_ids=user_ids,
    )


def _holds(con: duckdb.DuckDBPyConnection, summary: Summary) -> bool:
    """Whether ``summary``'s proof is true of the files."""
    return con.execute(f"SELECT {summary.proof}").fetchall()[0][0] is True


def _invalid_examples(
    con: duckdb.DuckDBPyConnection, view: str
) -> list[tuple[str, int | None, str]]:
    """The first three invalid rows, in file order, with their row numbers.

    Read from ``{view}_located`` when :func:`load_events` made it: one more
    streaming scan, taken only when there are invalid rows. A row's number in
    its file is its position in the scan minus that of the file's first row.
    """
    located = f"{view}_located"
    exists = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = $name", {"name": located}
    ).fetchall()
    if not int(exists[0][0]):
        return [
            (str(f), None if r is None else int(r), str(p))
            for f, r, p in con.execute(
                f"SELECT source_file, source_row, problem FROM {quote_ident(view)} "
                "WHERE problem IS NOT NULL ORDER BY source_file, source_row LIMIT 3"
            ).fetchall()
        ]
    per_file = con.execute(
        f"""
        SELECT source_file, min(source_row),
               min_by({{'row': source_row, 'problem': problem}}, source_row, 3)
                   FILTER (problem IS NOT NULL)
        FROM {quote_ident(located)}
        GROUP BY source_file
        """
    ).fetchall()
    examples: list[tuple[str, int | None, str]] = []
    for file, first, bad in per_file:
        for item in bad or []:
            examples.append((str(file), int(item["row"]) - int(first) + 1, str(item["problem"])))
    return sorted(examples, key=lambda e: (e[0], e[1] or 0))[:3]


def _rejected_lines(
    con: duckdb.DuckDBPyConnection, view: str
) -> tuple[list[tuple[str, int]], list[tuple[str, int | None, str]]] | None:
    """The malformed CSV lines DuckDB set aside: counts by reason, the first three.

    Every scan of the view appends its rejects again, so lines are counted
    once per (file, line). None when no CSV line was rejected.
    """
    lines = reject_lines_sql(con, view)
    if lines is None:
        return None
    refuse_not_utf8(con, lines)
    counts = tally(con, f"({lines})", "reason")
    if not counts:
        return None
    first = con.execute(f"SELECT file, line, reason FROM ({lines}) ORDER BY file, line LIMIT 3")
    return (
        counts,
        [(str(f), int(line) - 1, str(reason)) for f, line, reason in first.fetchall()],
    )


def unknown_in_range(
    con: duckdb.DuckDBPyConnection,
    view: str,
    diagnostics: Diagnostics,
    start_us: int,
    end_us: int,
) -> Diagnostics:
    """``diagnostics`` with only the unknown categories of events in ``[start, end)``."""
    values = tally(
        con,
        view,
        "category",
        f"{UNKNOWN_CATEGORY} AND ts >= $start AND ts < $end",
        {"known": list(CATEGORIES), "start": start_us, "end": end_us},
    )
    return dataclasses.replace(
        diagnostics, unknown_rows=sum(n for _, n in values), unknown_values=values[:5]
    )


def refuse_files_without_valid_rows(
    con: duckdb.DuckDBPyConnection, view: str, diagnostics: Diagnostics
) -> None:
    """A file none of whose rows is valid is an error, not an empty report.

    Such a file is in a form the tool does not read (epoch numbers as times,
    another export's columns): a cron job must not mail an empty report as
    a success. A file whose every line is malformed CSV has no rows in the
    view; it is caught when it is the only source.
    """
    rows = con.execute(
        f"""WITH bad AS (
                SELECT source_file FROM {view} GROUP BY source_file
                HAVING count(*) FILTER (problem IS NULL) = 0
                ORDER BY source_file LIMIT 1)
            SELECT source_file, problem, count(*) FROM {view}
            WHERE source_file IN (SELECT source_file FROM bad)
            GROUP BY ALL ORDER BY count(*) DESC, problem"""
    ).fetchall()
    first_bad = (str(rows[0][0]), [(str(p), int(n)) for _, p, n in rows]) if rows else None
    times = unparseable_times(con, view, first_bad[0]) if first_bad else []
    refuse_no_valid_rows(first_bad, diagnostics, times=times)


def unparseable_times(con: duckdb.DuckDBPyConnection, view: str, file: str) -> list[str]:
    """The first few unparseable times of ``file``, as it writes them (for their message).

    Read from ``{view}_located``, which carries each row's time as text
    (:data:`~.loading.RAW_TIME`): one more scan, made only when a file has no
    valid row. Empty when the view does not exist.
    """
    located = f"{view}_located"
    exists = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = $name", {"name": located}
    ).fetchall()
    if not int(exists[0][0]):
        return []
    rows = con.execute(
        f"SELECT {quote_ident(RAW_TIME)} FROM {quote_ident(located)} "
        "WHERE source_file = $file AND problem = 'unparseable time' LIMIT 5",
        {"file": file},
    ).fetchall()
    return [str(raw) for (raw,) in rows if raw is not None]


def refuse_no_valid_rows(
    first_bad: tuple[str, list[tuple[str, int]]] | None,
    diagnostics: Diagnostics,
    *,
    times: Sequence[str] = (),
) -> None:
    """The error for a file with no valid row, or for events none of which is valid.

    ``first_bad`` is the first such file (by name) and its rows per problem,
    commonest first; every engine finds it its own way and words it here.
    ``times`` are some of that file's unparseable times as it writes them:
    when they are numbers, the message names the time format that reads them
    (:func:`.mapping.epoch_formats`).
    """
    if first_bad is not None:
        file, problems = first_bad
        total = sum(n for _, n in problems)
        reasons = ", ".join(f"{n} {problem}" for problem, n in problems)
        many = f"none of its {total:,} rows is"
        subject = f"{file}: {'its only row is not' if total == 1 else many}"
    elif diagnostics.total_rows and diagnostics.invalid_rows == diagnostics.total_rows:
        reasons, subject = diagnostics.describe(), "no row of the events is"
    else:
        return
    epoch = epoch_formats(times) if first_bad and "unparseable time" in reasons else ()
    if epoch:
        counted, formats = epoch_reading(epoch)
        raise DataError(
            "{subject} valid ({reasons}); its times look like {counted}, such as {example!r}: "
            "read them with {time_format} {formats}",
            params=("time_format",),
            subject=subject,
            reasons=reasons,
            counted=counted,
            example=times[0].strip(),
            formats=formats,
        )
    hint = ""
    if "unparseable time" in reasons:
        hint = "; times must be ISO 8601 text such as 2022-08-01T09:00:00Z"
    raise DataError(f"{subject} valid ({reasons}){hint}; fix the file or leave it out")
