"""The Metrics view in headless Chromium, against the real server on a loopback port.

Every request that would leave the server's origin is refused and recorded,
and console errors are collected: each test ends by checking both are empty.
The numbers on the page are checked against the API's JSON for the same
filters. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from activity_report.render.durations import human

from .browser import Watch, screenshot, watch
from .test_server import start_server
from .view_store import ServedStore, sample_store

AUGUST = "/?category=any&start=2022-08-01&end=2022-08-31&interval=week&tz=UTC"


@dataclass(frozen=True)
class Server:
    base: str
    store: ServedStore
    log: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``activity-report serve`` in its own process, over the sample store."""
    folder = tmp_path_factory.mktemp("served")
    store = sample_store(folder)
    base, process = start_server(store.db)
    log: Path = process.log  # type: ignore[attr-defined]
    try:
        assert f"on {base}" in log.read_text()  # serve says where to point the browser
        yield Server(base, store, log)
    finally:
        process.terminate()
        process.wait(timeout=15)


@dataclass
class Tab:
    context: BrowserContext
    page: Page
    seen: Watch


@pytest.fixture
def tab(browser: Browser, server: Server) -> Iterator[Tab]:
    """A fresh browser (no cookies) in Tokyo; nothing may leave the server's origin."""
    context = browser.new_context(timezone_id="Asia/Tokyo", viewport={"width": 1100, "height": 900})
    page = context.new_page()
    seen = watch(page, allowed=server.base + "/")
    yield Tab(context, page, seen)
    context.close()
    assert seen.refused == []
    assert seen.errors == []
    assert all(url.startswith(server.base + "/") for url in seen.requests)


def sign_in(tab: Tab, server: Server, path: str = "/") -> None:
    tab.page.goto(server.base + path)
    tab.page.get_by_label("Session token", exact=True).fill(server.store.token)
    tab.page.get_by_role("button", name="Sign in").click()
    tab.page.wait_for_url("**tz=**")
    tab.page.wait_for_selector("#filters")


def shown(page: Page) -> dict[str, Any]:
    """The numbers the view shows: totals, one row per interval, the users listed."""
    totals = page.locator(".totals dd").all_inner_texts()
    buckets = [
        row.locator("td").all_inner_texts() for row in page.locator("table.buckets tbody tr").all()
    ]
    users = [
        (row.locator("td.username").inner_text(), row.locator("td.events").inner_text())
        for row in page.locator("table.users tbody tr").all()
    ]
    return {
        "totals": totals,
        "buckets": [(b[0][:10], b[2], b[3], b[4]) for b in buckets],
        "users": users,
    }


def expected_from_api(page: Page, server: Server) -> dict[str, Any]:
    """The same numbers from the API's JSON, fetched from the page's own download link."""
    href = page.locator("#download-json").get_attribute("href")
    assert href is not None
    asked = parse_qs(urlsplit(href).query, keep_blank_values=True)
    url = filters(page)
    for name in ("category", "interval", "tz", "start"):
        assert asked[name] == url[name], name
    assert asked.get("org", [""]) == url.get("org", [""])
    last_day = date.fromisoformat(url["end"][0])
    assert asked["end"] == [(last_day + timedelta(days=1)).isoformat()]  # End is inclusive
    answer = httpx.get(server.base + href, headers={"Session-Token": server.store.token})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    users = list(report["users"].values())
    total_ns = sum(u["total_duration"] for u in users)
    return {
        "totals": [f"{len(users):,}", f"{sum(u['total_count'] for u in users):,}", human(total_ns)],
        "buckets": [
            (
                b["time"][:10],
                f"{len(b['user_activity']):,}",
                f"{sum(u['count'] for u in b['user_activity']):,}",
                human(sum(u["duration"] for u in b["user_activity"])),
            )
            for b in report["activity"]
        ],
        "users": [(u["username"], f"{u['total_count']:,}") for u in users[:50]],
    }


def filters(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query, keep_blank_values=True)


def test_sign_in_with_a_bad_token_then_a_good_one(tab: Tab, server: Server) -> None:
    page = tab.page
    page.goto(server.base + "/")
    assert page.get_by_role("button", name="Sign in").is_visible()
    assert page.locator("table").count() == 0
    page.get_by_label("Session token", exact=True).fill("ar_not-a-real-token")
    page.get_by_label("Session token", exact=True).press("Enter")  # Enter submits
    page.wait_for_load_state()
    assert page.get_by_role("alert").inner_text() == (
        "That token is not valid: it is unknown, expired or revoked."
    )
    assert tab.context.cookies() == []
    screenshot(page, "view-sign-in-refused")
    sign_in(tab, server)
    assert filters(page)["tz"] == ["Asia/Tokyo"]  # the browser's zone by default
    assert page.get_by_label("Time zone", exact=True).input_value() == "Asia/Tokyo"
    cookie = tab.context.cookies()[0]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # invisible to scripts
    screenshot(page, "view-signed-in")


def test_the_sample_store_opens_on_august_and_ide_puts_joe_first(tab: Tab, server: Server) -> None:
    sign_in(tab, server)
    page = tab.page
    assert page.get_by_label("Start", exact=True).input_value() == "2022-08-01"
    assert page.get_by_label("End", exact=True).input_value() == "2022-08-31"
    assert page.get_by_label("Interval", exact=True).input_value() == "week"
    page.get_by_label("Action", exact=True).select_option(label="IDE")
    page.wait_for_url("**category=ide**")
    assert page.locator("table.users tbody tr").first.locator("td.username").inner_text() == "joe2"
    assert page.locator("table.buckets tbody tr").count() == 5
    assert page.locator("figure.chart rect.bar").count() == 5
    assert shown(page) == expected_from_api(page, server)
    screenshot(page, "view-august-ide")


def test_every_control_changes_the_numbers_as_the_api_says(tab: Tab, server: Server) -> None:
    sign_in(tab, server, AUGUST)
    page = tab.page
    before = shown(page)
    assert before == expected_from_api(page, server)

    org = page.locator("#f-org option").nth(1).get_attribute("value")
    assert org
    steps = [  # (parameter, new value, the control's label)
        ("category", "ide", "Action"),
        ("org", org, "Organization"),
        ("start", "2022-08-08", "Start"),
        ("end", "2022-08-21", "End"),
        ("interval", "day", "Interval"),
        ("tz", "America/Los_Angeles", "Time zone"),
    ]
    for name, value, label in steps:
        control = page.get_by_label(label, exact=True)
        with page.expect_navigation():
            if name in ("category", "org"):
                control.select_option(value=value)  # a changed select shows its report at once
            else:
                control.fill(value)
                page.get_by_role("button", name="Show").click()
        page.wait_for_load_state()
        assert filters(page)[name] == [value], name
        now = shown(page)
        assert now == expected_from_api(page, server), name
        assert now != before, f"changing {name} changed nothing"
        screenshot(page, f"view-control-{name}")
        before = now


def test_a_shared_url_reproduces_the_view(browser: Browser, tab: Tab, server: Server) -> None:
    shared = "/?org=&category=ide&start=2022-08-08&end=2022-08-28&interval=day&tz=Europe%2FBerlin"
    sign_in(tab, server, shared)
    assert tab.page.url == server.base + shared
    original = shown(tab.page)
    assert len(original["buckets"]) == 21
    # Someone else, elsewhere, opens the link: signed out, so they sign in first.
    other = browser.new_context(timezone_id="America/New_York")
    page = other.new_page()
    seen = watch(page, allowed=server.base + "/")
    page.goto(server.base + shared)
    page.get_by_label("Session token", exact=True).fill(server.store.token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#filters")
    assert page.url == server.base + shared  # the link's zone, not the browser's
    assert shown(page) == original
    assert page.locator("#asked").inner_text() == tab.page.locator("#asked").inner_text()
    screenshot(page, "view-shared-url")
    other.close()
    assert seen.refused == [] and seen.errors == []


def test_a_bad_value_shows_the_apis_message_next_to_its_control(tab: Tab, server: Server) -> None:
    sign_in(tab, server, AUGUST)
    page = tab.page
    page.get_by_label("Interval", exact=True).fill("fortnight")
    page.get_by_label("Interval", exact=True).press("Enter")
    page.wait_for_load_state()
    error = page.locator("#interval-error")
    assert error.is_visible()
    api = httpx.get(
        server.base + "/api/private/metrics/activity?interval=fortnight",
        headers={"Session-Token": server.store.token},
    ).json()
    assert error.inner_text() == api["detail"]
    assert page.get_by_label("Interval", exact=True).get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Interval", exact=True).input_value() == "fortnight"
    screenshot(page, "view-bad-interval")


def test_sign_out(tab: Tab, server: Server) -> None:
    sign_in(tab, server, AUGUST)
    page = tab.page
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("#token")
    assert tab.context.cookies() == []
    page.goto(server.base + AUGUST)
    assert page.get_by_label("Session token", exact=True).is_visible()
    assert page.locator("table").count() == 0


def test_the_view_fits_a_phone(browser: Browser, server: Server) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    seen = watch(page, allowed=server.base + "/")
    tab = Tab(context, page, seen)
    sign_in(tab, server, AUGUST)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "view-phone")
    context.close()
    assert seen.refused == [] and seen.errors == []


def test_date_text_has_room_before_the_picker_icon(browser: Browser, server: Server) -> None:
    """On a phone and on a desktop: the date, a gap, then the calendar icon."""
    for width, height in ((390, 844), (1100, 900)):
        context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
        page = context.new_page()
        tab = Tab(context, page, watch(page, allowed=server.base + "/"))
        sign_in(tab, server, AUGUST)
        room: float = page.locator("#f-start").evaluate(
            """(input) => {
                const style = getComputedStyle(input);
                const pen = document.createElement("canvas").getContext("2d");
                pen.font = style.font;
                const text = pen.measureText("08/01/2022").width;
                const inner = input.clientWidth - parseFloat(style.paddingLeft)
                    - parseFloat(style.paddingRight);
                return inner - text;
            }"""
        )
        assert room >= 36, (width, room)  # a 16-20 px icon, and a clear gap before it
        context.close()
