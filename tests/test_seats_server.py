"""``GET /api/private/metrics/seats``: the command line's seats JSON, from a real server."""

from __future__ import annotations

import httpx
import pytest

from .conftest import SAMPLE, run_cli
from .test_server import ORG, Server, assert_json_error, server, store

SEATS = "/api/private/metrics/seats"
__all__ = ["server", "store"]  # the fixtures, shared with the activity endpoint's tests


@pytest.mark.parametrize(
    ("query", "flags"),
    [
        ("start=2022-08-01&end=2022-09-01", ("--start", "2022-08-01", "--end", "2022-09-01")),
        (
            "start=2022-08-01&end=2022-08-20&tz=Europe/Berlin&category=ide&growth=true"
            "&interval=1%20week&dormant_after=10d",
            ("--start", "2022-08-01", "--end", "2022-08-20", "--tz", "Europe/Berlin",
             "--category", "ide", "--growth", "--interval", "1 week", "--dormant-after", "10d"),
        ),
        (f"org={ORG}&user=joe2&user=alice92",
         ("--org", ORG, "--user", "joe2", "--user", "alice92")),
    ],
    ids=["range", "berlin-ide-growth", "filters"],
)  # fmt: skip
def test_the_api_s_body_is_the_cli_s_over_the_store_and_the_files(
    server: Server, query: str, flags: tuple[str, ...]
) -> None:
    response = server.get(f"{SEATS}?{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    from_store = run_cli("seats", "--db", str(server.db), "--json", *flags)
    assert from_store.exit_code == 0, from_store.stderr
    assert response.text == from_store.stdout
    from_files = run_cli(
        "seats", "--events", str(SAMPLE / "events.parquet"), "--users", str(SAMPLE / "users.csv"),
        "--json", *flags,
    )  # fmt: skip
    assert response.text == from_files.stdout
    assert server.get(f"{SEATS}?{query}").text == response.text  # the cached answer


def test_no_token_is_401(server: Server) -> None:
    response = httpx.get(server.url + SEATS, timeout=30)
    assert_json_error(response, 401)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("dormant_after=3%20months", "dormant_after"),
        ("growth=maybe", "growth"),
        ("growth=true&growth=false", "growth"),
        ("growth=true&interval=6%20hours", "interval"),
        ("seats=1", "seats"),
        ("start=2022-09-01&end=2022-08-01", "end"),
    ],
)
def test_a_bad_parameter_is_400(server: Server, query: str, names: str) -> None:
    body = assert_json_error(server.get(f"{SEATS}?{query}"), 400)
    assert names in body["message"] + body["detail"]


def test_the_openapi_document_lists_the_seats_endpoint(server: Server) -> None:
    document = httpx.get(server.url + "/openapi.json", timeout=10).json()
    operation = document["paths"][SEATS]["get"]
    names = [p["name"] for p in operation["parameters"]]
    assert names == [
        "start", "end", "interval", "tz", "category", "org", "user", "heartbeat",
        "pseudonymize", "dormant_after", "growth",
    ]  # fmt: skip


def test_a_range_from_the_year_1_to_9999_is_a_400_not_a_500(server: Server) -> None:
    body = assert_json_error(server.get(f"{SEATS}?start=0001-01-01&end=9999-01-01"), 400)
    assert body["detail"] == (
        "the seats need 3651694 days, from 0001-01-01 to 9998-12-31, more than their limit "
        "(1000000); use a later start or an earlier end"
    )
    early = server.get(f"{SEATS}?start=0001-03-01&end=0001-04-01")
    assert early.status_code == 200, early.text
    assert len(early.json()["days"]) == 31
