"""Options several commands share, and the core values they become."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import click
import typer

from .. import resources
from ..render import ColorMode
from .runs import set_debug

if TYPE_CHECKING:
    from ..sources import Reading

DB_DEFAULT = (
    "Default: $XDG_DATA_HOME/activity-report/events.duckdb, "
    "else ~/.local/share/activity-report/events.duckdb."
)
DB_HELP = "The store (a DuckDB file). " + DB_DEFAULT
DbOption = Annotated[
    str | None,
    typer.Option("--db", help=DB_HELP, envvar="ACTIVITY_REPORT_DB", show_default=False),
]
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Show tracebacks for errors.", callback=set_debug)
]
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


# --------------------------------------------------------------------------- reports
# The options the report and the seats share, written once.


class Engine(enum.StrEnum):
    duckdb = "duckdb"
    spark = "spark"


def complete_category(incomplete: str) -> list[str]:
    from ..query import CATEGORY_CHOICES

    return [name for name in CATEGORY_CHOICES if name.startswith(incomplete.lower())]


EventsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--events",
        help="Event file (Parquet, CSV, JSON Lines), glob, directory, or - for CSV on "
        "stdin. Repeatable.",
        envvar="ACTIVITY_REPORT_EVENTS",
        show_default=False,
    ),
]
ReportDbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="The store to read when no --events is given. " + DB_DEFAULT,
        envvar="ACTIVITY_REPORT_DB",
        show_default=False,
    ),
]
CategoryOption = Annotated[
    str,
    typer.Option(
        help="any, ide, login, app, tunnel or web_terminal.",
        autocompletion=complete_category,
    ),
]
OrgOption = Annotated[
    list[str] | None,
    typer.Option(
        "--org", help="Only this organization id or name. Repeatable.", show_default=False
    ),
]
HeartbeatOption = Annotated[
    str, typer.Option(help="Coverage of an event without an end or duration.")
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Fail (exit 1) if any row is invalid.")
]
ColorOption = Annotated[
    ColorMode,
    typer.Option(
        "--color",
        case_sensitive=False,
        help="Colour in the table: auto (a terminal, unless NO_COLOR is set), always, "
        "never. Other formats never have any. Example: --color never",
    ),
]
EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        case_sensitive=False,
        help="What computes the report: duckdb (on this machine) or spark (Apache "
        "Spark, for event logs in a data lake; needs pip install "
        "'pyspark[connect]>=4,<5'). Same output. Example: --engine spark",
    ),
]
SparkRemoteOption = Annotated[
    str | None,
    typer.Option(
        "--spark-remote",
        help="With --engine spark: the Spark Connect server to run on. Default: a "
        "local Spark. Example: --spark-remote sc://spark-host:15002",
        envvar="SPARK_REMOTE",
        show_default=False,
    ),
]
IdeAppsOption = Annotated[
    str,
    typer.Option(
        "--ide-apps",
        help="With --coder: the apps counted as IDE, by slug or display name "
        "(comma-separated, case-insensitive globs); every other app is App.",
    ),
]


def resource_limits(memory_limit: str | None, temp_dir: str | None) -> resources.Limits:
    """--memory-limit and --temp-dir, checked (usage errors name the option)."""
    return resources.Limits(
        resources.parse_memory_limit(memory_limit) if memory_limit is not None else None,
        resources.check_temp_dir(temp_dir) if temp_dir is not None else None,
    )


def store_path(db: str | None) -> Path:
    """--db as given, checked (``~`` expanded), else the default store."""
    from ..store import check_store_path, default_path

    if db:
        check_store_path(db)  # as given: a Path would make s3://b/x into s3:/b/x
    return Path(db).expanduser() if db else default_path()


# --------------------------------------------------------------------------- your own log

ColumnOption = Annotated[
    list[str] | None,
    typer.Option(
        "--column",
        metavar="FIELD=NAME",
        help="Which column holds a field, when the built-in names do not find it. FIELD: "
        "time, user, category, org, end, duration_s, duration_ms, duration_us, duration_ns "
        "or id. For JSON, NAME may be a dotted path (user=actor.id). Repeatable. "
        "Example: --column time=createdAt",
        show_default=False,
    ),
]
TimeFormatOption = Annotated[
    str,
    typer.Option(
        "--time-format",
        metavar="FMT",
        help="How times (and end times) are written: iso, epoch-s, epoch-ms, epoch-us, "
        "epoch-ns, or a strptime pattern. Example: --time-format '%m/%d/%Y %I:%M %p'",
    ),
]
InputTzOption = Annotated[
    str,
    typer.Option(
        "--input-tz",
        metavar="ZONE",
        help="The zone of times written without an offset (an ambiguous time is its first "
        "occurrence; one the clock skips is an invalid row). Example: --input-tz "
        "America/New_York",
    ),
]
CategoryMapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--category-map",
        metavar="VALUE=CATEGORY",
        help="Count a category value as one of ide, login, app, tunnel, web_terminal. "
        "Repeatable. Example: --category-map ssh=tunnel",
        show_default=False,
    ),
]
CategoryMapFileOption = Annotated[
    str | None,
    typer.Option(
        "--category-map-file",
        metavar="FILE",
        help="A CSV file of value,category rows, as --category-map.",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    str | None,
    typer.Option(
        "--config",
        metavar="FILE",
        help="A TOML file of options by their long names (events, column, time-format...). "
        "Default: activity-report.toml in the current directory, if there is one. "
        "Options given here win over it.",
        show_default=False,
    ),
]


def reading_from(
    column: list[str] | None,
    time_format: str,
    input_tz: str,
    category_map: list[str] | None,
    category_map_file: str | None,
) -> Reading:
    """The reading options, checked (usage errors name the option)."""
    from ..sources import parse_reading

    return parse_reading(
        column=column,
        time_format=time_format,
        input_tz=input_tz,
        category_map=category_map,
        category_map_file=category_map_file,
    )


T = TypeVar("T")

#: The options that say how to read event files.
READING_OPTIONS = ("column", "time_format", "input_tz", "category_map", "category_map_file")


def typed(*names: str) -> bool:
    """Whether one of these parameters was typed on the command line (not taken from a
    variable, a config file or a default)."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and any(
        ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE for name in names
    )


def unless_db_typed(name: str, value: T) -> T | None:
    """``value`` of the source option ``name`` (``events``, ``coder``), or None if --db wins.

    A --db typed on the command line wins over a source from a variable or
    the config file (the report and the seats alike); one typed too is kept.
    """
    return None if typed("db") and not typed(name) else value
