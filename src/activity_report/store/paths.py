"""Where the store lives when neither ``--db`` nor the environment says."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

APP_DIR = "activity-report"
DEFAULT_NAME = "events.duckdb"
ENV_VAR = "ACTIVITY_REPORT_DB"


def default_path(
    env: Mapping[str, str] | None = None, platform: str | None = None, home: Path | None = None
) -> Path:
    """Where the store lives when neither ``--db`` nor ``ACTIVITY_REPORT_DB`` says.

    Linux and other Unix: ``$XDG_DATA_HOME/activity-report/events.duckdb``,
    ``~/.local/share/activity-report/events.duckdb`` when XDG_DATA_HOME is unset
    or not absolute (the XDG Base Directory rule). macOS:
    ``~/Library/Application Support/activity-report/events.duckdb``. Windows:
    ``%LOCALAPPDATA%\\activity-report\\events.duckdb``.
    """
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path.home() if home is None else home
    if platform == "win32" and env.get("LOCALAPPDATA"):
        base = Path(env["LOCALAPPDATA"])
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_DATA_HOME", "")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else home / ".local" / "share"
    return base / APP_DIR / DEFAULT_NAME
