"""The Metrics view over HTTP, in-process: sign-in, the session cookie, filters, errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from activity_report.server import ServerConfig, create_app
from activity_report.server.view import (
    SESSION_COOKIE,
    USERS_PER_PAGE,
    Sessions,
    api_values,
    default_range,
)

from .conftest import run_cli
from .view_store import ORIGIN, ServedStore, crowded_store, sample_store, sign_in

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
AUGUST = "/?category=ide&start=2022-08-01&end=2022-08-31&interval=week&tz=UTC"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ServedStore:
    return sample_store(tmp_path_factory.mktemp("view"))


@pytest.fixture
def client(store: ServedStore) -> Iterator[TestClient]:
    app = create_app(ServerConfig(db=store.db, log_requests=False))
    with TestClient(app, base_url=ORIGIN) as test_client:
        yield test_client


def test_signed_out_home_is_a_200_sign_in_page_without_data(client: TestClient) -> None:
    answer = client.get(AUGUST)
    assert answer.status_code == 200
    assert '<label for="token">Session token</label>' in answer.text
    assert '<button type="submit">Sign in</button>' in answer.text
    assert "joe2" not in answer.text and "<table" not in answer.text
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")


def test_a_bad_token_is_refused_and_sets_no_cookie(client: TestClient) -> None:
    answer = client.post("/signin", data={"token": "nope"}, headers={"Origin": ORIGIN})
    assert answer.status_code == 200
    assert "That token is not valid" in answer.text
    assert "set-cookie" not in answer.headers
    assert client.get(AUGUST).text.count("Session token") == 1


def test_a_good_token_sets_an_httponly_strict_cookie_and_returns_to_the_filters(
    client: TestClient, store: ServedStore
) -> None:
    answer = client.post(
        "/signin",
        data={"token": store.token, "next": AUGUST[2:] + "&evil=https://x.example"},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == AUGUST
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert store.token not in cookie  # the cookie is a session id, not the token
    page = client.get(AUGUST).text
    assert re.search(r"<td class=\"username\"><bdi>joe2</bdi>", page)
    assert page.index("joe2") < page.index("priya.r")


def test_sign_in_from_another_site_is_refused(client: TestClient, store: ServedStore) -> None:
    answer = client.post(
        "/signin", data={"token": store.token}, headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


def test_sign_out_ends_the_session(client: TestClient, store: ServedStore) -> None:
    sign_in(client, store.token)
    session = client.cookies[SESSION_COOKIE]
    answer = client.post("/signout", headers={"Origin": ORIGIN}, follow_redirects=False)
    assert answer.status_code == 303
    assert f'{SESSION_COOKIE}=""' in answer.headers["set-cookie"]
    assert "Max-Age=0" in answer.headers["set-cookie"]
    # Even a browser that kept the cookie is signed out: the server forgot the session.
    client.cookies.set(SESSION_COOKIE, session)
    assert "Session token" in client.get(AUGUST).text
    api = client.get("/api/private/metrics/activity", headers=SAME_ORIGIN)
    assert api.status_code == 401


def test_the_api_takes_the_cookie_only_from_the_page(
    client: TestClient, store: ServedStore
) -> None:
    sign_in(client, store.token)
    url = "/api/private/metrics/activity?category=ide&start=2022-08-01&end=2022-09-01"
    by_token = client.get(url, headers={"Session-Token": store.token})
    assert by_token.status_code == 200
    from_page = client.get(url, headers=SAME_ORIGIN)
    assert from_page.status_code == 200
    assert from_page.content == by_token.content
    for headers in (
        {},  # no proof of where it came from
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # another port of this host
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
        {"Origin": "https://evil.example"},
    ):
        answer = client.get(url, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["message"] == "You must be authenticated to use this endpoint."
    assert client.get(url, headers={"Origin": ORIGIN}).status_code == 200


@pytest.mark.slow  # its own store of the sample
def test_a_revoked_token_ends_its_sessions(tmp_path: Path) -> None:
    own = sample_store(tmp_path)
    app = create_app(ServerConfig(db=own.db, log_requests=False))
    with TestClient(app, base_url=ORIGIN) as client:
        sign_in(client, own.token)
        assert "joe2" in client.get(AUGUST).text
        revoked = run_cli("tokens", "revoke", "view-tests", "--db", str(own.db))
        assert revoked.exit_code == 0, revoked.stderr
        signed_out = client.get(AUGUST).text
        assert "Session token" in signed_out
        assert (
            '<p class="notice" id="signed-out" role="status">You were signed out: the '
            "session&#x27;s token was revoked or has expired. Sign in with a valid token.</p>"
        ) in signed_out
        assert "signed-out" not in client.get(AUGUST).text  # said once; the session is gone
    with TestClient(app, base_url=ORIGIN) as fresh:
        assert "signed-out" not in fresh.get("/").text  # never signed in: nothing ended


def test_the_view_shows_the_exact_range_and_downloads_of_the_same_report(
    client: TestClient, store: ServedStore
) -> None:
    sign_in(client, store.token)
    page = client.get(AUGUST).text
    assert (
        '<span id="asked">Counted from the start of Mon 1 Aug 2022 to the end of Wed 31 Aug 2022 '
        "(UTC).</span>"
    ) in page
    json_href = re.search(r'id="download-json" href="([^"]+)"', page)
    csv_href = re.search(r'id="download-csv" href="([^"]+)"', page)
    assert json_href and csv_href
    href = json_href.group(1).replace("&amp;", "&")
    assert href == (
        "/api/private/metrics/activity?category=ide&interval=week&tz=UTC"
        "&start=2022-08-01&end=2022-09-01"
    )
    api = client.get(href, headers={"Session-Token": store.token}).json()
    assert next(iter(api["users"].values()))["username"] == "joe2"
    csv = client.get(csv_href.group(1).replace("&amp;", "&"), headers=SAME_ORIGIN)
    assert csv.status_code == 200
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert (
        csv.headers["content-disposition"] == 'attachment; filename="activity-2022-08-01-ide.csv"'
    )
    lines = csv.text.splitlines()
    assert lines[0] == "time,bucket_duration,user_id,name,username,count,duration"
    assert len(lines) - 1 == sum(len(b["user_activity"]) for b in api["activity"])
    assert client.get(csv_href.group(1).replace("&amp;", "&")).status_code == 401


@pytest.mark.parametrize(
    ("query", "control", "value"),
    [
        ("interval=fortnight", "interval", "fortnight"),
        ("tz=Mars%2FOlympus", "tz", "Mars/Olympus"),
        ("category=surfing", "category", "surfing"),
        ("start=yesterday-ish", "start", "yesterday-ish"),
    ],
)
def test_a_bad_filter_shows_the_apis_message_next_to_its_control(
    client: TestClient, store: ServedStore, query: str, control: str, value: str
) -> None:
    sign_in(client, store.token)
    page = client.get(f"/?{query}&end=2022-08-31")
    assert page.status_code == 200
    api = client.get(
        f"/api/private/metrics/activity?{query}", headers={"Session-Token": store.token}
    ).json()
    error = re.search(
        rf'<span class="error" id="{control}-error" role="alert">([^<]+)</span>', page.text
    )
    assert error is not None, page.text[:2000]
    assert error.group(1).replace("&#x27;", "'") == api["detail"]
    assert f'id="f-{control}"' in page.text
    assert f'aria-describedby="{control}-error"' in page.text


def test_an_end_before_the_start_is_shown_too(client: TestClient, store: ServedStore) -> None:
    sign_in(client, store.token)
    page = client.get("/?start=2022-08-10&end=2022-08-01").text
    assert (
        '<span class="error" id="end-error" role="alert">the End date (2022-08-01) is before '
        "the Start date (2022-08-10): pick an End on or after the Start</span>"
    ) in page
    assert "<table" not in page
    one_day = client.get("/?start=2022-08-10&end=2022-08-10").text  # End is the last day shown
    assert 'class="error"' not in one_day
    assert "<dt>Range</dt><dd" in one_day and ">2022-08-10</dd>" in one_day


def test_a_thousand_users_are_paged(tmp_path: Path) -> None:
    crowd = crowded_store(tmp_path)
    app = create_app(ServerConfig(db=crowd.db, log_requests=False))
    with TestClient(app, base_url=ORIGIN) as client:
        sign_in(client, crowd.token)
        base = "/?category=any&start=2022-08-01&end=2022-08-31&interval=week&tz=UTC"
        first = client.get(base).text
        assert "<dt>Active users</dt><dd>1,000</dd>" in first
        assert first.count('<td class="username">') == USERS_PER_PAGE
        assert "Users 1-50 of 1,000" in first
        assert first.count('class="slot"') == 5  # every week has its place in the chart
        assert first.count('class="bar"') == 3  # and the three with activity a bar
        second = client.get(base + "&page=2").text
        assert "Users 51-100 of 1,000" in second
        assert ">u0050<" in second and ">u0049<" not in second
        last = client.get(base + "&page=999").text
        assert "Users 951-1,000 of 1,000" in last
        assert len(first) < 400_000


def test_default_range_is_the_last_whole_month_before_the_latest_event() -> None:
    latest = datetime(2022, 9, 2, 18, 41, tzinfo=UTC)
    assert default_range(latest, date(2030, 1, 1)) == (date(2022, 8, 1), date(2022, 8, 31))
    assert default_range(None, date(2024, 3, 15)) == (date(2024, 2, 1), date(2024, 2, 29))


def test_end_is_inclusive_for_the_api() -> None:
    values = api_values(
        {"category": "ide", "interval": "week", "tz": "UTC", "start": "2022-08-01",
         "end": "2022-08-31", "org": "o1"}
    )  # fmt: skip
    assert values == {
        "category": "ide",
        "interval": "week",
        "tz": "UTC",
        "start": "2022-08-01",
        "end": "2022-09-01",
        "org": ["o1"],
    }
    assert (
        api_values({**dict.fromkeys(("category", "interval", "tz", "start"), "x"), "end": "bad"})[
            "end"
        ]
        == "bad"
    )


def test_static_files_and_no_other_origin_in_the_page(
    client: TestClient, store: ServedStore
) -> None:
    sign_in(client, store.token)
    page = client.get(AUGUST).text
    for needle in ("http:", "https:", "//cdn", "url("):
        assert needle not in page
    assert client.get("/view.css").headers["content-type"] == "text/css; charset=utf-8"
    script = client.get("/view.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "fetch(" not in script.text and "http" not in script.text
    assert json.loads(client.get("/healthz").text) == {"status": "ok"}


def test_signing_in_lands_on_the_browsers_zone_unless_the_link_names_one(
    client: TestClient, store: ServedStore
) -> None:
    def land(next_query: str, zone: str) -> str:
        answer = client.post(
            "/signin",
            data={"token": store.token, "next": next_query, "tz": zone},
            headers={"Origin": ORIGIN},
            follow_redirects=False,
        )
        return str(answer.headers["location"])

    assert land("", "Asia/Tokyo") == "/?tz=Asia%2FTokyo"
    assert land("category=ide", "Asia/Tokyo") == "/?category=ide&tz=Asia%2FTokyo"
    assert land("category=ide&tz=UTC", "Asia/Tokyo") == "/?category=ide&tz=UTC"
    assert land("category=ide", "") == "/?category=ide"


def test_the_view_reads_the_range_as_first_and_last_day(
    client: TestClient, store: ServedStore
) -> None:
    sign_in(client, store.token)
    page = client.get(AUGUST).text
    assert (
        '<dd title="from 2022-08-01T00:00:00Z up to (not including) 2022-09-01T00:00:00Z">'
        "2022-08-01 through 2022-08-31</dd>"
    ) in page
    assert '<p class="scope">' not in page  # the page's own header says it once


def test_a_huge_sign_in_form_is_refused(client: TestClient) -> None:
    answer = client.post(
        "/signin", content=b"token=" + b"x" * 100_000, headers={
            "Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded"}
    )  # fmt: skip
    assert answer.status_code == 413
    assert "set-cookie" not in answer.headers


def test_sessions_expire_and_are_capped() -> None:
    sessions = Sessions(hours=-1)  # already over
    assert sessions.token(sessions.start("t1")) is None
    few = Sessions(most=2)
    first, second, third = few.start("a"), few.start("b"), few.start("c")
    assert few.token(first) is None
    assert few.token(second) == "b" and few.token(third) == "c"
    few.end(third)
    assert few.token(third) is None


class SignedInBackend:
    """A view backend that takes any token and has no data: subclasses give the report."""

    def token_ok(self, token: str) -> bool:
        return True

    def token_scope(self, token: str) -> str | None:
        return "full"

    def organizations(self) -> list[tuple[str, str | None]]:
        return []

    def latest_event(self) -> datetime | None:
        return None


@pytest.mark.parametrize("path", ["/", "/metrics/activity.csv"])
def test_a_client_that_leaves_cancels_the_views_report(path: str) -> None:
    """The page and the download run their report in a run of their own, cancelled on disconnect."""
    import asyncio
    import threading
    import time
    from collections.abc import Mapping

    from starlette.requests import Request

    from activity_report.resources import RunContext
    from activity_report.server.errors import ClientGone
    from activity_report.server.view import routes

    seen: list[RunContext] = []

    class Slow(SignedInBackend):
        def report(
            self, values: Mapping[str, str | list[str]], context: RunContext, scope: str = "full"
        ) -> Any:
            seen.append(context)
            deadline = time.monotonic() + 30
            while not context.interrupted and time.monotonic() < deadline:
                time.sleep(0.01)
            context.check()  # raises: the run was cancelled
            raise AssertionError("the report was not cancelled")

    sessions = Sessions()
    handler = {route.path: route.endpoint for route in routes(Slow(), sessions)}[path]
    cookie = f"{SESSION_COOKIE}={sessions.start('token')}"
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": AUGUST[2:].encode(),
        "headers": [(b"cookie", cookie.encode()), (b"sec-fetch-site", b"same-origin")],
    }

    async def gone() -> dict[str, str]:
        return {"type": "http.disconnect"}

    outcome: list[BaseException] = []

    async def call() -> None:
        try:
            await handler(Request(scope, gone))
        except BaseException as exc:  # the outcome under test
            outcome.append(exc)

    runner = threading.Thread(target=lambda: asyncio.run(call()))
    runner.start()
    runner.join(timeout=60)
    assert [type(e) for e in outcome] == [ClientGone]
    assert [context.interrupted for context in seen] == [True]


def test_the_download_of_a_report_past_the_time_limit_is_a_503() -> None:
    from collections.abc import Mapping

    from starlette.applications import Starlette

    from activity_report.resources import RunContext
    from activity_report.server.errors import TookTooLong
    from activity_report.server.view import routes

    class TooSlow(SignedInBackend):
        def report(
            self, values: Mapping[str, str | list[str]], context: RunContext, scope: str = "full"
        ) -> Any:
            raise TookTooLong(120)

    sessions = Sessions()
    app = Starlette(routes=routes(TooSlow(), sessions))
    with TestClient(app, base_url=ORIGIN) as client:
        client.cookies.set(SESSION_COOKIE, sessions.start("token"))
        answer = client.get("/metrics/activity.csv?category=ide", headers=SAME_ORIGIN)
    assert answer.status_code == 503  # as the API answers it: no Retry-After, the limit told
    assert answer.json()["message"] == "The request took too long."
    assert "longer than this server allows (120 s)" in answer.json()["detail"]
    assert "retry-after" not in answer.headers


@pytest.mark.parametrize(
    "query",
    [
        "category=ide&start=2022-08-01&start=2022-08-08",  # the last one used to win
        "interval=week&interval=day",
        "category=ide&nope=1",
        "org=a%00b",  # no id holds a NUL
    ],
)
def test_the_download_refuses_what_the_api_refuses_in_its_words(
    client: TestClient, store: ServedStore, query: str
) -> None:
    sign_in(client, store.token)
    api = client.get(
        f"/api/private/metrics/activity?{query}", headers={"Session-Token": store.token}
    )
    download = client.get(f"/metrics/activity.csv?{query}", headers=SAME_ORIGIN)
    assert api.status_code == download.status_code == 400
    assert download.json() == api.json()
    if "start=" in query:
        assert download.json()["detail"].endswith("(give it once)")


@pytest.mark.parametrize("where", ["report", "latest_event", "organizations"])
def test_a_busy_store_answers_the_page_with_the_apis_status_and_retry_after(where: str) -> None:
    """One responder: the page shows the problem as HTML, with the API's 503 and Retry-After."""
    from collections.abc import Mapping

    from starlette.applications import Starlette

    from activity_report.errors import DataError, Kind
    from activity_report.model import ReportMeta, build_report
    from activity_report.resources import RunContext
    from activity_report.server.errors import HANDLERS, RETRY_AFTER_SECONDS
    from activity_report.server.view import routes

    def busy() -> Any:
        raise DataError("the store is in use; try again", kind=Kind.unavailable)

    class Busy(SignedInBackend):
        def report(
            self, values: Mapping[str, str | list[str]], context: RunContext, scope: str = "full"
        ) -> Any:
            if where == "report":
                busy()
            edges = [datetime(2022, 8, 1, tzinfo=UTC), datetime(2022, 9, 1, tzinfo=UTC)]
            return build_report(edges, [], {}, ReportMeta(edges[0], edges[1], "1 week", "ide"))

        def latest_event(self) -> datetime | None:
            return busy() if where == "latest_event" else None

        def organizations(self) -> list[tuple[str, str | None]]:
            return busy() if where == "organizations" else []

    sessions = Sessions()
    app = Starlette(routes=routes(Busy(), sessions), exception_handlers=dict(HANDLERS))
    with TestClient(app, base_url=ORIGIN) as client:
        client.cookies.set(SESSION_COOKIE, sessions.start("token"))
        page = client.get("/?category=ide&start=2022-08-01&end=2022-08-31")
        download = client.get("/metrics/activity.csv?category=ide", headers=SAME_ORIGIN)
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert "the store is in use; try again" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    if where == "report":
        assert download.status_code == 503
        assert download.headers["retry-after"] == page.headers["retry-after"]
        assert download.json()["message"] == "The store is busy; try again shortly."


def test_the_time_zone_field_suggests_iana_names(client: TestClient, store: ServedStore) -> None:
    sign_in(client, store.token)
    page = client.get(AUGUST).text
    assert '<input id="f-tz" name="tz" list="zones" autocomplete="off" value="UTC">' in page
    zones = re.search(r'<datalist id="zones">(.*?)</datalist>', page)
    assert zones is not None
    names = re.findall(r'<option value="([^"]+)">', zones.group(1))
    assert names[0] == "UTC"
    assert {"Europe/Berlin", "Asia/Kolkata", "America/St_Johns", "Pacific/Apia"} <= set(names)
    assert len(names) > 300


def test_a_table_longer_than_its_box_says_it_scrolls(
    client: TestClient, store: ServedStore
) -> None:
    sign_in(client, store.token)
    daily = client.get(AUGUST.replace("interval=week", "interval=day")).text
    assert (
        '<p class="note" id="more-rows">31 intervals: scroll the table to see them all.</p>'
    ) in daily
    assert 'id="more-rows"' not in client.get(AUGUST).text  # five weeks fit


def test_end_08_30_gives_the_quick_starts_numbers(client: TestClient, store: ServedStore) -> None:
    """As the README says: the CLI's --end 2022-08-31 is the view's End 2022-08-30."""
    sign_in(client, store.token)
    page = client.get(AUGUST.replace("end=2022-08-31", "end=2022-08-30")).text
    assert "<dt>Events</dt><dd>24,110</dd>" in page
    assert "2022-08-01 through 2022-08-30</dd>" in page
    cli = run_cli("--db", str(store.db), "--start", "2022-08-01", "--end", "2022-08-31",
                  "--category", "ide", "--format", "markdown")  # fmt: skip
    assert "2022-08-01 through 2022-08-30 UTC" in cli.stdout
    assert "24,110 events" in cli.stdout


@pytest.mark.parametrize("path", ["/", "/seats"])
def test_dates_at_the_ends_of_the_calendar_are_shown_as_errors_not_a_500(
    client: TestClient, store: ServedStore, path: str
) -> None:
    sign_in(client, store.token)
    last_day = client.get(f"{path}?start=2022-08-01&end=9999-12-31")
    assert last_day.status_code == 200
    assert (
        '<span class="error" id="end-error" role="alert">invalid value for end: '
        "&#x27;9999-12-31&#x27; (the last day shown must be 9999-12-30 or earlier)</span>"
    ) in last_day.text
    everything = client.get(f"{path}?start=0001-01-01&end=9999-01-01&interval=year")
    assert everything.status_code == 200
    if path == "/seats":  # 3.6 million days: the seats' limit, shown next to the Start
        assert (
            '<span class="error" id="start-error" role="alert">the seats need 3651695 days, '
            "from 0001-01-01 to 9999-01-01, more than their limit (1000000); use a later "
            "start or an earlier end</span>"
        ) in everything.text
    else:  # 9999 yearly buckets
        assert 'class="error"' not in everything.text
