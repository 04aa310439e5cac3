"""The SQL that turns one file's rows into the canonical columns.

:func:`canonical_select` is the query that reads the columns a
:class:`~.columns.Mapping` picked as the columns of the view (see the
package's docstring), with the first problem found in each row.
"""

from __future__ import annotations

import re

from .columns import (
    EPOCH_MICROS,
    MAX_COVERAGE_US,
    MAX_TIME_US,
    MIN_TIME_US,
    Column,
    Mapping,
    epoch_limit,
    quote_ident,
)
from .mapping import category_sql, time_sql


def _present(column: Column | None) -> str:
    """Whether the row holds a value in ``column`` (blank text is no value)."""
    if column is None:
        return "false"
    if column.type == "VARCHAR":
        return f"(nullif(trim({column.sql}), '') IS NOT NULL)"
    return f"({column.sql} IS NOT NULL)"


def _timestamp_us(column: Column) -> str:
    """An expression giving the column as epoch microseconds, NULL if unparseable.

    A timestamp read as its stored integer (``epoch_unit``) that is too far for
    microseconds is NULL here; :func:`_far_side` tells it from a missing one.
    """
    if column.epoch_unit is not None:
        limit = epoch_limit(column.epoch_unit)
        return (
            f"CASE WHEN {column.sql} BETWEEN {-limit} AND {limit} "
            f"THEN {column.sql} * {EPOCH_MICROS[column.epoch_unit]} END"
        )
    if column.type == "VARCHAR":
        text = f"trim({column.sql})"
        offset = f"regexp_extract({text}, '{_OFFSET}', 1)"
        return (
            f"CASE WHEN regexp_matches({text}, '{_DATE_FIRST}') "
            f"AND ({offset} = '' OR regexp_full_match({offset}, '{_SANE_OFFSET}')) "
            f"THEN epoch_us(try_cast({text} AS TIMESTAMPTZ)) END"
        )
    if column.type.startswith("DATE"):
        return f"epoch_us(try_cast({column.sql} AS TIMESTAMP))"
    if column.type.endswith("_NS"):
        # Nanoseconds (pandas' default unit, zoned or not): floored to the
        # microsecond in integers, as epoch_us floors every other unit.
        # epoch_us itself rejects TIMESTAMPTZ_NS, and a cast would round.
        ns = f"epoch_ns({column.sql})"
        return f"(({ns} - (({ns} % 1000) + 1000) % 1000) // 1000)"
    return f"epoch_us({column.sql})"


def _far_side(column: Column | None) -> str:
    """1 if the row's time in ``column`` is too far in the future for microseconds,
    -1 if too far in the past, else 0: only a column read as its stored integer
    can hold such a time."""
    if column is None or column.epoch_unit is None:
        return "0"
    limit = epoch_limit(column.epoch_unit)
    value = column.sql
    return f"CASE WHEN {value} > {limit} THEN 1 WHEN {value} < {-limit} THEN -1 ELSE 0 END"


#: A time in text starts with its date: DuckDB's words ('epoch', 'infinity') are no time.
_DATE_FIRST = "^-?[0-9]{4,}-[0-9]{1,2}-[0-9]{1,2}"
#: The numeric UTC offset after a clock time, if any ...
_OFFSET = "[0-9]:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)? ?([+-][0-9:]+)$"
#: ... must be one a clock can have (DuckDB takes +25:00 and -99 too).
_SANE_OFFSET = "[+-](?:0[0-9]|1[0-8])(?::?[0-5][0-9])?"


def _duration_us(mapping: Mapping) -> str:
    """The duration in microseconds as a DOUBLE (checked before it becomes a BIGINT)."""
    column = mapping.duration
    if column is None:
        return "CAST(NULL AS DOUBLE)"
    if column.type == "INTERVAL":
        return f"(epoch({column.sql}) * 1e6)"
    value = f"try_cast({column.sql} AS DOUBLE)"
    if column.type == "VARCHAR":
        value = f"try_cast(nullif(trim({column.sql}), '') AS DOUBLE)"
    return f"({value} * {mapping.duration_micros!r})"


def _text(column: Column | None) -> str:
    if column is None:
        return "CAST(NULL AS VARCHAR)"
    return f"nullif(trim(CAST({column.sql} AS VARCHAR)), '')"


def id_text(column: Column | None) -> str:
    """:func:`_text` for a column of mostly distinct values, such as event ids.

    ``trim`` copies every value; on 20 million distinct ids that is over a
    second. It removes only Unicode space separators, of which the one in
    ASCII is the space: text that neither starts nor ends with one and is
    all ASCII (as many bytes as characters) is left as it is.
    """
    if column is None:
        return _text(column)
    text = f"CAST({column.sql} AS VARCHAR)"
    return (
        f"nullif(CASE WHEN starts_with({text}, ' ') OR ends_with({text}, ' ') "
        f"OR strlen({text}) <> length({text}) THEN trim({text}) ELSE {text} END, '')"
    )


def canonical_select(
    mapping: Mapping, relation: str, fmt: str, *, numbered: bool = False, carry: str | None = None
) -> str:
    """The SELECT that turns one relation's rows into the canonical columns.

    The checks run in order and each row gets the first problem found. Every
    arithmetic on a time happens only on rows whose values passed the range
    checks, so no input can make the query overflow.

    ``source_row`` of a CSV row is NULL, unless ``numbered``: then it is the
    row's position in the scan (a streaming ``row_number() OVER ()``, which
    keeps the files' order): the row number itself when the scan reads one
    file, else a position from which :func:`diagnose` subtracts that of the
    file's first row.

    ``carry`` names one more column of ``relation`` passed through as it is
    (a count of the rows a grouped relation's row stands for).
    """
    extra = "" if carry is None else f", {quote_ident(carry)}"
    reading, bounds = mapping.reading, (MIN_TIME_US, MAX_TIME_US)
    time, time_wall = time_sql(
        mapping.time.sql, mapping.time.type, reading, _timestamp_us(mapping.time), bounds
    )
    end_time, end_wall = "CAST(NULL AS BIGINT)", "false"
    if mapping.end_time:
        column = mapping.end_time
        end_time, end_wall = time_sql(
            column.sql, column.type, reading, _timestamp_us(column), bounds
        )
    row_problem = "CAST(NULL AS VARCHAR)" if mapping.problem is None else mapping.problem.sql
    category = "regexp_replace(lower(" + _text(mapping.category) + "), '[\\s-]+', '_', 'g')"
    row = "file_row_number + 1"
    if fmt == "csv":
        row = "row_number() OVER ()" if numbered else "NULL"
    return f"""
        SELECT
            ts,
            CASE WHEN problem IS NULL
                THEN coalesce(end_time_us, ts + CAST(round(duration_us) AS BIGINT))
            END AS end_us,
            user_id, category, org, event_id, problem, source_file, source_row{extra}
        FROM (
            SELECT *,
                CASE
                    WHEN row_problem IS NOT NULL THEN row_problem
                    WHEN NOT has_time THEN 'missing time'
                    WHEN time_far <> 0 THEN 'time out of range'
                    WHEN ts IS NULL AND time_wall THEN 'nonexistent local time'
                    WHEN ts IS NULL THEN 'unparseable time'
                    WHEN ts < {MIN_TIME_US} OR ts >= {MAX_TIME_US}
                        THEN 'time out of range'
                    WHEN user_id IS NULL THEN 'missing user_id'
                    WHEN category IS NULL THEN 'missing category'
                    WHEN end_far < 0 THEN 'end_time before time'
                    WHEN end_far > 0 THEN 'coverage longer than a year'
                    WHEN has_end AND end_time_us IS NULL AND end_wall
                        THEN 'nonexistent local end_time'
                    WHEN has_end AND end_time_us IS NULL THEN 'unparseable end_time'
                    WHEN end_time_us < ts THEN 'end_time before time'
                    WHEN end_time_us > ts + {MAX_COVERAGE_US}
                        THEN 'coverage longer than a year'
                    WHEN has_duration AND (duration_us IS NULL OR NOT isfinite(duration_us))
                        THEN 'unparseable duration'
                    WHEN duration_us < 0 THEN 'negative duration'
                    WHEN duration_us > {MAX_COVERAGE_US}
                        THEN 'coverage longer than a year'
                END AS problem
            FROM (
                SELECT
                    {time} AS ts,
                    {time_wall} AS time_wall,
                    {row_problem} AS row_problem,
                    {_present(mapping.time)} AS has_time,
                    {_far_side(mapping.time)} AS time_far,
                    {end_time} AS end_time_us,
                    {end_wall} AS end_wall,
                    {_present(mapping.end_time)} AS has_end,
                    {_far_side(mapping.end_time)} AS end_far,
                    {_duration_us(mapping)} AS duration_us,
                    {_present(mapping.duration)} AS has_duration,
                    {_text(mapping.user_id)} AS user_id,
                    {category_sql(category, reading)} AS category,
                    {_text(mapping.organization_id)} AS org,
                    {id_text(mapping.event_id)} AS event_id,
                    filename AS source_file,
                    CAST({row} AS BIGINT) AS source_row{extra}
                FROM {relation}
            )
        )
    """


def normalise_category(value: str) -> str:
    """The Python twin of the SQL normalisation, for ``--category`` values."""
    return re.sub(r"[\s-]+", "_", value.strip().lower())
