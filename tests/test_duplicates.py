"""One log, one answer: the store and the event files count repeated events alike.

The rule, in both paths: rows sharing an id are one event; id-less rows with
equal content (however spelled) are copies, and each content counts as many
times as the one file that holds it most often.
"""

from __future__ import annotations

import csv
import json
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import run_cli

BASE = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
HEADER = ("id", "time", "user_id", "category", "organization_id", "end_time")


@dataclass(frozen=True)
class Event:
    minute: int
    user: str
    category: str
    org: str | None
    length: int | None  # minutes of explicit coverage, else the heartbeat
    event_id: str | None


def spell_time(moment: datetime, style: int) -> str:
    if style == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 1:
        return moment.isoformat()  # +00:00
    return moment.strftime("%Y-%m-%d %H:%M:%S") + "+00:00"


def spell_category(category: str, style: int) -> str:
    return (category, category.upper(), category.title())[style]


def row(event: Event, style: int) -> tuple[str, ...]:
    start = BASE + timedelta(minutes=event.minute, seconds=event.minute % 7)
    end = "" if event.length is None else spell_time(start + timedelta(minutes=event.length), style)
    return (
        event.event_id or "",
        spell_time(start, style),
        event.user,
        spell_category(event.category, style),
        event.org or "",
        end,
    )


def write(path: Path, rows: Sequence[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


events = st.builds(
    Event,
    minute=st.integers(0, 600),
    user=st.sampled_from(["u1", "u2", "u3"]),
    category=st.sampled_from(["ide", "login", "app"]),
    org=st.sampled_from([None, "o1", "o2"]),
    length=st.sampled_from([None, None, 0, 3, 45]),
    event_id=st.none(),
)


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[Event], list[int], random.Random]:
    """Distinct events (some with ids), each repeated 1-3 times, and a random seed."""
    chosen = draw(st.lists(events, min_size=1, max_size=30, unique=True))
    with_ids = draw(st.lists(st.booleans(), min_size=len(chosen), max_size=len(chosen)))
    chosen = [
        Event(e.minute, e.user, e.category, e.org, e.length, f"id-{i}" if flag else None)
        for i, (e, flag) in enumerate(zip(chosen, with_ids, strict=True))
    ]
    copies = draw(st.lists(st.integers(1, 3), min_size=len(chosen), max_size=len(chosen)))
    seed = draw(st.integers(0, 2**32))
    return chosen, copies, random.Random(seed)


def report(*args: str) -> str:
    run = run_cli(*args, "--interval", "1 hour", "--json")
    assert run.exit_code == 0, run.stderr
    return run.stdout


@pytest.mark.slow  # a log ingested in pieces per example
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(log=logs())
def test_a_log_in_random_pieces_counts_as_the_whole_log(
    log: tuple[list[Event], list[int], random.Random], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    chosen, copies, rng = log
    rows = [
        (event.minute, row(event, rng.randrange(3)))
        for event, n in zip(chosen, copies, strict=True)
        for _ in range(n)
    ]
    rng.shuffle(rows)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        whole = write(tmp / "whole.csv", [r for _, r in rows])
        # Split by time; some pieces overlap their neighbour.
        cuts = sorted(rng.sample(range(1, 600), rng.randrange(0, 4)))
        edges = [0, *cuts, 601]
        pieces = []
        for index, (low, high) in enumerate(zip(edges, edges[1:], strict=False)):
            if rng.random() < 0.3:
                high = min(601, high + rng.randrange(1, 60))
            chosen_rows = [r for minute, r in rows if low <= minute < high]
            pieces.append(write(tmp / f"piece-{index}.csv", chosen_rows))
        order = pieces + rng.sample(pieces, rng.randrange(0, len(pieces) + 1))
        rng.shuffle(order)
        db = tmp / "store.duckdb"
        at = 0
        while at < len(order):  # runs of one or two files
            run = order[at : at + rng.randrange(1, 3)]
            at += len(run)
            ingested = run_cli("ingest", "--db", str(db), *map(str, run), "--json")
            assert ingested.exit_code == 0, ingested.stderr
            counts = json.loads(ingested.stdout)
            assert counts["rows"] == counts["new"] + counts["duplicates"] + counts["rejected"]
        expected = report("--events", str(whole))
        assert report("--db", str(db)) == expected
        # The files path keeps the same rule across the pieces, repeats and all.
        separate = [arg for piece in order for arg in ("--events", str(piece))]
        assert report(*separate) == expected
        # One file's repeats are events: the whole log counts every copy.
        total = sum(1 if event.event_id else n for event, n in zip(chosen, copies, strict=True))
        assert sum(u["total_count"] for u in json.loads(expected)["users"].values()) == total


def test_an_ingest_of_rows_that_all_have_ids_keeps_one_per_id_however_spelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every row has an id, so the run finds repeats among the raw ids' hashes:
    # " e1 " and "\u00a0e3" are e1 and e3 once trimmed, and the invalid row's
    # e2 only sends e2 through the exact comparison.
    monkeypatch.delenv("ACTIVITY_REPORT_DB", raising=False)
    log = write(
        tmp_path / "ids.csv",
        [
            ("e1", "2024-03-01T08:00:00Z", "u1", "ide", "", ""),
            (" e1 ", "2024-03-01T09:00:00Z", "u1", "ide", "", ""),
            ("e2", "lunchtime", "u1", "ide", "", ""),
            ("e2", "2024-03-01T10:00:00Z", "u2", "app", "", ""),
            ("\u00a0e3", "2024-03-01T11:00:00Z", "u2", "ide", "", ""),
            ("e3", "2024-03-01T12:00:00Z", "u2", "ide", "", ""),
        ],
    )
    db = tmp_path / "store.duckdb"
    ingested = run_cli("ingest", "--db", str(db), str(log), "--json")
    assert ingested.exit_code == 0, ingested.stderr
    counts = json.loads(ingested.stdout)
    assert (counts["rows"], counts["new"], counts["duplicates"], counts["rejected"]) == (6, 3, 2, 1)
    assert report("--db", str(db)) == report("--events", str(log))
