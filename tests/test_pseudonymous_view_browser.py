"""The Metrics view in headless Chromium, signed in with a pseudonymous token: no one is named."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from .browser import screenshot, watch
from .conftest import run_cli
from .test_pseudonyms import assert_names_no_one, sample_people
from .test_server import start_server, stop
from .view_store import sample_store

AUGUST_IDE = "/?category=ide&start=2022-08-01&end=2022-08-31&interval=week&tz=UTC"
ANON = re.compile(r"anon-[0-9a-f]{16}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """The server's address, a pseudonymous token, and the store."""
    store = sample_store(tmp_path_factory.mktemp("anon-view"))
    made = run_cli(
        "tokens", "create", "--name", "anon", "--scope", "pseudonymous", "--db", str(store.db)
    )
    assert made.exit_code == 0, made.stderr
    url, process = start_server(store.db)
    yield url, made.stdout.strip(), store.db
    code, log = stop(process)
    assert code == 0, log


def test_a_pseudonymous_session_sees_pseudonyms_only(
    browser: Browser, served: tuple[str, str, Path]
) -> None:
    base, token, db = served
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    seen = watch(page, allowed=base + "/")
    page.goto(base + AUGUST_IDE)
    page.get_by_label("Session token", exact=True).fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("table.users")
    html = page.content()
    assert_names_no_one(html.encode(), sample_people())
    on_page = page.locator("table.users tbody tr").all_inner_texts()
    assert len(on_page) == 15
    shown = set(ANON.findall(" ".join(on_page)))
    assert len(shown) == 15
    # The page's own JSON download (the API, through the session cookie) agrees.
    href = page.locator("#download-json").get_attribute("href")
    body = page.evaluate("href => fetch(href).then(r => r.text())", href)
    assert_names_no_one(body.encode(), sample_people())
    assert set(json.loads(body)["users"]) == shown
    # And so does the command line, with the store's key.
    cli = run_cli(
        "--db", str(db), "--start", "2022-08-01", "--end", "2022-09-01", "--category", "ide",
        "--json", "--pseudonymize",
    )  # fmt: skip
    assert cli.exit_code == 0, cli.stderr
    assert cli.stdout == body
    screenshot(page, "view-pseudonymous")
    context.close()
    assert seen.refused == []
    assert seen.errors == []
