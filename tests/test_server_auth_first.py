"""A request's token is checked before anything else, and no answer names a path or a process.

A real server on a loopback port, while this test process holds the store
for writing (as an ingest would): bad tokens get 401 without the store, and
the 503 of a good token says the store is busy without saying where or who.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import httpx
import pytest

from activity_report.server.public import redact

from .test_server import ACTIVITY, cli, start_server, stop

SECRET = "A" * 43


def _internals(text: str, db: Path) -> list[str]:
    """What a body must not carry: the store's path or folder, a process id."""
    found = [part for part in (str(db), str(db.parent)) if part in text]
    found += re.findall(r"process \d+|PID \d+", text)
    if str(os.getpid()) in text:
        found.append(str(os.getpid()))
    return found


@pytest.fixture
def served(tmp_path: Path) -> tuple[Path, str]:
    db = tmp_path / "store.duckdb"
    assert cli("ingest", str(Path("sample_data/events.parquet").resolve()), db=db).returncode == 0
    made = cli("tokens", "create", "--name", "first", db=db)
    assert made.returncode == 0, made.stderr
    return db, made.stdout.strip()


@pytest.mark.slow  # its own servers, and their read windows
def test_bad_tokens_are_refused_without_the_store_while_a_writer_holds_it(
    served: tuple[Path, str],
) -> None:
    import duckdb

    db, token = served
    token_id = token.split("_")[1]
    # A wait for the store far longer than a refusal takes even on a loaded machine.
    url, process = start_server(db, "--busy-timeout", "3")
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            assert http.get(ACTIVITY, headers={"Session-Token": token}).status_code == 200
            time.sleep(1.5)  # the server's read window closes
            writer = duckdb.connect(str(db))  # this process now holds the store
            try:
                bad = [
                    "nonsense",
                    "x" * 200,
                    f"ar_{token_id}_{SECRET}",  # a known id, a wrong secret
                    f"ar_0123456789_{SECRET}",  # an id no token has
                ]
                for presented in bad:
                    started = time.monotonic()
                    answer = http.get(ACTIVITY, headers={"Session-Token": presented})
                    assert answer.status_code == 401, (presented, answer.text)
                    assert time.monotonic() - started < 1.5  # not the 3 s wait for the store
                    assert answer.json()["detail"] == "the token is unknown, expired or revoked"
                    assert _internals(answer.text, db) == []
                metrics = http.get("/metrics", headers={"Session-Token": bad[2]})
                assert metrics.status_code == 401
                # a bad token and a bad query: the token is judged first
                both = http.get(ACTIVITY + "?interval=fortnight", headers={"Session-Token": bad[0]})
                assert both.status_code == 401
                busy = http.get(ACTIVITY + "?interval=day", headers={"Session-Token": token})
            finally:
                writer.close()
            assert busy.status_code == 503, busy.text
            assert busy.json()["detail"] == (
                "the store is in use by another process (an ingest, or a change of tokens or "
                "users); try again shortly"
            )
            assert _internals(busy.text, db) == []
    finally:
        code, log = stop(process)
    assert code == 0, log


@pytest.mark.slow  # its own servers, and their read windows
def test_a_token_made_while_the_server_runs_works_and_a_revoked_one_stops(
    served: tuple[Path, str],
) -> None:
    db, token = served
    url, process = start_server(db)
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            assert http.get(ACTIVITY, headers={"Session-Token": token}).status_code == 200
            made = cli("tokens", "create", "--name", "later", db=db)
            later = made.stdout.strip()
            assert http.get(ACTIVITY, headers={"Session-Token": later}).status_code == 200
            assert cli("tokens", "revoke", "later", db=db).returncode == 0
            assert http.get(ACTIVITY, headers={"Session-Token": later}).status_code == 401
            assert http.get(ACTIVITY, headers={"Session-Token": token}).status_code == 200
    finally:
        code, log = stop(process)
    assert code == 0, log


def test_redact_removes_paths_and_process_ids_but_not_urls_or_values() -> None:
    assert redact("/srv/ar/store.duckdb: the store is in use by process 16267; wait") == (
        "<path>: the store is in use by another process; wait"
    )
    assert redact("cannot read /srv/x/store.duckdb (PID 12)", "/srv/x/store.duckdb") == (
        "cannot read the store another process"
    )
    kept = "invalid value for interval: 'P1W/2'; see https://example.com/a/b, 1/2"
    assert redact(kept) == kept
