"""``seats``: daily, 7-, 30- and 90-day active users, dormant seats and growth."""

from __future__ import annotations

import dataclasses
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ..output import is_stdout, open_output
from ..render import ColorMode, Format
from ..seats import DEFAULT_DORMANT_DAYS, Seats
from .emit import check_destination, choose_format
from .messages import note, tell_diagnostics
from .options import (
    CategoryMapFileOption,
    CategoryMapOption,
    CategoryOption,
    ColorOption,
    ColumnOption,
    ConfigOption,
    DebugOption,
    Engine,
    EngineOption,
    EventsOption,
    HeartbeatOption,
    InputTzOption,
    MemoryLimitOption,
    OrgOption,
    ReportDbOption,
    SparkRemoteOption,
    StrictOption,
    TempDirOption,
    TimeFormatOption,
    reading_from,
    resource_limits,
    unless_db_typed,
)
from .report import _open_source, _pseudonym_key, _resolve_pseudonyms
from .runs import config_file
from .streams import is_terminal

if TYPE_CHECKING:
    from ..render.seats import SeatsWriter


def seats_command(
    events: EventsOption = None,
    db: ReportDbOption = None,
    users: Annotated[
        str | None,
        typer.Option(
            "--users", help="User directory (CSV, Parquet or JSON): its users can be dormant."
        ),
    ] = None,
    column: ColumnOption = None,
    time_format: TimeFormatOption = "iso",
    input_tz: InputTzOption = "UTC",
    category_map: CategoryMapOption = None,
    category_map_file: CategoryMapFileOption = None,
    config: ConfigOption = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="First day: ISO 8601, now, today, yesterday or 'N UNIT ago' (floored to "
            "its day). Default: the first event's day."
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            help="End (exclusive), same forms (raised to the next midnight). "
            "Default: the day after the last covered moment."
        ),
    ] = None,
    interval: Annotated[
        str, typer.Option(help="With --growth: its bucket size, whole days: '1 week', monthly.")
    ] = "1 week",
    tz: Annotated[
        str, typer.Option("--tz", help="Time zone of the days: IANA name, +05:30, UTC or local.")
    ] = "UTC",
    category: CategoryOption = "any",
    org: OrgOption = None,
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user", help="Only this user id or username. Repeatable.", show_default=False
        ),
    ] = None,
    heartbeat: HeartbeatOption = "1 minute",
    strict: StrictOption = False,
    dormant_after: Annotated[
        str,
        typer.Option(
            "--dormant-after",
            help="A seat is dormant after this many days without activity, up to --end. "
            "Example: --dormant-after 60d",
        ),
    ] = f"{DEFAULT_DORMANT_DAYS}d",
    growth: Annotated[
        bool,
        typer.Option(
            "--growth",
            help="Also count new, retained, resurrected and churned users per --interval.",
        ),
    ] = False,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            help="Output format: table (for people), json (days, stickiness, dormant), "
            "ndjson or csv (a row per day), markdown, html (a page with a line chart). "
            "Default: table, or from -o's extension.",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Write to FILE atomically; - is stdout. Without --format, the extension picks it.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    color: ColorOption = ColorMode.auto,
    memory_limit: MemoryLimitOption = None,
    temp_dir: TempDirOption = None,
    engine: EngineOption = Engine.duckdb,
    spark_remote: SparkRemoteOption = None,
    pseudonymize: Annotated[
        bool,
        typer.Option(
            "--pseudonymize",
            help="Name no one: each dormant user id becomes its stable pseudonym (the same "
            "as the report's --pseudonymize); names and usernames are left out.",
        ),
    ] = False,
    debug: DebugOption = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            help="Say on stderr which config file was read and what answered: the events "
            "or rollups.",
        ),
    ] = False,
) -> None:
    """How many people are active day to day (1, 7, 30, 90 days), and whose seat is idle.

    Example: activity-report seats --events sample_data/events.parquet
    --users sample_data/users.csv --start 2022-08-01 --end 2022-09-01
    """
    from ..query import parse_query
    from ..seats import SeatsQuery, parse_dormant_after, run_seats
    from ..seats import pseudonymize as pseudonymize_seats

    chosen = choose_format(fmt, as_json, output)
    check_destination(output)
    query = parse_query(
        {
            "tz": tz,
            "category": category,
            "interval": interval,
            "start": start,
            "end": end,
            "org": org,
            "user": user,
            "heartbeat": heartbeat,
            "pseudonymize": pseudonymize,
        },
        now=datetime.now(UTC),
        strict=strict,
    )
    request = SeatsQuery(query, parse_dormant_after(dormant_after), growth)
    events = unless_db_typed("events", events)
    reading = reading_from(column, time_format, input_tz, category_map, category_map_file)
    key = _pseudonym_key(events, db, query.pseudonymize, user)
    limits = resource_limits(memory_limit, temp_dir)
    # The windows and "first activity ever" reach before --start: no pruning from it.
    unbounded = dataclasses.replace(query, start=None)
    opened = _open_source(events, db, users, limits, engine, spark_remote, unbounded, reading)
    with opened as source:
        if key is not None and query.users:  # --user anon-...: the id it stands for
            request = dataclasses.replace(request, query=_resolve_pseudonyms(query, key, source))
        result = run_seats(request, source)
    seats = (
        result.seats
        if key is None or not query.pseudonymize
        else pseudonymize_seats(result.seats, key)
    )
    _emit(seats, chosen, output, color)
    tell_diagnostics(result)
    if verbose:
        read_from = config_file()
        if read_from is not None:
            note(f"read options from {read_from}")
        where = "the files" if events else "the store"
        what = "rollups" if result.answered_by == "rollups" else "events"
        note(f"answered from the {what} of {where}")


def _emit(seats: Seats, fmt: Format, output: Path | None, color: ColorMode) -> None:
    from ..render.seats import WRITERS

    if fmt is Format.table:
        from ..render.table import make_console

        if is_stdout(output):
            console = make_console(sys.stdout, color=color, is_terminal=is_terminal(sys.stdout))
            draw(seats, console)
            return
        assert output is not None
        with open_output(output) as handle:
            draw(seats, make_console(handle, color=color, is_terminal=False))
        return
    write = WRITERS[fmt]
    if is_stdout(output):
        _write_stdout(seats, write)
        return
    assert output is not None
    with open_output(output) as handle:
        write(seats, handle)


def _write_stdout(seats: Seats, write: SeatsWriter) -> None:
    from ..errors import DataError

    try:
        write(seats, sys.stdout)
        sys.stdout.flush()
    except OSError as exc:
        raise DataError(f"cannot write the report to stdout: {exc.strerror or exc}") from None


def draw(seats: Seats, console: Console) -> None:
    """The terminal table, its lines without the blanks rich pads them with (as the report's)."""
    with console.capture() as captured:
        _draw(seats, console)
    lines = captured.get().splitlines()
    while lines and not lines[-1].strip():  # the last table's closing blank line
        lines.pop()
    console.file.write("".join(line.rstrip(" ") + "\n" for line in lines))
    console.file.flush()


def _draw(seats: Seats, console: Console) -> None:
    """The terminal table: sparklines of the four figures, the days, growth, dormant seats."""
    from ..render.seats import sparkline, stickiness_text

    days = seats.days
    if days:
        console.print(
            f"Seats {days[0].day} to {days[-1].day} ({len(days)} days), "
            f"stickiness {stickiness_text(seats.stickiness)}",
            highlight=False,
        )
        for label, values in (
            ("daily ", [d.active_1d for d in days]),
            ("7-day ", [d.active_7d for d in days]),
            ("30-day", [d.active_30d for d in days]),
            ("90-day", [d.active_90d for d in days]),
        ):
            console.print(
                f"  {label} {sparkline(values)} {min(values)}..{max(values)}",
                highlight=False,
                overflow="ellipsis",
                no_wrap=True,
            )
    table = Table(box=box.SIMPLE_HEAD, title=None)
    for name in ("day", "daily", "7-day", "30-day", "90-day"):
        table.add_column(name, justify="left" if name == "day" else "right", no_wrap=True)
    for d in days:
        table.add_row(
            d.day.isoformat(),
            str(d.active_1d),
            str(d.active_7d),
            str(d.active_30d),
            str(d.active_90d),
        )
    console.print(table)
    if seats.growth is not None:
        growth = Table(box=box.SIMPLE_HEAD, title="Growth", title_justify="left")
        for name in ("bucket", "active", "new", "retained", "resurrected", "churned"):
            growth.add_column(name, justify="left" if name == "bucket" else "right", no_wrap=True)
        for g in seats.growth:
            growth.add_row(
                g.time.date().isoformat(),
                *(str(n) for n in (g.active, g.new, g.retained, g.resurrected, g.churned)),
            )
        console.print(growth)
    if not seats.dormant:
        console.print("No dormant seats.", highlight=False)
        return
    dormant = Table(
        box=box.SIMPLE_HEAD, title=f"Dormant seats ({len(seats.dormant)})", title_justify="left"
    )
    for name in ("user", "username", "name", "last active"):
        dormant.add_column(name, overflow="ellipsis")
    for u in seats.dormant:
        dormant.add_row(
            u.user_id,
            u.username or "",
            u.name or "",
            "never" if u.last_active is None else u.last_active.isoformat(),
        )
    console.print(dormant)


__all__ = ["draw", "seats_command"]
