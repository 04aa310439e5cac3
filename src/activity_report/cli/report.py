"""``report``, the default command: events or the store in, one report out."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer

from .. import resources
from ..errors import NoStoreYet, TooManyBuckets, UsageError, flag_name
from ..pseudonyms import shareable
from ..render import DEFAULT_TOP, ColorMode, Format
from ..sources.coder import IDE_APPS_TEXT, ide_app_patterns
from .emit import check_destination, choose_format, emit
from .messages import note, tell_diagnostics
from .options import (
    READING_OPTIONS,
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
    IdeAppsOption,
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
    store_path,
    typed,
    unless_db_typed,
)
from .runs import config_file, current

if TYPE_CHECKING:
    from ..backends.protocol import EventSource
    from ..query import Query
    from ..sources import Reading


def report_command(
    ctx: typer.Context,
    events: EventsOption = None,
    coder: Annotated[
        str | None,
        typer.Option(
            "--coder",
            help="Read Coder's own PostgreSQL database instead of files: "
            "postgresql://USER@HOST:PORT/DATABASE (a password from the URL, PGPASSFILE or "
            "PGPASSWORD). Example: --coder postgresql://reports@db:5432/coder",
            envvar="ACTIVITY_REPORT_CODER_URL",
            show_default=False,
        ),
    ] = None,
    ide_apps: IdeAppsOption = IDE_APPS_TEXT,
    db: ReportDbOption = None,
    users: Annotated[
        str | None,
        typer.Option("--users", help="User directory: CSV, Parquet or JSON."),
    ] = None,
    orgs: Annotated[
        str | None,
        typer.Option(
            "--orgs",
            help="Organization directory (CSV, Parquet or JSON with id and name): reports "
            "name organizations, and --org takes a name. Default: the store's (orgs import), "
            "or Coder's with --coder.",
            show_default=False,
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
    category: CategoryOption = "any",
    org: OrgOption = None,
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user",
            help="Only this user id, username or pseudonym (anon-...). Repeatable.",
            show_default=False,
        ),
    ] = None,
    heartbeat: HeartbeatOption = "1 minute",
    strict: StrictOption = False,
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
    csv_raw: Annotated[
        bool,
        typer.Option(
            "--csv-raw",
            help="With csv: write names as they are. By default a text cell that starts "
            "with = + - @, a tab or a carriage return gets a ' before it, so that a "
            "spreadsheet shows it instead of running it as a formula.",
        ),
    ] = False,
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
    color: ColorOption = ColorMode.auto,
    max_buckets: Annotated[
        int, typer.Option(help="Refuse ranges with more buckets than this.", min=1)
    ] = 100_000,
    memory_limit: MemoryLimitOption = None,
    temp_dir: TempDirOption = None,
    engine: EngineOption = Engine.duckdb,
    spark_remote: SparkRemoteOption = None,
    pseudonymize: Annotated[
        bool,
        typer.Option(
            "--pseudonymize",
            help="Name no one: each user id becomes a stable pseudonym (anon- and 16 hex "
            "digits, keyed by the store's secret key or ACTIVITY_REPORT_PSEUDONYM_KEY); "
            "names, usernames and avatars are left out.",
        ),
    ] = False,
    min_users: Annotated[
        int | None,
        typer.Option(
            "--min-users",
            min=1,
            help="Withhold every interval with fewer than K active users: no user list, "
            "counts shown as '< K' (null in JSON). Example: --min-users 5",
            metavar="K",
            show_default=False,
        ),
    ] = None,
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
    """Report who was active, how often and for how long, per interval.

    Example: activity-report --events sample_data/events.parquet --start 2022-08-01
    --end 2022-08-31 --category ide --interval "1 week" --json
    """
    from .. import reporting as core
    from ..intervals import capital_m_hint
    from ..query import parse_query

    chosen = choose_format(fmt, as_json, output)
    if csv_raw and chosen is not Format.csv:
        raise UsageError(f"--csv-raw is for the csv format, not {chosen.value}; drop it")
    check_destination(output)
    if (hint := capital_m_hint(interval)) is not None:
        note(f"note: {hint.render(flag_name)}")
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
            "min_users": min_users,
            "pseudonymize": pseudonymize,
        },
        now=datetime.now(UTC),
        strict=strict,
    )
    events = unless_db_typed("events", events)
    coder = unless_db_typed("coder", coder)
    reading = reading_from(column, time_format, input_tz, category_map, category_map_file)
    limits = resource_limits(memory_limit, temp_dir)
    if coder and events:
        # A variable yields to the other source's option; two options conflict.
        if from_env(ctx, "coder") and not from_env(ctx, "events"):
            coder = None
        elif from_env(ctx, "events") and not from_env(ctx, "coder"):
            events = None
        else:
            raise UsageError("--coder and --events name two sources; give one of them")
    if typed("ide_apps") and coder is None:
        raise UsageError(
            "{ide_apps} is for {coder}: the apps of Coder's database counted as IDE (a "
            "store's were counted by its `activity-report ingest --coder`)",
            params=("ide_apps", "coder"),
        )
    key = _pseudonym_key(events or coder, db, pseudonymize, user)
    try:
        opened = _open_source(
            events,
            db,
            users,
            limits,
            engine,
            spark_remote,
            query,
            reading,
            orgs,
            coder=coder,
            ide_apps=ide_apps,
        )
        with opened as source:
            if key is not None and query.users:
                query = _resolve_pseudonyms(query, key, source)
            result = core.run(query, source)
    except NoStoreYet as exc:  # a report, unlike serve or tokens, can read files instead
        raise NoStoreYet(f"{exc.render(flag_name)}, or read files with --events") from None
    except TooManyBuckets as exc:  # the report, unlike seats or serve, has --max-buckets
        raise exc.offering("max_buckets") from None
    emit(
        shareable(result.report, key if query.pseudonymize else None, query.min_users),
        chosen,
        output,
        top=top,
        color=color,
        csv_raw=csv_raw,
    )
    if query.aligned:
        note(_alignment_note(query))
    tell_diagnostics(result)
    if verbose:
        read_from = config_file()
        if read_from is not None:
            note(f"read options from {read_from}")
        where = "Coder's database" if coder else "the files" if events else "the store"
        what = "15-minute rollups" if result.answered_by == "rollups" else "events"
        note(f"answered from the {what} of {where}")


def _pseudonym_key(
    source: object, db: str | None, pseudonymize: bool, users: list[str] | None
) -> bytes | None:
    """The key, when --pseudonymize or a pseudonym given to --user needs one.

    ``source``: the files or Coder URL read instead of the store, if any.
    """
    from ..pseudonyms import is_pseudonym
    from .pseudonyms import report_key

    if pseudonymize:
        return report_key(bool(source), db)
    named = [u for u in users or () if is_pseudonym(u)]
    if named:
        return report_key(bool(source), db, f"--user {named[0]} (a pseudonym)")
    return None


def _resolve_pseudonyms(query: Query, key: bytes, source: EventSource) -> Query:
    """--user's pseudonyms as the user ids they stand for."""
    from dataclasses import replace

    from ..pseudonyms import known_user_ids, resolve

    return replace(query, users=resolve(query.users or (), key, known_user_ids(source)))


def from_env(ctx: typer.Context, name: str) -> bool:
    """Whether parameter ``name`` got its value from its environment variable."""
    return ctx.get_parameter_source(name) is click.core.ParameterSource.ENVIRONMENT


def _alignment_note(query: Query) -> str:
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
    query: Query,
    reading: Reading | None = None,
    orgs: str | None = None,
    *,
    coder: str | None = None,
    ide_apps: str | None = None,
) -> contextlib.AbstractContextManager[EventSource]:
    """--events' files (read by DuckDB or by Spark), else the store of --db, in this run."""
    from ..backends import open_source
    from ..reporting import window

    # A config file's reading options are for its event files; on the command line they
    # must go with --events, which open_source checks.
    if not events and not typed(*READING_OPTIONS):
        reading = None
    return open_source(
        events,
        None if events or coder else store_path(db),
        users_file=users,
        limits=limits,
        context=current(),
        engine=engine.value,
        spark_remote=spark_remote,
        window=window(query),
        reading=reading,
        orgs_file=orgs,
        coder=coder,
        ide_apps=None if ide_apps is None else ide_app_patterns(ide_apps),
    )
