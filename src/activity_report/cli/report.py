"""``report``, the default command: events or the store in, one report out."""

from __future__ import annotations

import contextlib
import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import resources
from ..errors import NoStoreYet, UsageError
from ..render import DEFAULT_TOP, ColorMode, Format
from .emit import check_destination, choose_format, emit
from .messages import note, tell_diagnostics
from .options import DB_DEFAULT, MemoryLimitOption, TempDirOption, resource_limits, store_path
from .runs import current


class Engine(enum.StrEnum):
    duckdb = "duckdb"
    spark = "spark"


def _complete_category(incomplete: str) -> list[str]:
    from ..query import CATEGORY_CHOICES

    return [name for name in CATEGORY_CHOICES if name.startswith(incomplete.lower())]


def report_command(
    events: Annotated[
        list[str] | None,
        typer.Option(
            "--events",
            help="Event file, glob, directory, or - for CSV on stdin. Repeatable.",
            envvar="ACTIVITY_REPORT_EVENTS",
            show_default=False,
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="The store to read when no --events is given. " + DB_DEFAULT,
            envvar="ACTIVITY_REPORT_DB",
            show_default=False,
        ),
    ] = None,
    users: Annotated[
        str | None,
        typer.Option("--users", help="User directory: CSV, Parquet or JSON."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="Range start: ISO 8601, now, today, yesterday or 'N UNIT ago'. "
            "Default: the first event, floored to the interval unit."
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            help="Range end (exclusive), same forms as --start. "
            "Default: the last covered moment, raised to the interval unit."
        ),
    ] = None,
    interval: Annotated[
        str, typer.Option(help="Bucket size: '1 week', '90 day', daily, PT30M, ...")
    ] = "1 week",
    tz: Annotated[
        str, typer.Option("--tz", help="Time zone: IANA name, +05:30, UTC or local.")
    ] = "UTC",
    category: Annotated[
        str,
        typer.Option(
            help="any, ide, login, app, tunnel or web_terminal.",
            autocompletion=_complete_category,
        ),
    ] = "any",
    org: Annotated[
        list[str] | None,
        typer.Option("--org", help="Only this organization id. Repeatable.", show_default=False),
    ] = None,
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user", help="Only this user id or username. Repeatable.", show_default=False
        ),
    ] = None,
    heartbeat: Annotated[
        str, typer.Option(help="Coverage of an event without an end or duration.")
    ] = "1 minute",
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail (exit 1) if any row is invalid.")
    ] = False,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            help="Output format: table (for people), json (the Activity API), ndjson or csv "
            "(a row per bucket and user), markdown, html (a page with a chart). "
            "Default: table, or from -o's extension. "
            "Example: --format csv",
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
            help="Write the report to FILE atomically (a temporary file, then a rename); "
            "- is stdout. A link is written through to its target, a FIFO or device "
            "directly. "
            "Without --format, the extension picks it: .json, .ndjson/.jsonl, .csv, .md, "
            ".txt (table), .html/.htm. Example: -o weekly.csv",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int,
        typer.Option(
            "--top",
            min=0,
            help="Users listed by the table, markdown and html: the N most active; 0 lists all. "
            "Example: --top 25",
        ),
    ] = DEFAULT_TOP,
    color: Annotated[
        ColorMode,
        typer.Option(
            "--color",
            case_sensitive=False,
            help="Colour in the table: auto (a terminal, unless NO_COLOR is set), always, "
            "never. Other formats never have any. Example: --color never",
        ),
    ] = ColorMode.auto,
    max_buckets: Annotated[
        int, typer.Option(help="Refuse ranges with more buckets than this.", min=1)
    ] = 100_000,
    memory_limit: MemoryLimitOption = None,
    temp_dir: TempDirOption = None,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            case_sensitive=False,
            help="What computes the report: duckdb (on this machine) or spark (Apache "
            "Spark, for event logs in a data lake; needs pip install "
            "'pyspark[connect]>=4,<5'). Same output. Example: --engine spark",
        ),
    ] = Engine.duckdb,
    spark_remote: Annotated[
        str | None,
        typer.Option(
            "--spark-remote",
            help="With --engine spark: the Spark Connect server to run on. Default: a "
            "local Spark. Example: --spark-remote sc://spark-host:15002",
            envvar="SPARK_REMOTE",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", help="Say on stderr what answered: the events or rollups."),
    ] = False,
) -> None:
    """Report who was active, how often and for how long, per interval.

    Example: activity-report --events sample_data/events.parquet --start 2022-08-01
    --end 2022-08-31 --category ide --interval "1 week" --json
    """
    from .. import reporting as core
    from ..intervals import capital_m_hint
    from ..query import parse_query

    chosen = choose_format(fmt, as_json, output)
    check_destination(output)
    if (hint := capital_m_hint(interval)) is not None:
        note(f"note: {hint}")
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
            "max_buckets": max_buckets,
        },
        now=datetime.now(UTC),
        strict=strict,
    )
    limits = resource_limits(memory_limit, temp_dir)
    try:
        with _open_source(events, db, users, limits, engine, spark_remote, query) as source:
            result = core.run(query, source)
    except NoStoreYet as exc:  # a report, unlike serve or tokens, can read files instead
        raise NoStoreYet(f"{exc}, or read files with --events") from None
    emit(result.report, chosen, output, top=top, color=color)
    if query.aligned:
        note(_alignment_note(query))
    tell_diagnostics(result)
    if verbose:
        where = "the files" if events else "the store"
        what = "15-minute rollups" if result.answered_by == "rollups" else "events"
        note(f"answered from the {what} of {where}")


def _alignment_note(query: Any) -> str:
    """How 'now' and 'N UNIT ago' were moved to the interval unit's boundary, and why."""
    from ..render.summary import moment_format

    unit = query.interval.unit.value
    moves = []
    for aligned in query.aligned:
        named = aligned.named.replace(microsecond=0)
        moment = moment_format([named, aligned.used])
        moved = (
            f"--{aligned.param} {aligned.text!r} ({moment(named)}) became {moment(aligned.used)}"
        )
        if aligned.param == "end":
            moved += f", leaving out the {unit} in progress"
        moves.append(moved)
    return (
        f"note: relative times are aligned to the start of a {unit} in {query.zone.name}, so "
        f"that every run has the same buckets: {'; '.join(moves)}; give dates or date-times "
        "to set the range exactly"
    )


def _open_source(
    events: list[str] | None,
    db: str | None,
    users: str | None,
    limits: resources.Limits,
    engine: Engine,
    spark_remote: str | None,
    query: Any,
) -> contextlib.AbstractContextManager[Any]:
    """--events' files (read by DuckDB or by Spark), else the store of --db."""
    from ..event_source import open_files, open_store
    from ..reporting import to_micros

    if engine is Engine.spark:
        if not events:
            raise UsageError("--engine spark reads --events (files, folders or URLs), not a store")
        from ..backends import spark

        return contextlib.nullcontext(
            spark.open_source(
                events,
                users_file=users,
                remote=spark_remote,
                start_us=None if query.start is None else to_micros(query.start),
                end_us=None if query.end is None else to_micros(query.end),
                heartbeat_us=query.heartbeat_us,
                context=current(),
            )
        )
    if events:
        return open_files(events, users_file=users, limits=limits, context=current())
    return open_store(store_path(db), users_file=users, limits=limits, context=current())
