"""Regenerate the README's screenshots of the HTML report and the Metrics view.

Renders the README's main job (IDE activity in August 2022, by week, on the
shipped sample data) with ``--format html --top 0``, opens the file in headless
Chromium with every network request refused, and saves:

- ``docs/html-report.png``: a desktop window, 1000 pixels wide, the whole page;
- ``docs/html-report-phone.png``: a phone, 390 pixels wide, the top of the page;
- ``docs/metrics-view.png``: ``activity-report serve`` over a store of the
  sample data, signed in, Action IDE, 1100 pixels wide, the top of the page.

Needs the ``playwright`` package and a Chromium; by default Debian's
(``apt-get install chromium``), else set ``CHROMIUM=/path/to/chrome``:

    python docs/make_screenshot.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Browser, Route, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MAIN_JOB = [
    "--events", str(SAMPLE / "events.parquet"), "--users", str(SAMPLE / "users.csv"),
    "--start", "2022-08-01", "--end", "2022-08-31", "--category", "ide", "--interval", "1 week",
]  # fmt: skip


def main() -> int:
    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as folder:
        page_file = Path(folder) / "report.html"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "activity_report",
                *MAIN_JOB,
                "--top",
                "0",
                "-o",
                str(page_file),
            ],
            check=True,
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            shots = (
                ("html-report.png", ViewportSize(width=1000, height=900), True),
                ("html-report-phone.png", ViewportSize(width=390, height=844), False),
            )
            for name, viewport, full_page in shots:
                page = browser.new_page(viewport=viewport, device_scale_factor=1)
                page.route("**/*", _file_only)
                page.goto(page_file.as_uri())
                page.screenshot(path=str(ROOT / "docs" / name), full_page=full_page)
                page.close()
                print(f"wrote docs/{name}", file=sys.stderr)
            _view(browser, Path(folder))
            browser.close()
    return 0


def _cli(*args: str) -> str:
    command = [sys.executable, "-m", "activity_report", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _view(browser: Browser, folder: Path) -> None:
    """Serve a store of the sample data, sign in, pick IDE, take the picture."""
    db = str(folder / "events.duckdb")
    _cli("ingest", str(SAMPLE / "events.parquet"), "--db", db)
    _cli("users", "import", str(SAMPLE / "users.csv"), "--db", db)
    token = _cli("tokens", "create", "--name", "screenshot", "--db", db).strip()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "activity_report", "serve", "--db", db, "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        context = browser.new_context(
            viewport=ViewportSize(width=1100, height=1000), timezone_id="UTC"
        )
        page = context.new_page()
        page.goto(base + "/")
        page.get_by_label("Session token", exact=True).fill(token)
        page.get_by_label("Session token", exact=True).press("Enter")
        page.wait_for_url("**tz=UTC**")
        with page.expect_navigation():
            page.get_by_label("Action", exact=True).select_option(label="IDE")
        page.screenshot(path=str(ROOT / "docs" / "metrics-view.png"))
        context.close()
        print("wrote docs/metrics-view.png", file=sys.stderr)
    finally:
        server.terminate()
        server.wait(timeout=15)


def _file_only(route: Route) -> None:
    """The report needs nothing but its own file."""
    if route.request.url.startswith("file:"):
        route.continue_()
    else:
        route.abort()


if __name__ == "__main__":
    sys.exit(main())
