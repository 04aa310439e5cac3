"""The store's commands: ``ingest``, ``info``, ``users import`` and ``users list``."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any

import typer

from ..errors import UsageError
from ..sources.coder import IDE_APPS_TEXT, ide_app_patterns
from .messages import note, plural, print_json, warn_unknown_values
from .options import (
    READING_OPTIONS,
    CategoryMapFileOption,
    CategoryMapOption,
    ColumnOption,
    ConfigOption,
    CountsJsonOption,
    DbOption,
    DebugOption,
    IdeAppsOption,
    InputTzOption,
    MemoryLimitOption,
    TempDirOption,
    TimeFormatOption,
    WaitOption,
    reading_from,
    resource_limits,
    store_path,
    typed,
)
from .report import from_env
from .runs import current
from .streams import is_terminal, require_stdout


def ingest_command(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Event files (Parquet, CSV, JSON Lines), globs, directories, or - for CSV "
            "on stdin.",
            show_default=False,
        ),
    ] = None,
    coder: Annotated[
        str | None,
        typer.Option(
            "--coder",
            help="Copy what is new in Coder's own PostgreSQL database, and its users, "
            "instead of files: postgresql://USER@HOST:PORT/DATABASE (a password from the "
            "URL, PGPASSFILE or PGPASSWORD). Run it nightly.",
            envvar="ACTIVITY_REPORT_CODER_URL",
            show_default=False,
        ),
    ] = None,
    ide_apps: IdeAppsOption = IDE_APPS_TEXT,
    db: DbOption = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Refuse the whole run (exit 1) if any row is invalid."),
    ] = False,
    column: ColumnOption = None,
    time_format: TimeFormatOption = "iso",
    input_tz: InputTzOption = "UTC",
    category_map: CategoryMapOption = None,
    category_map_file: CategoryMapFileOption = None,
    config: ConfigOption = None,
    as_json: CountsJsonOption = False,
    wait: WaitOption = 30.0,
    memory_limit: MemoryLimitOption = None,
    temp_dir: TempDirOption = None,
    debug: DebugOption = False,
) -> None:
    """Add event files, or what is new in Coder's database (--coder), to the store.

    New events are kept, duplicates skipped.

    One transaction: if any file fails, the store is left as it was. Invalid
    rows are kept in the store's rejects table. Example: activity-report ingest
    /var/log/coder/activity/ --db ~/activity.duckdb
    """
    from ..store import Store

    if as_json:
        require_stdout("the counts")
    reading = reading_from(column, time_format, input_tz, category_map, category_map_file)
    limits = resource_limits(memory_limit, temp_dir)
    if coder is not None and paths and from_env(ctx, "coder"):
        coder = None  # files named on the command line win over the variable
    if coder is not None:
        if paths:
            raise UsageError("ingest takes event files or --coder, not both")
        if typed(*READING_OPTIONS):
            raise UsageError(
                "{column}, {time_format}, {input_tz} and {category_map} say how to read event "
                "files; {coder} reads Coder's tables by their own mapping: drop them",
                params=("column", "time_format", "input_tz", "category_map", "coder"),
            )
        _ingest_coder(coder, ide_apps, store_path(db), limits, wait, as_json)
        return
    if typed("ide_apps"):
        raise UsageError(
            "{ide_apps} is for {coder}: the apps of Coder's database counted as IDE",
            params=("ide_apps", "coder"),
        )
    if not paths:
        raise UsageError(
            "missing argument PATHS (or --coder URL): see `activity-report ingest --help`"
        )
    with (
        Store.open(store_path(db), limits=limits, wait=wait, context=current()) as store,
        _ingest_progress() as progress,
    ):
        result = store.ingest(paths, strict=strict, progress=progress, reading=reading)
    if as_json:
        print_json(result.to_dict(), done="the ingest is committed")
    files = f"{len(result.files)} file{'s' if len(result.files) != 1 else ''}"
    note(
        f"ingested {files} into {result.path}: {plural(result.rows, 'row')}, {result.new:,} new, "
        f"{plural(result.duplicates, 'duplicate')}, {result.rejected:,} rejected"
    )
    # Only what this run added: a nightly re-ingest of the same files stays quiet.
    if result.kept_rejects:
        note(
            f"warning: kept {plural(result.kept_rejects, 'invalid row')} in the store's "
            f"rejects table ({result.diagnostics.describe()}); --strict refuses such a run"
        )
    if result.new_unknown:
        warn_unknown_values(sum(n for _, n in result.new_unknown), result.new_unknown[:5])


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
    from ..store import Store

    require_stdout("what the store holds")
    limits = resource_limits(memory_limit, temp_dir)
    with Store.open(store_path(db), read_only=True, limits=limits, context=current()) as store:
        info = store.info()
    if as_json:
        print_json(info.to_dict())
        return
    _show_info(info)


users_app = typer.Typer(
    name="users",
    rich_markup_mode=None,
    help="The store's user directory: reports name users from it.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


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
    from ..store import Store

    if as_json:
        require_stdout("the counts")
    limits = resource_limits(memory_limit, temp_dir)
    with Store.open(store_path(db), limits=limits, wait=wait, context=current()) as store:
        result = store.import_users(file)
    if as_json:
        print_json(result.to_dict(), done="the import is committed")
    note(
        f"imported {plural(result.users, 'user')} into {result.path}: {result.added:,} added, "
        f"{result.updated:,} updated, {result.unchanged:,} unchanged"
    )


orgs_app = typer.Typer(
    name="orgs",
    rich_markup_mode=None,
    help="The store's organization directory: reports name organizations from it.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


@orgs_app.command("import")
def orgs_import_command(
    file: Annotated[
        str,
        typer.Argument(
            help="Organization directory: CSV, Parquet or JSON with id and name.",
            show_default=False,
        ),
    ],
    db: DbOption = None,
    as_json: CountsJsonOption = False,
    wait: WaitOption = 30.0,
    debug: DebugOption = False,
) -> None:
    """Load an organization directory into the store; organizations already there are renamed.

    Reports from the store then name organizations, and --org takes a name.
    Example: activity-report orgs import orgs.csv
    """
    from ..store import Store

    if as_json:
        require_stdout("the counts")
    with Store.open(store_path(db), wait=wait, context=current()) as store:
        result = store.import_orgs(file)
    if as_json:
        print_json(result.to_dict(), done="the import is committed")
    note(
        f"imported {plural(result.orgs, 'organization')} into {result.path}: "
        f"{result.added:,} added, {result.updated:,} updated, {result.unchanged:,} unchanged"
    )


@orgs_app.command("list")
def orgs_list_command(
    db: DbOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print them as a JSON object, id -> name.")
    ] = False,
    debug: DebugOption = False,
) -> None:
    """List the organizations in the store's directory, by id.

    Example: activity-report orgs list --json
    """
    from ..store import Store

    with Store.open(store_path(db), read_only=True, context=current()) as store:
        orgs = store.orgs()
    if as_json:
        print_json(orgs)
        return
    width = max((len(oid) for oid in orgs), default=0)
    for oid, name in orgs.items():
        sys.stdout.write(f"{oid.ljust(width)}  {name}\n")
    sys.stdout.flush()
    if not orgs:
        note(
            "note: the store has no organizations; load them with "
            "`activity-report orgs import FILE`"
        )


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
    from ..store import Store

    with Store.open(store_path(db), read_only=True, context=current()) as store:
        users = list(store.users().values())
    if as_json:
        print_json([dataclasses.asdict(u) | {"roles": list(u.roles)} for u in users])
    else:
        _show_users(users)
    if not users:
        note("note: the store has no users; load them with `activity-report users import FILE`")


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


def _ingest_coder(
    url: str, ide_apps: str, path: Any, limits: Any, wait: float, as_json: bool
) -> None:
    """``ingest --coder``: the events through the file ingest, then the users and
    organizations."""
    from ..coder import ingest_coder

    with _ingest_progress() as progress:
        result, users, orgs = ingest_coder(
            path,
            url,
            ide_apps=ide_app_patterns(ide_apps),
            limits=limits,
            wait=wait,
            context=current(),
            progress=progress,
        )
    if as_json:
        print_json(
            {**result.to_dict(), "users": users.to_dict(), "organizations": orgs.to_dict()},
            done="the ingest is committed",
        )
    note(
        f"ingested Coder's database into {result.path}: {plural(result.rows, 'active minute')} "
        f"read, {result.new:,} new; {plural(users.users, 'user')}, "
        f"{plural(orgs.orgs, 'organization')}"
    )
    if result.new_unknown:
        warn_unknown_values(sum(n for _, n in result.new_unknown), result.new_unknown[:5])


@contextlib.contextmanager
def _ingest_progress() -> Iterator[Callable[[str, int, int], None] | None]:
    """A progress display on stderr, only where stderr is a terminal and NO_COLOR is unset."""
    if not is_terminal(sys.stderr) or os.environ.get("NO_COLOR"):
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

    from ..render.summary import printable
    from ..store import iso_utc

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
        ("made by", info.created_by or "unknown"),
        ("written by", info.written_by or "a release before 0.2.0"),
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
        named = header == "organization" and bool(info.org_names)
        table = Table(title=title, title_justify="left")
        table.add_column(header)
        if named:
            table.add_column("name")
        table.add_column("rows" if header == "problem" else "events", justify="right")
        for key, n in rows:
            cells = ["(none)" if key is None else printable(str(key))]
            if named:
                cells.append(printable(info.org_names.get(str(key), "")))
            table.add_row(*(Text(cell) for cell in cells), count(n))  # data is never markup
        console.print(table)
