"""How to read a log as it is: which column holds a field, how times are written, and
what its categories mean.

A :class:`Reading` is what the user said about their log (every part is
optional; the default reads the canonical columns and ISO 8601 times in
UTC, as before). :func:`parse_reading` checks the text values and raises
errors that name the parameter (``column``, ``time_format``, ``input_tz``,
``category_map``); the SQL helpers here are what :func:`.columns.canonical_select`
uses when a reading is not the default, so every front end, report or
ingest, reads a mapped log through the same query.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataError, InvalidValue
from ..times import parse_tz

if TYPE_CHECKING:
    import duckdb

#: The fields ``column`` names, and the canonical field each one serves.
FIELDS: dict[str, str] = {
    "time": "time",
    "user": "user_id",
    "category": "category",
    "org": "organization_id",
    "end": "end_time",
    "duration_s": "duration_s",
    "duration_ms": "duration_ms",
    "duration_us": "duration_us",
    "duration_ns": "duration_ns",
    "id": "id",
}

#: The named time formats; anything else with a ``%`` is a strptime pattern.
EPOCH_FORMATS: dict[str, tuple[int, int]] = {  # name -> (multiply, divide) to microseconds
    "epoch-s": (1_000_000, 1),
    "epoch-ms": (1_000, 1),
    "epoch-us": (1, 1),
    "epoch-ns": (1, 1_000),
}
TIME_FORMATS = ("iso", *EPOCH_FORMATS)
#: The unit an epoch number counts, told by its size: the whole numbers from 10**8
#: of each unit hold the times from 1973 to 5138 (10**11 seconds), so the units'
#: ranges do not overlap and a log of today's times names its one unit.
_EPOCH_SIZES = {"epoch-s": 10**8, "epoch-ms": 10**11, "epoch-us": 10**14, "epoch-ns": 10**17}
_EPOCH_NUMBER = re.compile(r"[+-]?([0-9]+)(?:\.[0-9]*)?", re.ASCII)
#: What each epoch format counts, for messages.
EPOCH_UNITS = {
    "epoch-s": "seconds",
    "epoch-ms": "milliseconds",
    "epoch-us": "microseconds",
    "epoch-ns": "nanoseconds",
}

_CATEGORIES = ("ide", "login", "app", "tunnel", "web_terminal")  # as in .columns


@dataclass(frozen=True)
class Reading:
    """What the user said about their log's columns, times and categories."""

    #: (field, column name) pairs; field is a key of :data:`FIELDS`.
    columns: tuple[tuple[str, str], ...] = ()
    time_format: str = "iso"
    #: The zone of times written without an offset, as given.
    input_tz: str = "UTC"
    #: The zone as SQL knows it: an IANA key, or None with ``input_offset_us``.
    zone_key: str | None = None
    input_offset_us: int = 0
    #: (normalised source value, category) pairs.
    category_map: tuple[tuple[str, str], ...] = ()

    @property
    def utc_input(self) -> bool:
        """Times without an offset are UTC (no conversion at all)."""
        return self.zone_key is None and self.input_offset_us == 0

    @property
    def plain_times(self) -> bool:
        """Times are read by today's rule: ISO 8601, UTC when no offset is written."""
        return self.time_format == "iso" and self.utc_input

    def column_for(self, field: str) -> str | None:
        """The column the user named for a canonical field (``user_id``...), if any."""
        for given, name in self.columns:
            if FIELDS[given] == field:
                return name
        return None

    @property
    def duration(self) -> tuple[str, str] | None:
        """(unit field such as ``duration_ms``, column name) if a duration column was named."""
        for given, name in self.columns:
            if given.startswith("duration_"):
                return given, name
        return None


DEFAULT = Reading()


def parse_reading(
    *,
    column: Sequence[str] | None = None,
    time_format: str | None = None,
    input_tz: str | None = None,
    category_map: Sequence[str] | None = None,
    category_map_file: str | None = None,
) -> Reading:
    """Check the text values of the reading parameters; None or empty means the default."""
    columns: dict[str, str] = {}
    for text in column or ():
        field, name = _pair(text, "column", "FIELD=NAME, such as user=username")
        field = field.lower()
        if field not in FIELDS:
            close = difflib.get_close_matches(field, FIELDS, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise InvalidValue(
                "column", text, f"no field {field!r}; {hint}the fields are {', '.join(FIELDS)}"
            )
        if field.startswith("duration_") and any(f.startswith("duration_") for f in columns):
            raise InvalidValue("column", text, "give one duration column")
        columns[field] = name
    fmt = parse_time_format(time_format or "iso")
    key, offset, zone_text = None, 0, (input_tz or "UTC")
    zone = parse_tz(zone_text, param="input_tz")
    if zone is not UTC:
        key = getattr(zone, "key", None)
        if isinstance(zone, timezone):
            delta = zone.utcoffset(None)
            offset = (delta.days * 86_400 + delta.seconds) * 1_000_000
            key = None
        elif not key or key == "localtime":
            raise InvalidValue("input_tz", zone_text, "name the zone, such as America/New_York")
    mapped: dict[str, str] = {}
    for text in category_map or ():
        value, target = _pair(text, "category_map", "VALUE=CATEGORY, such as ssh=tunnel")
        mapped[_normalise(value)] = _category(target, "category_map", text)
    if category_map_file:
        for value, target in _map_file(category_map_file):
            mapped.setdefault(value, target)
    return Reading(
        columns=tuple(columns.items()),
        time_format=fmt,
        input_tz=zone_text,
        zone_key=key,
        input_offset_us=offset,
        category_map=tuple(sorted(mapped.items())),
    )


def parse_time_format(text: str) -> str:
    """``iso``, an ``epoch-*`` unit, or a strptime pattern DuckDB accepts."""
    name = text.strip()
    if name.lower() in TIME_FORMATS:
        return name.lower()
    forms = f"use {', '.join(TIME_FORMATS)} or a strptime pattern such as '%m/%d/%Y %I:%M %p'"
    if "%" not in name:
        raise InvalidValue("time_format", text, forms)
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SELECT try_strptime('', $fmt)", {"fmt": name})
    except duckdb.Error as exc:
        reason = str(exc).strip().splitlines()[0].split(": ", 1)[-1]
        raise InvalidValue("time_format", text, f"{reason}; {forms}") from exc
    finally:
        con.close()
    return name


def epoch_formats(values: Iterable[object]) -> tuple[str, ...]:
    """The epoch time formats that would read ``values``, times a file held as numbers.

    Empty when some value is no plain number (digits, perhaps a sign and a
    fraction); the one format whose unit they count when every value's size
    names the same one (:data:`_EPOCH_SIZES`); else every epoch format.
    """
    units: set[str | None] = set()
    for value in values:
        match = _EPOCH_NUMBER.fullmatch(str(value).strip())
        if match is None:
            return ()
        digits = match.group(1).lstrip("0")
        whole = int(digits) if 0 < len(digits) <= 20 else 0
        units.add(next((f for f, low in _EPOCH_SIZES.items() if low <= whole < low * 1000), None))
    if not units:
        return ()
    if len(units) == 1 and None not in units:
        return tuple(u for u in units if u is not None)
    return tuple(EPOCH_FORMATS)


def epoch_reading(formats: Sequence[str]) -> tuple[str, str]:
    """How a message names numbers that ``formats`` (of :func:`epoch_formats`) read, and
    the time formats it offers: ('seconds since the epoch', 'epoch-s'), or for several
    ('epoch numbers', 'epoch-s, ... or epoch-ns (the unit they count)')."""
    if len(formats) == 1:
        return f"{EPOCH_UNITS[formats[0]]} since the epoch", formats[0]
    listed = ", ".join(formats[:-1]) + f" or {formats[-1]}"
    return "epoch numbers", f"{listed} (the unit they count)"


def _pair(text: str, param: str, form: str) -> tuple[str, str]:
    left, sep, right = text.partition("=")
    if not sep or not left.strip() or not right.strip():
        raise InvalidValue(param, text, f"give {form}")
    return left.strip(), right.strip()


def _normalise(value: str) -> str:
    return re.sub(r"[\s-]+", "_", value.strip().lower())


def _category(target: str, param: str, text: str) -> str:
    label = _normalise(target)
    if label not in _CATEGORIES:
        raise InvalidValue(
            param, text, f"{target!r} is no category; map to one of {', '.join(_CATEGORIES)}"
        )
    return label


def _map_file(path: str) -> list[tuple[str, str]]:
    """The ``value,category`` rows of a category map file (a header row is allowed)."""
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidValue("category_map_file", path, f"cannot read it: {reason}") from exc
    pairs: list[tuple[str, str]] = []
    for number, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not "".join(row).strip():
            continue
        if number == 1 and [c.strip().lower() for c in row] == ["value", "category"]:
            continue
        if len(row) != 2 or not row[0].strip():
            raise InvalidValue(
                "category_map_file", path, f"line {number}: give two fields, value,category"
            )
        label = _category(row[1], "category_map_file", path)
        pairs.append((_normalise(row[0]), label))
    return pairs


def missing_column(display: str, field: str, name: str, found: Iterable[str]) -> DataError:
    """The error for a named column the file does not have: what it has, and the closest."""
    names = list(found)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    if not close:
        lower = {n.lower(): n for n in names}
        close = [lower[c] for c in difflib.get_close_matches(name.lower(), lower, n=1)]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(names) or "none"
    return DataError(
        f"{display}: no column {name!r} for the {field} field (columns found: {shown}){hint}"
    )


# --------------------------------------------------------------------------- SQL


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


#: Text whose time carries its own offset or zone: a numeric offset after a clock
#: time, or a letter at the end (Z, UTC, a zone name).
_ZONED = "(?:[0-9]:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)? ?[+-][0-9:]+|[A-Za-z])$"
_DATE_FIRST = "^-?[0-9]{4,}-[0-9]{1,2}-[0-9]{1,2}"
_DAY_US = 86_400_000_000
_NUMERIC = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE",
)  # fmt: skip


def time_sql(
    sql: str, kind: str, reading: Reading, plain: str, bounds: tuple[int, int]
) -> tuple[str, str]:
    """A time column as epoch microseconds under ``reading``, and whether it held a wall time.

    ``plain`` is today's expression for the column (ISO 8601, UTC); it is
    returned as it is for the default reading and for values that carry
    their own offset. The second expression is true where the value is a
    local wall time (so a NULL time there is one the zone skips, not an
    unparseable one). ``bounds`` are the valid times: an epoch number
    beyond them becomes a time just outside, never an overflow.
    """
    if reading.plain_times:
        return plain, "false"
    text = f"trim(CAST({sql} AS VARCHAR))"
    fmt = reading.time_format
    if fmt in EPOCH_FORMATS:
        if kind == "VARCHAR" or kind in _NUMERIC or kind.startswith("DECIMAL"):
            return _epoch_sql(text, fmt, bounds), "false"
        return _local_typed(sql, kind, reading, plain)
    if kind != "VARCHAR":
        return _local_typed(sql, kind, reading, plain)
    if fmt == "iso":
        wall = (
            f"CASE WHEN regexp_matches({text}, '{_DATE_FIRST}') AND NOT "
            f"regexp_matches({text}, '{_ZONED}') THEN epoch_us(try_cast({text} AS TIMESTAMP)) END"
        )
        zoned = f"regexp_matches({text}, '{_ZONED}')"
        return (
            f"CASE WHEN {zoned} THEN {plain} ELSE {_local(wall, reading)} END",
            f"(NOT {zoned} AND {wall} IS NOT NULL)",
        )
    parsed = f"try_strptime({text}, {quote_literal(fmt)})"
    if "%z" in fmt or "%Z" in fmt:
        return f"epoch_us({parsed})", "false"
    wall = f"epoch_us({parsed})"
    return _local(wall, reading), f"({wall} IS NOT NULL)"


def _local_typed(sql: str, kind: str, reading: Reading, plain: str) -> tuple[str, str]:
    """A typed column: a timestamp without a zone, or a date, is a wall time in the input zone."""
    zoneless = kind == "DATE" or kind in ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS")
    if reading.utc_input or not zoneless:
        return plain, "false"
    return _local(plain, reading), f"({plain} IS NOT NULL)"


def _epoch_sql(text: str, fmt: str, bounds: tuple[int, int]) -> str:
    """Numbers (or numeric text) counting ``fmt``'s unit since the epoch, as microseconds."""
    multiply, divide = EPOCH_FORMATS[fmt]
    low, high = bounds
    scale = multiply / divide
    number = f"try_cast({text} AS DOUBLE)"
    whole = f"try_cast({text} AS HUGEINT)"
    exact = f"{whole} * {multiply}"
    if divide != 1:
        exact = f"(({whole} - ((({whole} % {divide}) + {divide}) % {divide})) // {divide})"
    decimal = f"floor(try_cast({text} AS DECIMAL(38,9)) * {scale!r})"
    return f"""(CASE
        WHEN {number} IS NULL OR NOT isfinite({number}) THEN NULL
        WHEN {number} * {scale!r} < {low} THEN {low - 1}
        WHEN {number} * {scale!r} >= {high} THEN {high}
        WHEN {whole} IS NOT NULL THEN CAST({exact} AS BIGINT)
        ELSE coalesce(CAST({decimal} AS BIGINT), CAST(floor({number} * {scale!r}) AS BIGINT))
    END)"""


def _local(wall: str, reading: Reading) -> str:
    """Wall-clock microseconds in the input zone -> epoch microseconds.

    An ambiguous wall time (the hour a clock repeats) is its first
    occurrence; one the clock skips has no instant: NULL.
    """
    if reading.zone_key is None:
        return f"({wall} - {reading.input_offset_us})"
    zone = quote_literal(reading.zone_key)

    def wall_at(instant: str) -> str:
        return f"epoch_us(timezone({zone}, timezone('UTC', make_timestamp({instant}))))"

    def candidate(shift: int) -> str:
        probe = f"(w + {shift})"
        return f"w - ({wall_at(probe)} - {probe})"

    # Each candidate assumes the offset of a day before or after; the ones the
    # zone maps back to the same wall time are real, and the first is taken.
    body = (
        f"list_min(list_filter([{candidate(-_DAY_US)}, {candidate(_DAY_US)}], "
        f"lambda c: {wall_at('c')} = w))"
    )
    return (
        f"list_transform([CAST({wall} AS BIGINT)], "
        f"lambda w: CASE WHEN w < {-_DAY_US * 365 * 300} OR w > {_DAY_US * 365 * 300} "
        f"THEN w ELSE {body} END)[1]"
    )


def category_sql(normalised: str, reading: Reading) -> str:
    """The normalised category with the user's map applied."""
    if not reading.category_map:
        return normalised
    entries = ", ".join(
        f"{quote_literal(value)}: {quote_literal(target)}" for value, target in reading.category_map
    )
    return f"list_transform([{normalised}], lambda c: coalesce(MAP {{{entries}}}[c], c))[1]"


def check_time_format(
    con: duckdb.DuckDBPyConnection, select: str, raw: str, display: str, reading: Reading
) -> None:
    """Refuse a time format that reads none of a file's times.

    ``select`` is the file's canonical SELECT carrying the raw time column
    ``raw``. The first thousand rows with a time usually settle it; only
    when none of them parses is the whole file read.
    """
    skipped = "('missing time', 'malformed JSON', 'not a JSON object')"
    timed = f"""SELECT problem, "{raw}" AS raw FROM ({select})
                WHERE problem IS NULL OR problem NOT IN {skipped}"""
    for limit in ("LIMIT 1000", ""):
        rows = con.execute(
            f"""SELECT count(*) FILTER (problem IS NULL OR problem <> 'unparseable time'),
                       count(*)
                FROM ({timed} {limit})"""
        ).fetchall()
        parsed, seen = rows[0]
        if parsed or not seen:
            return
    # The first time of the first file: a LIMIT keeps the scan's order, where an
    # aggregate's first() takes whichever thread's row comes first.
    example = con.execute(f"SELECT raw FROM ({timed}) LIMIT 1").fetchall()[0][0]
    raise InvalidValue(
        "time_format",
        reading.time_format,
        f"it reads none of the times of {display}, such as {str(example).strip()!r}",
    )
