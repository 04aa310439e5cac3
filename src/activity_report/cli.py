"""The command line: options in, one core call, a renderer out, an exit code.

Errors raised by the core are typed (:mod:`.errors`) and turned into one line
on stderr, and an exit code, in exactly one place: :func:`main`.
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import click
import typer
from typer.core import TyperGroup

from . import __version__, resources
from .errors import ActivityReportError, DataError, UsageError
from .render import DEFAULT_TOP, ColorMode, Format

PROG = "activity-report"

CATEGORY_CHOICES = ("any", "ide", "login", "app", "tunnel", "web_terminal")
SUFFIX_FORMATS = {
    ".json": Format.json,
    ".ndjson": Format.ndjson,
    ".jsonl": Format.ndjson,
    ".csv": Format.csv,
    ".md": Format.markdown,
    ".markdown": Format.markdown,
    ".txt": Format.table,
}

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
    --category ide`` are the same command (SPEC §7).
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
        if not args or (args[0] not in self.commands and args[0] not in top_level):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    name=PROG,
    cls=DefaultReportGroup,
    help="Usage reports from an activity event log, in the shape of Coder's Activity API."
    "\n\nRun `activity-report report --help` for the report's options."
    "\n\nExample: activity-report --events events.parquet --interval daily -o daily.csv",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,
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

    Run `activity-report report --help` for the report's options.
    """


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
        str, typer.Option(help="any, ide, login, app, tunnel or web_terminal.")
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
            "(a row per bucket and user), markdown. Default: table, or from -o's extension. "
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
            help="Write the report to FILE atomically (a temporary file, then a rename). "
            "Without --format, the extension picks it: .json, .ndjson/.jsonl, .csv, .md, "
            ".txt (table). Example: -o weekly.csv",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    top: Annotated[
        int,
        typer.Option(
            "--top",
            min=0,
            help="Users listed by the table and markdown: the N most active; 0 lists all. "
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
) -> None:
    """Report who was active, how often and for how long, per interval.

    Example: activity-report --events sample_data/events.parquet --start 2022-08-01
    --end 2022-08-31 --category ide --interval "1 week" --json
    """
    from . import report as core
    from .intervals import parse_heartbeat, parse_interval
    from .sources import CATEGORIES, normalise_category
    from .times import parse_instant, parse_tz

    chosen = _choose_format(fmt, as_json, output)
    if output is not None:
        _check_folder(output)
    zone = parse_tz(tz)
    now = datetime.now(UTC)
    label = normalise_category(category)
    if label not in CATEGORY_CHOICES:
        raise UsageError(
            f"invalid value for --category: {category!r} (use one of {', '.join(CATEGORY_CHOICES)})"
        )
    request = core.ReportRequest(
        interval=parse_interval(interval),
        tz=zone,
        tz_name=tz,
        events=list(events or ()),
        db=db,
        users_file=users,
        start=parse_instant(start, tz=zone, now=now, option="--start")
        if start is not None
        else None,
        end=parse_instant(end, tz=zone, now=now, option="--end") if end is not None else None,
        categories=CATEGORIES if label == "any" else (label,),
        category_label=label,
        orgs=org or None,
        users=user or None,
        heartbeat_us=parse_heartbeat(heartbeat).micros,
        max_buckets=max_buckets,
        strict=strict,
        memory_limit=_limits(memory_limit, temp_dir).memory_limit,
        temp_dir=_limits(memory_limit, temp_dir).temp_dir,
        engine=engine.value,
        spark_remote=spark_remote if engine is Engine.spark else None,
    )
    result = core.run(request)
    _emit(result.report, chosen, output, top=top, color=color)
    _tell_diagnostics(result)


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

    limits = _limits(memory_limit, temp_dir)
    with Store.open(_store_path(db), limits=limits) as store, _ingest_progress() as progress:
        result = store.ingest(paths, strict=strict, progress=progress)
    if as_json:
        _print_json(result.to_dict())
    files = f"{len(result.files)} file{'s' if len(result.files) != 1 else ''}"
    _note(
        f"ingested {files} into {result.path}: {result.rows} rows, {result.new} new, "
        f"{result.duplicates} duplicates, {result.rejected} rejected"
    )
    diagnostics = result.diagnostics
    if diagnostics.invalid_rows:
        _note(
            f"warning: kept {diagnostics.invalid_rows} invalid rows in the store's rejects "
            f"table ({diagnostics.describe()}); --strict refuses such a run"
        )
    _warn_unknown(diagnostics)


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

    limits = _limits(memory_limit, temp_dir)
    with Store.open(_store_path(db), read_only=True, limits=limits) as store:
        info = store.info()
    if as_json:
        _print_json(info.to_dict())
        return
    _show_info(info)


users_app = typer.Typer(
    name="users",
    help="The store's user directory (SPEC §6): reports name users from it.",
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
    memory_limit: MemoryLimitOption = None,
    temp_dir: TempDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Load a user directory into the store; users already there are updated.

    Reports from the store then name users without --users. Example:
    activity-report users import sample_data/users.csv
    """
    from .store import Store

    with Store.open(_store_path(db), limits=_limits(memory_limit, temp_dir)) as store:
        result = store.import_users(file)
    if as_json:
        _print_json(result.to_dict())
    _note(
        f"imported {result.users} users into {result.path}: {result.added} added, "
        f"{result.updated} updated, {result.unchanged} unchanged"
    )


def _limits(memory_limit: str | None, temp_dir: str | None) -> Any:
    """--memory-limit and --temp-dir, checked (usage errors name the option)."""
    return resources.Limits(
        resources.parse_memory_limit(memory_limit) if memory_limit is not None else None,
        resources.check_temp_dir(temp_dir) if temp_dir is not None else None,
    )


def _store_path(db: str | None) -> Path:
    from .store import default_path

    return Path(db) if db else default_path()


def _print_json(value: object) -> None:
    import json

    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


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
    from rich.markup import escape
    from rich.table import Table

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
        console.print(f"[bold]{label:<15}[/bold] {escape(value)}", soft_wrap=True, highlight=False)
    for title, header, rows in (
        ("Events per category", "category", info.categories),
        ("Events per organization", "organization", info.organizations),
        ("Rejected rows", "problem", info.reject_reasons),
    ):
        if not rows:
            continue
        table = Table(title=title, title_justify="left")
        table.add_column(header)
        table.add_column("rows" if header == "problem" else "events", justify="right")
        for name, n in rows:
            table.add_row("(none)" if name is None else str(name), count(n))
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
    if output is None:
        return Format.table
    suffix = output.suffix.lower()
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    what = f"the extension {output.suffix!r} is unknown" if suffix else "it has no extension"
    raise UsageError(
        f"-o {output}: {what}; use one of {', '.join(SUFFIX_FORMATS)}, or give --format "
        "(table, json, ndjson, csv, markdown)"
    )


def _check_folder(output: Path) -> None:
    """Fail before the work, not after it, when -o's folder is missing."""
    folder = output.parent
    if not folder.is_dir():
        raise UsageError(f"-o {output}: the folder {folder} does not exist; create it first")


def _emit(report: Any, fmt: Format, output: Path | None, *, top: int, color: ColorMode) -> None:
    """Write the report to stdout or, atomically, to -o FILE.

    Only the table can carry ANSI codes: on stdout as --color and the terminal
    allow, in a file only with --color always.
    """
    if fmt is Format.table:
        from .render.table import make_console
        from .render.table import render as render_table

        if output is None:
            console = make_console(sys.stdout, color=color, is_terminal=_is_terminal(sys.stdout))
            render_table(report, console, top=top)
            return
        with _atomic_text(output) as handle:
            render_table(report, make_console(handle, color=color, is_terminal=False), top=top)
        return
    from .render import writer

    write = writer(fmt, top=top)
    if output is None:
        write(report, sys.stdout)
        sys.stdout.flush()
        return
    with _atomic_text(output) as handle:
        write(report, handle)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@contextlib.contextmanager
def _atomic_text(path: Path) -> Iterator[TextIO]:
    """Write FILE via a temporary file in the same folder and a rename.

    A reader, or a cron job that dies half way, never sees a partial report:
    on any error or an interrupt the temporary file is removed and FILE is
    left as it was. The new file keeps an existing FILE's permissions, else
    gets the usual ones (0666 less the umask).
    """
    folder = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise DataError(f"-o {path}: cannot create a file in {folder}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise DataError(f"-o {path}: cannot write it: {exc.strerror or exc}") from None
        raise


def _file_mode(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _tell_diagnostics(result: Any) -> None:
    diagnostics = result.diagnostics
    if diagnostics.invalid_rows:
        _note(
            f"warning: skipped {diagnostics.invalid_rows} invalid rows "
            f"({diagnostics.describe()}); --strict makes this an error"
        )
    _warn_unknown(diagnostics)
    for note in result.notes:
        _note(f"note: {note}")


def _warn_unknown(diagnostics: Any) -> None:
    if diagnostics.unknown_rows:
        common = ", ".join(f"{value!r} ({n})" for value, n in diagnostics.unknown_values)
        _note(
            f"warning: {diagnostics.unknown_rows} events have an unknown category and are "
            f"in no report; commonest: {common}"
        )


def _note(message: str) -> None:
    sys.stdout.flush()
    print(f"{PROG}: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: run the app, return its exit code."""
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
    try:
        outcome = invoke()
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        return _fail("interrupted", 130)
    except click.ClickException as exc:
        if debug:
            raise
        return _fail(_one_line(exc.format_message()), 2)
    except ActivityReportError as exc:
        if resources.was_interrupted():  # a query stopped by Ctrl-C fails as it can
            return _fail("interrupted", 130)
        if debug:
            raise
        return _fail(str(exc), exc.exit_code)
    except Exception as exc:  # the last line of defence: no traceback without --debug
        if resources.was_interrupted():
            return _fail("interrupted", 130)
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
        return _fail("interrupted", 130)
    return outcome if isinstance(outcome, int) else 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _fail(message: str, code: int) -> int:
    sys.stdout.flush()
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


command = typer.main.get_command(app)
