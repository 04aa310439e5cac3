"""The command line: options in, one core call, a renderer out, an exit code.

Errors raised by the core are typed (:mod:`.errors`) and turned into one line
on stderr, and an exit code, in exactly one place: :func:`main`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
import re
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import click
import typer
from click.shell_completion import CompletionItem
from typer.core import TyperGroup

from . import __version__, resources
from .errors import ActivityReportError, DataError, UsageError, flag_name
from .output import check_target, is_stdout, open_output
from .render import BY_EXTENSION, DEFAULT_TOP, ColorMode, Format

PROG = "activity-report"


DB_DEFAULT = (
    "Default: $XDG_DATA_HOME/activity-report/events.duckdb, "
    "else ~/.local/share/activity-report/events.duckdb."
)
DB_HELP = "The store (a DuckDB file). " + DB_DEFAULT
DbOption = Annotated[
    str | None,
    typer.Option("--db", help=DB_HELP, envvar="ACTIVITY_REPORT_DB", show_default=False),
]
DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")]
CountsJsonOption = Annotated[
    bool, typer.Option("--json", help="Print the counts as a JSON object on stdout.")
]
WaitOption = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0,
        envvar="ACTIVITY_REPORT_WAIT",
        help="Seconds to wait while another process (a report, a server) holds the store.",
    ),
]
MemoryLimitOption = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        help="Memory DuckDB may use; beyond it, it spills to --temp-dir. "
        "Default: 80% of the machine's. Example: --memory-limit 2GB",
        envvar="ACTIVITY_REPORT_MEMORY_LIMIT",
        show_default=False,
    ),
]
TempDirOption = Annotated[
    str | None,
    typer.Option(
        "--temp-dir",
        help="Folder DuckDB spills to when the memory limit is reached. Default: a "
        "folder in the system's temporary directory. Example: --temp-dir /var/tmp",
        envvar="ACTIVITY_REPORT_TEMP_DIR",
        show_default=False,
    ),
]


class Engine(enum.StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class DefaultReportGroup(TyperGroup):
    """Runs ``report`` when the first argument names no subcommand.

    So ``activity-report --category ide`` and ``activity-report report
    --category ide`` are the same command.
    """

    default_command = "report"

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> None:
        """Every run, the console script's and CliRunner's alike, maps errors here."""
        argv = list(sys.argv[1:] if args is None else args)
        extra["standalone_mode"] = False

        def invoke() -> object:
            return super(DefaultReportGroup, self).main(argv, prog_name or PROG, **extra)

        sys.exit(run_guarded(invoke, argv))

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        top_level = {"-h", "--help", "--version", "--install-completion", "--show-completion"}
        completing_a_command = ctx.resilient_parsing and not args  # the first word: any command
        if not completing_a_command and (
            not args or (args[0] not in self.commands and args[0] not in top_level)
        ):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """The first word: a command, or (the report being the default) a report option."""
        items = super().shell_complete(ctx, incomplete)
        report = self.commands.get(self.default_command)
        if report is not None and incomplete.startswith("-"):
            sub = click.Context(report, info_name=self.default_command, parent=ctx)
            known = {item.value for item in items}
            items += [
                item for item in report.shell_complete(sub, incomplete) if item.value not in known
            ]
        return items

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's help, then the report's options: the report is the default command."""
        super().format_help(ctx, formatter)
        report = self.commands.get(self.default_command)
        if report is None:
            return
        sub = click.Context(report, info_name=self.default_command, parent=ctx)
        records = [
            record
            for param in report.get_params(sub)
            if not (isinstance(param, click.Option) and "--help" in param.opts)
            and (record := param.get_help_record(sub)) is not None
        ]
        with formatter.section("Report options (report is the default command)"):
            formatter.write_dl(records)


app = typer.Typer(
    name=PROG,
    cls=DefaultReportGroup,
    help="Usage reports from an activity event log, in the shape of Coder's Activity API."
    "\n\nWithout a command, it runs the report: its options are below."
    "\n\nExample: activity-report --events events.parquet --interval daily -o daily.csv",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,
    # click's plain help: it wraps long words (env var names, paths) instead
    # of cutting them with an ellipsis at 80 columns as rich's panels do.
    rich_markup_mode=None,
    no_args_is_help=False,
    add_completion=True,
)


def _version(value: bool) -> None:
    if value:
        print(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Usage reports from an activity event log, in the shape of Coder's Activity API.

    Without a command, it runs the report: its options are below.
    """


def _complete_category(incomplete: str) -> list[str]:
    from .query import CATEGORY_CHOICES

    return [name for name in CATEGORY_CHOICES if name.startswith(incomplete.lower())]


@app.command("report")
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
            "'activity-report[spark]'). Same output. Example: --engine spark",
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
    from . import reporting as core
    from .intervals import capital_m_hint
    from .query import parse_query

    chosen = _choose_format(fmt, as_json, output)
    _check_destination(output)
    if (hint := capital_m_hint(interval)) is not None:
        _note(f"note: {hint}")
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
    limits = _limits(memory_limit, temp_dir)
    with _open_source(events, db, users, limits, engine, spark_remote, query) as source:
        result = core.run(query, source)
    _emit(result.report, chosen, output, top=top, color=color)
    _tell_diagnostics(result)
    if verbose:
        where = "the files" if events else "the store"
        what = "15-minute rollups" if result.answered_by == "rollups" else "events"
        _note(f"answered from the {what} of {where}")


# --------------------------------------------------------------------------- the store


@app.command("ingest")
def ingest_command(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Event files (Parquet, CSV), globs, directories, or - for CSV on stdin.",
            show_default=False,
        ),
    ],
    db: DbOption = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Refuse the whole run (exit 1) if any row is invalid."),
    ] = False,
    as_json: CountsJsonOption = False,
    wait: WaitOption = 30.0,
    memory_limit: MemoryLimitOption = None,
    temp_dir: TempDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Add event files to the store: new events are kept, duplicates skipped.

    One transaction: if any file fails, the store is left as it was. Invalid
    rows are kept in the store's rejects table. Example: activity-report ingest
    /var/log/coder/activity/ --db ~/activity.duckdb
    """
    from .store import Store

    if as_json:
        _require_stdout("the counts")
    limits = _limits(memory_limit, temp_dir)
    with (
        Store.open(_store_path(db), limits=limits, wait=wait) as store,
        _ingest_progress() as progress,
    ):
        result = store.ingest(paths, strict=strict, progress=progress)
    if as_json:
        _print_json(result.to_dict(), done="the ingest is committed")
    files = f"{len(result.files)} file{'s' if len(result.files) != 1 else ''}"
    _note(
        f"ingested {files} into {result.path}: {_plural(result.rows, 'row')}, {result.new} new, "
        f"{_plural(result.duplicates, 'duplicate')}, {result.rejected} rejected"
    )
    # Only what this run added: a nightly re-ingest of the same files stays quiet.
    if result.kept_rejects:
        _note(
            f"warning: kept {_plural(result.kept_rejects, 'invalid row')} in the store's "
            f"rejects table ({result.diagnostics.describe()}); --strict refuses such a run"
        )
    if result.new_unknown:
        _warn_unknown_values(sum(n for _, n in result.new_unknown), result.new_unknown[:5])


@app.command("info")
def info_command(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print it as a JSON object.")] = False,
    memory_limit: MemoryLimitOption = None,
    temp_dir: TempDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Show what the store holds: events, time span, categories, organizations, users.

    Example: activity-report info --json | jq .events
    """
    from .store import Store

    _require_stdout("what the store holds")
    limits = _limits(memory_limit, temp_dir)
    with Store.open(_store_path(db), read_only=True, limits=limits) as store:
        info = store.info()
    if as_json:
        _print_json(info.to_dict())
        return
    _show_info(info)


users_app = typer.Typer(
    name="users",
    rich_markup_mode=None,
    help="The store's user directory: reports name users from it.",
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(users_app)


@users_app.command("import")
def users_import_command(
    file: Annotated[
        str, typer.Argument(help="User directory: CSV, Parquet or JSON.", show_default=False)
    ],
    db: DbOption = None,
    as_json: CountsJsonOption = False,
    wait: WaitOption = 30.0,
    memory_limit: MemoryLimitOption = None,
    temp_dir: TempDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Load a user directory into the store; users already there are updated.

    Reports from the store then name users without --users. Example:
    activity-report users import sample_data/users.csv
    """
    from .store import Store

    if as_json:
        _require_stdout("the counts")
    limits = _limits(memory_limit, temp_dir)
    with Store.open(_store_path(db), limits=limits, wait=wait) as store:
        result = store.import_users(file)
    if as_json:
        _print_json(result.to_dict(), done="the import is committed")
    _note(
        f"imported {_plural(result.users, 'user')} into {result.path}: {result.added} added, "
        f"{result.updated} updated, {result.unchanged} unchanged"
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
    from .event_source import open_files, open_store
    from .reporting import to_micros

    if engine is Engine.spark:
        if not events:
            raise UsageError("--engine spark reads --events (files, folders or URLs), not a store")
        from .backends import spark

        return contextlib.nullcontext(
            spark.open_source(
                events,
                users_file=users,
                remote=spark_remote,
                start_us=None if query.start is None else to_micros(query.start),
                end_us=None if query.end is None else to_micros(query.end),
                heartbeat_us=query.heartbeat_us,
            )
        )
    if events:
        return open_files(events, users_file=users, limits=limits)
    return open_store(_store_path(db), users_file=users, limits=limits)


@users_app.command("list")
def users_list_command(
    db: DbOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print them as a JSON array of objects.")
    ] = False,
    debug: DebugOption = False,
) -> None:
    """List the users in the store's directory, by id.

    Example: activity-report users list --json | jq -r '.[].username'
    """
    from .store import Store

    with Store.open(_store_path(db), read_only=True) as store:
        users = list(store.users().values())
    if as_json:
        _print_json([dataclasses.asdict(u) | {"roles": list(u.roles)} for u in users])
    else:
        _show_users(users)
    if not users:
        _note("note: the store has no users; load them with `activity-report users import FILE`")


def _show_users(users: Sequence[Any]) -> None:
    """``users list`` for people: aligned columns on stdout, never cut (ids are long)."""
    if not users:
        return
    rows = [("id", "username", "name", "roles")]
    rows += [(u.id, u.username or "", u.name or "", ", ".join(u.roles)) for u in users]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        sys.stdout.write("  ".join([*cells, row[3]]).rstrip() + "\n")
    sys.stdout.flush()


def _limits(memory_limit: str | None, temp_dir: str | None) -> resources.Limits:
    """--memory-limit and --temp-dir, checked (usage errors name the option)."""
    return resources.Limits(
        resources.parse_memory_limit(memory_limit) if memory_limit is not None else None,
        resources.check_temp_dir(temp_dir) if temp_dir is not None else None,
    )


def _store_path(db: str | None) -> Path:
    from .store import check_store_path, default_path

    if db:
        check_store_path(db)  # as given: a Path would make s3://b/x into s3:/b/x
    return Path(db) if db else default_path()


def _print_json(value: object, *, done: str | None = None) -> None:
    """Print ``value`` on stdout as JSON.

    ``done`` says what the command has already changed for good: then a
    stdout that cannot be written (a full disk) is a warning, since the
    command did succeed, and the exit code must say so.
    """
    import json

    try:
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if done is None:
            raise DataError(f"cannot write to stdout: {reason}") from None
        _note(f"warning: {done}, but its counts could not be written to stdout: {reason}")


@contextlib.contextmanager
def _ingest_progress() -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress display on stderr, only where stderr is a terminal and NO_COLOR is unset."""
    if not _is_terminal(sys.stderr) or os.environ.get("NO_COLOR"):
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("ingest", total=None)

        def update(label: str, done: int, total: int) -> None:
            bar.update(task, description=f"ingest: {label}")

        yield update


def _show_info(info: Any) -> None:
    """``info`` for people: rich tables on stdout."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from .render.summary import printable
    from .store import iso_utc

    def count(n: int) -> str:
        return f"{n:,}"

    console = Console()
    span = (
        f"{iso_utc(info.first_event)} to {iso_utc(info.last_event)}"
        if info.events
        else "no events yet"
    )
    summary = (
        ("store", str(info.path)),
        ("size", f"{info.size_bytes / 1_048_576:.1f} MiB"),
        ("schema version", str(info.schema_version)),
        ("events", count(info.events)),
        ("time span", span),
        ("users", count(info.users)),
        ("rejects", count(info.rejects)),
        ("files ingested", count(info.ingested_files)),
        ("last ingest", iso_utc(info.last_ingest) or "never"),
    )
    for label, value in summary:  # one line each, never cut: paths are long
        line = Text.assemble((f"{label:<15}", "bold"), " ", printable(value))
        console.print(line, soft_wrap=True, highlight=False)
    for title, header, rows in (
        ("Events per category", "category", info.categories),
        ("Events per organization", "organization", info.organizations),
        ("Rejected rows", "problem", info.rejected_reasons),
    ):
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        table.add_column(header)
        table.add_column("rows" if header == "problem" else "events", justify="right")
        for name, n in rows:
            shown = "(none)" if name is None else printable(str(name))
            table.add_row(Text(shown), count(n))  # data is never markup
        console.print(table)


def _choose_format(fmt: Format | None, as_json: bool, output: Path | None) -> Format:
    """--json, else --format, else -o's extension, else the table.

    An -o extension the tool does not know is a usage error rather than a
    silent table: a cron job asking for ``report.xlsx`` should fail loudly.
    """
    if as_json and fmt is not None and fmt is not Format.json:
        raise UsageError(f"--json conflicts with --format {fmt.value}; give one of them")
    if as_json:
        return Format.json
    if fmt is not None:
        return fmt
    if output is None or is_stdout(output):
        return Format.table
    suffix = output.suffix.lower()
    if suffix in BY_EXTENSION:
        return BY_EXTENSION[suffix]
    what = f"the extension {output.suffix!r} is unknown" if suffix else "it has no extension"
    raise UsageError(
        f"-o {output}: {what}; use one of {', '.join(BY_EXTENSION)}, or give --format "
        "(table, json, ndjson, csv, markdown, html)"
    )


def _check_destination(output: Path | None) -> None:
    """Fail before the work, not after it, when the report cannot be written."""
    if is_stdout(output):
        _require_stdout("the report")
    else:
        assert output is not None
        check_target(output)


#: The standard streams that were closed when the run began (now /dev/null).
_CLOSED_STREAMS: set[str] = set()


def _guard_standard_streams() -> None:
    """Put /dev/null on a closed stdin, stdout or stderr, and remember it.

    Else the first file the run opens (the store, a temporary file) would get
    that descriptor, and writes meant for the stream would land in the file;
    and Python, finding stderr closed, would print warnings to stdout. A
    closed stderr then silences diagnostics (the exit code still tells); a
    closed stdout is an error wherever the run has something to write there.
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        _CLOSED_STREAMS.add(name)
        opened = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
        if opened != fd:
            os.dup2(opened, fd)
            os.close(opened)
        setattr(sys, name, open(fd, "r" if fd == 0 else "w", encoding="utf-8", closefd=False))


def _require_stdout(what: str) -> None:
    if "stdout" in _CLOSED_STREAMS:
        raise DataError(
            f"stdout is closed: nowhere to write {what}; redirect stdout (> FILE) or give -o FILE"
            if what == "the report"
            else f"stdout is closed: nowhere to write {what}; redirect stdout (> FILE)"
        )


def _emit(report: Any, fmt: Format, output: Path | None, *, top: int, color: ColorMode) -> None:
    """Write the report to stdout or to -o FILE (see :mod:`.output`).

    Only the table can carry ANSI codes: on stdout as --color and the terminal
    allow, in a file only with --color always.
    """
    if fmt is Format.table:
        from .render.table import make_console
        from .render.table import render as render_table

        if is_stdout(output):
            console = make_console(sys.stdout, color=color, is_terminal=_is_terminal(sys.stdout))
            render_table(report, console, top=top)
            return
        assert output is not None
        with open_output(output) as handle:
            render_table(report, make_console(handle, color=color, is_terminal=False), top=top)
        return
    from .render import writer

    write = writer(fmt, top=top)
    if is_stdout(output):
        try:
            write(report, sys.stdout)
            sys.stdout.flush()
        except OSError as exc:
            raise DataError(f"cannot write the report to stdout: {exc.strerror or exc}") from None
        return
    assert output is not None
    with open_output(output) as handle:
        write(report, handle)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _tell_diagnostics(result: Any) -> None:
    diagnostics = result.diagnostics
    if diagnostics.invalid_rows:
        _note(
            f"warning: skipped {_plural(diagnostics.invalid_rows, 'invalid row')} "
            f"({diagnostics.describe()}); --strict makes this an error"
        )
    _warn_unknown(diagnostics)
    for warning in result.warnings:
        _note(f"warning: {warning}")
    for note in result.notes:
        _note(f"note: {note}")


def _warn_unknown(diagnostics: Any) -> None:
    if diagnostics.unknown_rows:
        _warn_unknown_values(diagnostics.unknown_rows, diagnostics.unknown_values)


def _warn_unknown_values(rows: int, values: Sequence[tuple[str, int]]) -> None:
    common = ", ".join(f"{value!r} ({n})" for value, n in values)
    has = "has" if rows == 1 else "have"
    _note(
        f"warning: {_plural(rows, 'event')} {has} an unknown category and "
        f"{'is' if rows == 1 else 'are'} in no report; commonest: {common}"
    )


def _plural(n: int, noun: str) -> str:
    """``1 invalid row``, ``2 invalid rows``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _note(message: str) -> None:
    sys.stdout.flush()
    print(f"{PROG}: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: run the app, return its exit code."""
    _guard_standard_streams()
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    resources.install_interrupt_handler()  # Ctrl-C stops DuckDB's queries too
    try:
        command.main(args=list(sys.argv[1:] if argv is None else argv), prog_name=PROG)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def run_guarded(invoke: Callable[[], object], args: Sequence[str]) -> int:
    """Run the parsed command; turn every failure into one line and an exit code.

    This is the one place where errors meet the user (STYLE.md): typed core
    errors keep their exit code, click's usage errors are 2, an interrupt is
    130, and anything unexpected is 1 without a traceback unless --debug.
    """
    debug = "--debug" in args
    resources.begin_run()
    try:
        outcome = invoke()
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        return _interrupted()
    except click.ClickException as exc:
        if debug:
            raise
        return _fail(_click_message(exc), 2)
    except ActivityReportError as exc:
        if resources.was_interrupted():  # a query stopped by Ctrl-C fails as it can
            return _interrupted()
        if debug:
            raise
        return _fail(exc.render(flag_name), exc.exit_code)
    except Exception as exc:  # the last line of defence: no traceback without --debug
        if resources.was_interrupted():
            return _interrupted()
        if debug:
            raise
        known = resources.explain(exc)  # DuckDB out of memory or disk: say what to change
        if known is not None:
            return _fail(str(known), known.exit_code)
        return _fail(
            f"unexpected {type(exc).__name__}: {_one_line(str(exc))} (rerun with "
            "--debug for a traceback)",
            1,
        )
    finally:
        from .sources import cleanup_temp_files

        cleanup_temp_files()
    # Not standalone, Typer returns an Exit's code instead of raising it, and
    # turns a KeyboardInterrupt inside the command into Exit(130).
    if outcome == 130 or resources.was_interrupted():  # a Ctrl-C DuckDB let finish
        return _interrupted()
    done = resources.what_was_committed()
    if done and resources.was_held():
        _note(f"note: interrupted during the commit, which finished: {done}")
    return outcome if isinstance(outcome, int) else 0


_EXTRA_ARGS = re.compile(r"Got unexpected extra arguments? \((.*)\)", re.DOTALL)
_NOT_ONE_OF = re.compile(r"(.*) is not one of (.*)\.", re.DOTALL)
_NOT_A_NUMBER = re.compile(r"(.*?) is not (?:in the range|a valid integer)", re.DOTALL)


def _click_message(exc: click.ClickException) -> str:
    """click's own errors in the tool's words: lower-case, options unquoted, the fix named."""
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    path = ctx.command_path if ctx is not None else PROG
    if isinstance(exc, click.MissingParameter) and exc.param is not None:
        name = exc.param.human_readable_name
        if isinstance(exc.param, click.Argument):
            return f"missing argument {name.rstrip('.')}: see `{path} --help`"
        return f"missing option {_option_name(exc.param)}: see `{path} --help`"
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        return _bad_value(exc)
    if isinstance(exc, click.NoSuchOption):
        near = sorted(exc.possibilities or ())
        hint = f" (did you mean {' or '.join(near)}?)" if near else ""
        return f"no such option: {exc.option_name}{hint}; see `{path} --help`"
    if isinstance(exc, click.BadOptionUsage) and "requires an argument" in exc.message:
        return f"{exc.option_name} needs a value" + (f"; see `{path} --help`" if ctx else "")
    extra = _EXTRA_ARGS.fullmatch(exc.message.strip())
    if extra is not None:
        return _extra_arguments(extra[1].split(), ctx)
    if ctx is not None and isinstance(ctx.command, click.Group):
        names = ", ".join(sorted(ctx.command.list_commands(ctx)))
        if exc.message.startswith("Missing command"):
            return f"{path} needs a command: {names}"
        if exc.message.startswith("No such command"):
            given = exc.message.removeprefix("No such command ").rstrip(".")
            return f"no such command {given} for {path}: use one of {names}"
    text = _one_line(exc.format_message()).rstrip(".")
    text = re.sub(r"'(-{1,2}[\w-]+)'", r"\1", text)
    return text[:1].lower() + text[1:]


def _option_name(param: click.Parameter) -> str:
    """An option's long name (``--format``), else its only one."""
    return max(param.opts, key=len) if param.opts else param.human_readable_name


def _bad_value(exc: click.BadParameter) -> str:
    """``invalid value for --format: 'xml' (use one of table, json, ...)``, as the core says it."""
    assert exc.param is not None
    name = _option_name(exc.param)
    kind = exc.param.type
    message = exc.message.strip()
    if isinstance(kind, click.Choice) and (match := _NOT_ONE_OF.fullmatch(message)):
        choices = ", ".join(str(c) for c in kind.choices)
        return f"invalid value for {name}: {match[1]} (use one of {choices})"
    if isinstance(kind, click.IntRange | click.types.IntParamType) and (
        match := _NOT_A_NUMBER.match(message)
    ):
        value = match[1].strip("'")
        least = getattr(kind, "min", None)
        forms = "a whole number" + (f" of {least} or more" if least is not None else "")
        return f"invalid value for {name}: {value!r} (use {forms})"
    return f"invalid value for {name}: {_one_line(message).rstrip('.')}"


def _extra_arguments(extra: list[str], ctx: click.Context | None) -> str:
    """Words no option took: most often the files of a glob the shell expanded."""
    shown = repr(extra[0]) + (f" and {len(extra) - 1} more" if len(extra) > 1 else "")
    if ctx is None or ctx.command.name != "report":
        path = ctx.command_path if ctx is not None else PROG
        return f"unexpected argument {shown}: see `{path} --help`"
    first = Path(extra[0])
    if first.exists() or len(extra) > 1:
        suffix = "".join(first.suffixes) if first.suffix else ""
        glob = str(first.parent / f"*{suffix}") if first.parent != Path() else f"*{suffix}"
        return (
            f"unexpected argument {shown}: quote a glob (--events '{glob}') "
            "or repeat --events for each file"
        )
    root = ctx.find_root()
    names = root.command.list_commands(root) if isinstance(root.command, click.Group) else []
    return f"unexpected argument {shown}: the commands are {', '.join(names)}"


def _interrupted() -> int:
    """An interrupt's message and exit code, which must tell the truth.

    An interrupt after a commit changes nothing any more: the run succeeded
    (exit 0) and says so; before it, nothing was changed (130, or 143 for
    SIGTERM).
    """
    done = resources.what_was_committed()
    if done:
        _note(f"note: interrupted after the commit: {done}")
        return 0
    return _fail(*resources.interruption())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str, code: int) -> int:
    sys.stdout.flush()
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


from .cli_server import register as _register_server  # noqa: E402

_register_server(app)
command = typer.main.get_command(app)
