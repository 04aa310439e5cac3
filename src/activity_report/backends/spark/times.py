"""Times as the DuckDB engine reads them under a :class:`...sources.Reading`, as Spark columns.

:func:`strptime` parses text by a strftime pattern the way DuckDB's
``try_strptime`` does (the pattern becomes an anchored regular expression
whose numbers take as many digits as they can, without backtracking, then
each field is range-checked and the date checked by Spark), and
:func:`local` turns a wall-clock time of the input zone into an instant by
the DuckDB engine's own rule: of the offsets a day before and a day after,
the ones that map back to the same wall time are real, and the first is
taken (an ambiguous time is its first occurrence); a time the clock skips
has none (NULL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...errors import UsageError
from ...sources import Reading

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn

_DAY_US = 86_400_000_000
_FAR_US = _DAY_US * 365 * 300
_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip

#: directive -> (regular expression of its group, field it fills)
_DIRECTIVES: dict[str, tuple[str, str]] = {
    "Y": ("[0-9]{1,4}+", "year"),
    "y": ("[0-9]{1,2}+", "year2"),
    "m": ("[0-9]{1,2}+", "month"),
    "d": ("[0-9]{1,2}+", "day"),
    "H": ("[0-9]{1,2}+", "hour"),
    "I": ("[0-9]{1,2}+", "hour12"),
    "M": ("[0-9]{1,2}+", "minute"),
    "S": ("[0-9]{1,2}+", "second"),
    "f": ("[0-9]{1,6}+", "micros"),
    "n": ("[0-9]{1,9}+", "nanos"),
    "p": ("(?i:am|pm)", "ampm"),
    "b": ("(?i:" + "|".join(m[:3] for m in _MONTHS) + ")", "month_abbr"),
    "B": ("(?i:" + "|".join(_MONTHS) + ")", "month_name"),
    "z": ("[+-][0-9]{2}(?::?[0-9]{2})?", "offset"),
}


@dataclass(frozen=True)
class Pattern:
    """A strftime pattern as a regular expression and the group of each field."""

    regex: str
    groups: dict[str, int]


def compile_pattern(fmt: str) -> Pattern:
    """The regular expression of ``fmt``; a directive Spark cannot read is refused."""
    out: list[str] = ["^\\s*"]
    groups: dict[str, int] = {}
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            i += 2
            if code == "%":
                out.append("%")
                continue
            if code not in _DIRECTIVES or _DIRECTIVES[code][1] in groups:
                raise UsageError(
                    f"{{engine}} spark reads the {{time_format}} directives "
                    f"{' '.join('%' + d for d in _DIRECTIVES)}, not %{code}; "
                    "use {engine} duckdb",
                    params=("engine", "time_format"),
                )
            regex, name = _DIRECTIVES[code]
            groups[name] = len(groups) + 1
            out.append(f"({regex})")
            continue
        if char.isspace():
            while i < len(fmt) and fmt[i].isspace():
                i += 1
            out.append("\\s+")
            continue
        out.append(re.escape(char))
        i += 1
    out.append("\\s*$")
    return Pattern("".join(out), groups)


def strptime(text: SparkColumn, fmt: str) -> tuple[SparkColumn, bool]:
    """``try_strptime(text, fmt)`` as epoch microseconds of the wall time (or of the
    instant when ``fmt`` has ``%z``), and whether it has ``%z``."""
    from pyspark.sql import functions as F

    pattern = compile_pattern(fmt)
    matched = text.rlike(pattern.regex)

    def group(name: str) -> SparkColumn | None:
        if name not in pattern.groups:
            return None
        return F.regexp_extract(text, pattern.regex, pattern.groups[name])

    def number(name: str) -> SparkColumn | None:
        value = group(name)
        return None if value is None else value.try_cast("int")

    checks = [matched]
    year = number("year")
    if year is None and (short := number("year2")) is not None:
        year = F.when(short < 69, short + 2000).otherwise(short + 1900)
    month = number("month")
    for name, names in (("month_abbr", [m[:3] for m in _MONTHS]), ("month_name", _MONTHS)):
        if (value := group(name)) is not None:
            pairs = [F.lit(x) for n, m in enumerate(names, start=1) for x in (m, n)]
            month = F.create_map(*pairs)[F.lower(value)]
    day = number("day")
    hour = number("hour")
    twelve = number("hour12")
    ampm = group("ampm")
    if twelve is not None:
        checks.append(twelve.between(1, 12))
        hour = twelve
    if ampm is not None and hour is not None:
        checks.append(hour <= 12)
        hour = hour % 12 + F.when(F.lower(ampm) == "pm", 12).otherwise(0)
    minute, second = number("minute"), number("second")
    for value, low, high in ((month, 1, 12), (day, 1, 31), (hour, 0, 23)):
        if value is not None:
            checks.append(value.between(low, high))
    for value in (minute, second):
        if value is not None:
            checks.append(value.between(0, 59))
    fraction = F.lit(0)
    if (micros := group("micros")) is not None:
        fraction = F.rpad(micros, 6, "0").try_cast("long")
    elif (nanos := group("nanos")) is not None:
        fraction = F.substring(F.rpad(nanos, 9, "0"), 1, 6).try_cast("long")
    ok = checks[0]
    for check in checks[1:]:
        ok = ok & check
    zero = F.lit(0)
    stamp = F.try_make_timestamp(
        years=year if year is not None else F.lit(1900),
        months=month if month is not None else F.lit(1),
        days=day if day is not None else F.lit(1),
        hours=hour if hour is not None else zero,
        mins=minute if minute is not None else zero,
        secs=second if second is not None else zero,
        timezone=F.lit("UTC"),
    )
    micros_of = F.unix_micros(stamp) + fraction
    zoned = "offset" in pattern.groups
    if zoned:
        offset = group("offset")
        assert offset is not None
        digits = F.regexp_replace(offset, "[+:-]", "")
        minutes = F.substring(digits, 1, 2).try_cast("long") * 60 + F.coalesce(
            F.nullif(F.substring(digits, 3, 2), F.lit("")).try_cast("long"), F.lit(0)
        )
        sign = F.when(offset.startswith("-"), -1).otherwise(1)
        micros_of = micros_of - sign * minutes * 60_000_000
    return F.when(F.coalesce(ok, F.lit(False)), micros_of), zoned


def local(wall: SparkColumn, reading: Reading) -> SparkColumn:
    """Wall-clock microseconds in the input zone -> epoch microseconds (NULL if skipped)."""
    from pyspark.sql import functions as F

    if reading.zone_key is None:
        return wall - F.lit(reading.input_offset_us)
    zone = reading.zone_key

    def wall_at(instant: SparkColumn) -> SparkColumn:
        return F.unix_micros(F.from_utc_timestamp(F.timestamp_micros(instant), zone))

    def candidate(shift: int) -> SparkColumn:
        probe = wall + F.lit(shift)
        return wall - (wall_at(probe) - probe)

    early, late = candidate(-_DAY_US), candidate(_DAY_US)
    early_ok, late_ok = wall_at(early) == wall, wall_at(late) == wall
    first = (
        F.when(early_ok & late_ok, F.least(early, late)).when(early_ok, early).when(late_ok, late)
    )
    far = (wall < F.lit(-_FAR_US)) | (wall > F.lit(_FAR_US))
    return F.when(far, wall).otherwise(first)
