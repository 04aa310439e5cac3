"""Stores for the Metrics view's tests: the sample data, or many users, with a token."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from starlette.testclient import TestClient

from activity_report.server import ServerConfig, create_app

from .conftest import SAMPLE, run_cli

ORIGIN = "http://testserver"


@dataclass(frozen=True)
class ServedStore:
    db: Path
    token: str


def _cli(*args: str) -> str:
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def sample_store(folder: Path) -> ServedStore:
    """The shipped sample events and users, and a new token."""
    db = folder / "events.duckdb"
    _cli("ingest", str(SAMPLE / "events.parquet"), "--db", str(db))
    _cli("users", "import", str(SAMPLE / "users.csv"), "--db", str(db))
    token = _cli("tokens", "create", "--name", "view-tests", "--db", str(db)).strip()
    return ServedStore(db, token)


def crowded_store(folder: Path, users: int = 1_000) -> ServedStore:
    """``users`` users, each with a few IDE events in August 2022; user i is busier than i+1."""
    events = folder / "crowd.csv"
    with events.open("w", newline="", encoding="utf-8") as handle:
        rows = csv.writer(handle)
        rows.writerow(["time", "user_id", "category", "duration_s", "id"])
        for i in range(users):
            for day in (2, 9, 16):
                rows.writerow(
                    [
                        f"2022-08-{day:02d}T09:00:00Z",
                        f"u{i:04d}",
                        "ide",
                        60 * (users - i),
                        f"e{i}-{day}",
                    ]
                )
    db = folder / "crowd.duckdb"
    _cli("ingest", str(events), "--db", str(db))
    token = _cli("tokens", "create", "--name", "crowd", "--db", str(db)).strip()
    return ServedStore(db, token)


def sign_in(client: TestClient, token: str, next_query: str = "") -> None:
    answer = client.post(
        "/signin",
        data={"token": token, "next": next_query},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def signed_in_page(db: Path, path: str, token_name: str) -> str:
    """The Metrics view's page at ``path`` over the store ``db``, signed in with a new token."""
    token = _cli("tokens", "create", "--name", token_name, "--db", str(db)).strip()
    with TestClient(create_app(ServerConfig(db=db, log_requests=False)), base_url=ORIGIN) as web:
        sign_in(web, token)
        page: str = web.get(path).text
    return page
