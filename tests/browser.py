"""Headless Chromium for the browser tests, through Playwright.

Debian's ``chromium`` package by default (``playwright install`` cannot
download a browser everywhere); ``CHROMIUM=/path/to/chrome`` picks another.
Screenshots of the runs go to ``tests/artifacts/`` (ignored by git, kept by CI).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    Route,
    sync_playwright,
)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(path).is_file():
        pytest.fail(
            f"no Chromium at {path}: install it (apt-get install -y chromium) "
            "or set CHROMIUM to a Chrome or Chromium binary",
            pytrace=False,
        )
    return path


@contextlib.contextmanager
def launch() -> Iterator[Browser]:
    """Headless Chromium, closed on the way out (conftest's ``browser`` fixture)."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watch:
    """What a page did: every request, the ones refused, console errors, dialogs."""

    requests: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def watch(page: Page, allowed: str) -> Watch:
    """Refuse (and record) every request whose URL does not start with ``allowed``."""
    seen = Watch()

    def route(handler: Route) -> None:
        url = handler.request.url
        if url.startswith(allowed):
            handler.continue_()
        else:
            seen.refused.append(url)
            handler.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            seen.errors.append(f"{message.type}: {message.text}")

    def dialog(opened: Dialog) -> None:
        seen.dialogs.append(opened.message)
        opened.dismiss()

    def request(sent: Request) -> None:
        seen.requests.append(sent.url)

    page.route("**/*", route)
    page.on("request", request)
    page.on("console", console)
    page.on("pageerror", lambda error: seen.errors.append(f"page error: {error}"))
    page.on("dialog", dialog)
    return seen


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)
