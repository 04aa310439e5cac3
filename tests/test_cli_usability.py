"""What a new user meets first: relative ranges, filters that match nothing, messages, help."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .conftest import SAMPLE, run_cli

PARQUET = SAMPLE / "events.parquet"
USERS = SAMPLE / "users.csv"


# --------------------------------------------------------------------------- relative ranges


def test_now_and_ago_give_buckets_on_calendar_boundaries(
    events_csv: Callable[..., Path],
) -> None:
    """A relative range never gives buckets at 21:51:29.858785, different on every run."""
    path = events_csv([("2022-08-01T10:00:00Z", "u1", "ide")])
    for interval, boundary in (("daily", "T00:00:00Z"), ("hourly", ":00:00Z")):
        run = run_cli(
            "--events", str(path), "--start", "3 days ago", "--end", "now",
            "--interval", interval, "--json",
        )  # fmt: skip
        assert run.exit_code == 0, run.stderr
        times = [bucket["time"] for bucket in json.loads(run.stdout)["activity"]]
        assert times
        assert all(time.endswith(boundary) for time in times), times
