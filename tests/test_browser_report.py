"""The HTML report in a real browser: opened from disk, offline, with its chart.

Every request but the page's own file is refused and recorded, so a page
that tried to fetch a font, an image or a script fails these tests.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, ViewportSize

from activity_report.model import UserInfo

from .browser import screenshot, watch
from .test_output_cli import MAIN_JOB, run
from .test_render import HOUR_US, sample
from .test_render_html import HOSTILE, page_of

PHONE = ViewportSize(width=390, height=844)


@pytest.fixture
def report_file(tmp_path: Path) -> Path:
    """The README's main job, every user listed, written by -o as a cron job would."""
    target = tmp_path / "weekly.html"
    result = run(*MAIN_JOB, "--top", "0", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    return target


def test_the_report_opens_offline_with_its_chart(browser: Browser, report_file: Path) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    seen = watch(page, allowed=report_file.as_uri())
    page.goto(report_file.as_uri())
    page.wait_for_load_state("load")
    screenshot(page, "html-report-desktop")
    assert seen.requests == [report_file.as_uri()]
    assert seen.refused == []
    assert seen.errors == []
    chart = page.locator("figure.chart svg[role=img]")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 600 and box["height"] > 200
    assert page.locator("figure.chart rect.bar").count() == 5
    assert page.locator("figure.chart circle.dot").count() == 5
    assert page.locator("figure.chart polyline.users").is_visible()
    assert page.locator("table.buckets tbody tr").count() == 5
    assert page.locator("table.users tbody tr").count() == 15
    first = page.locator("table.users tbody tr").first
    assert first.locator("td").nth(1).inner_text() == "joe2"
    assert first.locator("td.active").get_attribute("title") == (
        "3d 4h 44m 0s (276,240,000,000,000 ns)"
    )
    # The busiest week has the tallest bar; the bars follow the table's order.
    heights = [float(h) for h in page.locator("rect.bar").evaluate_all(
        "bars => bars.map(b => b.getBBox().height)")]  # fmt: skip
    assert max(heights) == heights[2]
    page.close()


def test_the_report_fits_a_phone_without_sideways_scrolling(
    browser: Browser, report_file: Path
) -> None:
    page = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    seen = watch(page, allowed=report_file.as_uri())
    page.goto(report_file.as_uri())
    screenshot(page, "html-report-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    assert page.locator("table.users thead").is_hidden()  # rows become cards
    assert page.locator("figure.chart svg[role=img]").is_visible()
    font = page.locator("figure.chart text").first.evaluate("t => t.getBoundingClientRect().height")
    assert font >= 9  # axis labels stay legible at phone width
    assert seen.refused == [] and seen.errors == []
    page.close()


def test_the_report_prints_with_its_chart(browser: Browser, report_file: Path) -> None:
    page = browser.new_page(viewport={"width": 800, "height": 1100})
    seen = watch(page, allowed=report_file.as_uri())
    page.goto(report_file.as_uri())
    page.emulate_media(media="print")
    screenshot(page, "html-report-print")
    assert page.locator("figure.chart svg[role=img]").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    assert seen.refused == [] and seen.errors == []
    page.close()


def test_hostile_user_data_stays_text(browser: Browser, tmp_path: Path) -> None:
    report = sample(
        {HOSTILE.id: HOSTILE, "ann": UserInfo("ann", "Ann", "ann", (), "zz<svg onload=alert(3)>")},
        cells=[(0, HOSTILE.id, 3, 2 * HOUR_US), (1, "ann", 1, HOUR_US)],
    )
    target = tmp_path / "hostile.html"
    target.write_text(page_of(report), encoding="utf-8")
    page = browser.new_page()
    seen = watch(page, allowed=target.as_uri())
    page.goto(target.as_uri())
    screenshot(page, "html-report-hostile")
    assert seen.dialogs == []
    assert seen.requests == [target.as_uri()]
    assert page.locator("img, script, iframe").count() == 0
    cell = page.locator("table.users tbody tr").first.locator("bdi").first
    assert cell.inner_text() == "<img src=x onerror=alert(1)> & co"
    assert cell.get_attribute("title") == '<script>alert("id")</script>\u241b[31m\u2400'
    assert seen.errors == []
    page.close()


def test_the_network_guard_catches_a_page_that_reaches_out(
    browser: Browser, tmp_path: Path
) -> None:
    """The guard itself: a page with a remote image and font is caught."""
    target = tmp_path / "leaky.html"
    target.write_text(
        "<!DOCTYPE html><style>@font-face{font-family:x;src:url(https://fonts.example/x.woff2)}"
        "body{font-family:x}</style><p>text</p>"
        '<img src="http://127.0.0.1:9/pixel.png" alt="">',
        encoding="utf-8",
    )
    page = browser.new_page()
    seen = watch(page, allowed=target.as_uri())
    page.goto(target.as_uri())
    page.wait_for_load_state("load")
    assert "http://127.0.0.1:9/pixel.png" in seen.refused
    page.close()
