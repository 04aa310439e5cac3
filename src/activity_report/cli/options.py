"""Options several commands share, and the core values they become."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .. import resources
from .runs import set_debug

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
