"""The Metrics view's Seats page in headless Chromium, against the real server.

The figures on the page are checked against the seats API's JSON for the
same filters (the page's own download link).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from .browser import screenshot
from .test_view_browser import Server, Tab, filters, server, sign_in, tab

__all__ = ["server", "tab"]  # the fixtures, shared with the activity page's tests

AUGUST = "/?category=any&start=2022-08-01&end=2022-08-14&interval=week&tz=Europe%2FBerlin"


def shown(tab: Tab) -> dict[str, Any]:
    page = tab.page
    rows = [
        r.locator("td").all_inner_texts() for r in page.locator("table.seats-days tbody tr").all()
    ]
    dormant = [
        r.locator("td").all_inner_texts() for r in page.locator("table.dormant tbody tr").all()
    ]
    return {
        "stickiness": page.locator("#stickiness").inner_text(),
        "days": [[int(v) if i else v for i, v in enumerate(row)] for row in rows],
        "dormant": dormant,
        "lines": {
            field: len(page.locator(f"polyline.{field}").get_attribute("points").split())  # type: ignore[union-attr]
            for field in ("active_1d", "active_7d", "active_30d", "active_90d")
        },
    }


def from_api(tab: Tab, server: Server) -> dict[str, Any]:
    href = tab.page.locator("#download-json").get_attribute("href")
    assert href is not None and href.startswith("/api/private/metrics/seats?")
    asked = parse_qs(urlsplit(href).query)
    assert asked["tz"] == filters(tab.page)["tz"] and asked["start"] == filters(tab.page)["start"]
    answer = httpx.get(server.base + href, headers={"Session-Token": server.store.token})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    days = body["days"]
    return {
        "stickiness": "n/a" if body["stickiness"] is None else f"{body['stickiness']:.2f}",
        "days": [
            [d["day"], d["active_1d"], d["active_7d"], d["active_30d"], d["active_90d"]]
            for d in days
        ],
        "dormant": [
            [u["user_id"], u["username"] or "", u["name"] or "", u["last_active"] or "never"]
            for u in body["dormant"]
        ],
        "lines": dict.fromkeys(("active_1d", "active_7d", "active_30d", "active_90d"), len(days)),
    }


def test_the_seats_page_shows_the_apis_figures_for_the_activity_pages_filters(
    tab: Tab, server: Server
) -> None:
    sign_in(tab, server, AUGUST)
    page = tab.page
    with page.expect_navigation():
        page.get_by_role("link", name="Seats").click()
    assert urlsplit(page.url).path == "/seats"
    assert filters(page)["start"] == ["2022-08-01"] and filters(page)["tz"] == ["Europe/Berlin"]
    assert page.get_by_role("link", name="Seats").get_attribute("aria-current") == "page"
    seen = shown(tab)
    assert seen == from_api(tab, server)
    assert len(seen["days"]) == 14 and seen["days"][0][0] == "2022-08-01"
    assert [row[1] for row in seen["dormant"]] == ["obrown"]  # in the directory, never active
    screenshot(page, "view-seats")

    # A changed select shows its seats at once, on this page.
    with page.expect_navigation():
        page.get_by_label("Action", exact=True).select_option(value="ide")
    assert urlsplit(page.url).path == "/seats" and filters(page)["category"] == ["ide"]
    ide = shown(tab)
    assert ide == from_api(tab, server)
    assert ide["days"] != seen["days"]

    # Back to the activity page, with the same filters.
    with page.expect_navigation():
        page.get_by_role("link", name="Activity").click()
    assert urlsplit(page.url).path == "/" and filters(page)["category"] == ["ide"]


def test_the_seats_page_takes_the_browsers_zone_and_shows_errors(tab: Tab, server: Server) -> None:
    sign_in(tab, server)
    page = tab.page
    page.goto(server.base + "/seats?start=2022-08-01&end=2022-08-07")
    page.wait_for_url("**/seats?**tz=Asia%2FTokyo**")
    assert shown(tab) == from_api(tab, server)
    page.goto(server.base + "/seats?start=2022-08-07&end=2022-08-01&tz=UTC")
    assert page.locator("#end-error").is_visible()
    assert page.locator("table.seats-days").count() == 0
