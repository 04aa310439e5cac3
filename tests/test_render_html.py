"""``--format html``: the page's content, its escaping, its chart and its avatars."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from activity_report.model import Report, UserInfo
from activity_report.render import Format, renderer
from activity_report.render.html import document, exact_duration, identicon, initials, text
from activity_report.render.html.chart import _label_every, _time_step, _user_step, _x_labels

from .test_render import ANN, HOUR_US, sample

GOLDEN = Path(__file__).resolve().parent / "golden"
ALLOWED_TAGS = {
    *("html", "head", "meta", "title", "style", "body", "main", "header", "footer", "section"),
    *("h1", "h2", "p", "dl", "dt", "dd", "div", "span", "bdi", "figure", "time"),
    *("table", "thead", "tbody", "tr", "th", "td"),
    *("svg", "g", "rect", "line", "text", "polyline", "circle", "path"),
}


class Page(HTMLParser):
    """Every tag and attribute of a page, and the text of each table cell."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[list[list[str]]] = []
        self.titles: list[list[list[str | None]]] = []
        self._cell: list[str] | None = None
        self._in_svg = 0
        self._in_initials = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "svg":
            self._in_svg += 1
        elif tag == "span" and dict(attrs).get("aria-hidden") == "true":
            self._in_initials = True  # drawn, not read: no nested spans in it
        elif tag == "table":
            self.tables.append([])
            self.titles.append([])
        elif tag == "tr":
            self.tables[-1].append([])
            self.titles[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
            self.titles[-1][-1].append(dict(attrs).get("title"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_svg -= 1
        elif tag == "span":
            self._in_initials = False
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._in_svg and not self._in_initials:
            self._cell.append(data)


def page_of(report: Report, top: int = 10) -> str:
    return renderer(Format.html, top=top)(report)


HOSTILE = UserInfo(
    '<script>alert("id")</script>\x1b[31m\x00',
    "<img src=x onerror=alert(1)> & co",
    'bob" onmouseover="alert(2)',
    ("<i>admin</i>",),
)


def test_text_from_the_data_is_escaped_and_control_characters_made_visible() -> None:
    report = sample({HOSTILE.id: HOSTILE}, cells=[(0, HOSTILE.id, 3, 2 * HOUR_US)])
    page = page_of(report)
    parsed = Page(page)
    assert {tag for tag, _ in parsed.tags} <= ALLOWED_TAGS
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", page)
    users = parsed.tables[1]
    assert users[1][:3] == [
        "<img src=x onerror=alert(1)> & co",
        'bob" onmouseover="alert(2)',
        "<i>admin</i>",
    ]
    name_title = next(a["title"] for t, a in parsed.tags if t == "bdi" and "title" in a)
    assert name_title == '<script>alert("id")</script>\u241b[31m\u2400'


def test_text_helper() -> None:
    assert text("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&#x27;"
    assert text("\x00\x1b\x7f\x85\ud800 tab\tok") == "&#9216;&#9243;&#9249;&#65533;&#65533; tab\tok"
    assert text("Fernández 李") == "Fern&#225;ndez &#26446;"


def test_the_page_needs_no_script_and_nothing_from_the_network() -> None:
    page = page_of(sample({"ann": ANN}))
    lowered = page.lower()
    for needle in ("<script", "<link", "<img", "<iframe", "url(", "@import", "http:", "https:"):
        assert needle not in lowered, needle
    tags = {tag for tag, _ in Page(page).tags}
    assert tags <= ALLOWED_TAGS
    assert page.startswith('<!DOCTYPE html>\n<html lang="en">')


def test_the_page_is_ascii_so_no_mailer_can_garble_it() -> None:
    names = {"ann": UserInfo("ann", "Zoë Ångström", "zoë", ("rôle",))}
    page = page_of(sample(names, orgs=("Équipe",)))
    assert page.isascii()
    parsed = Page(page)
    assert parsed.tables[1][2][:3] == ["Zoë Ångström", "zoë", "rôle"]


@pytest.mark.parametrize(
    ("ns", "expected"),
    [
        (0, "0s (0 ns)"),
        (72_000_000_000_000, "20h 0m 0s (72,000,000,000,000 ns)"),
        (276_240_000_000_000, "3d 4h 44m 0s (276,240,000,000,000 ns)"),
        (90_500_000_000, "1m 30.5s (90,500,000,000 ns)"),
        (1_000, "0.000001s (1,000 ns)"),
    ],
)
def test_exact_duration(ns: int, expected: str) -> None:
    assert exact_duration(ns) == expected


def test_tables_show_human_values_with_exact_ones_in_tooltips() -> None:
    parsed = Page(page_of(sample({"ann": ANN})))
    buckets, users = parsed.tables
    assert buckets[1] == ["2024-01-01", "1d 0h", "2", "4", "3h 0m"]
    assert parsed.titles[0][1] == [
        "2024-01-01T00:00:00Z to 2024-01-02T00:00:00Z",
        "1d 0h 0m 0s (86,400,000,000,000 ns)",
        None,
        None,
        "3h 0m 0s (10,800,000,000,000 ns)",
    ]
    assert users[0] == ["Name", "Username", "Roles", "Events", "Active time", "Share"]
    assert users[1] == ["bob", "", "", "6", "4h 0m", "66.7%"]
    assert users[2] == ["Ann | Admin", "ann_a", "site-member, site-admin", "3", "2h 0m", "33.3%"]
    assert parsed.titles[1][2][4:] == [
        "2h 0m 0s (7,200,000,000,000 ns)",
        "33.333% (7,200,000,000,000 of 21,600,000,000,000 ns)",
    ]


def test_summary_says_what_was_asked_and_the_totals() -> None:
    page = page_of(sample(orgs=("o1", "o2")))
    assert (
        '<dt>Range</dt><dd title="from 2024-01-01T00:00:00Z up to (not including) '
        '2024-01-03T00:00:00Z">2024-01-01 through 2024-01-02</dd>'
    ) in page
    assert "<dt>Organizations</dt><dd>o1, o2</dd>" in page
    assert "<dt>Time zone</dt><dd>UTC</dd>" in page
    assert "<dt>Active users</dt><dd>2</dd>" in page
    assert "<dt>Events</dt><dd>9</dd>" in page
    assert '<dt>Active time</dt><dd title="6h 0m 0s (21,600,000,000,000 ns)">6h 0m</dd>' in page


def test_the_chart_has_a_bar_a_point_and_a_tooltip_per_interval() -> None:
    page = page_of(sample())
    svg = re.search(r'<svg viewBox="0 0 720 300".*?</svg>', page, re.S)
    assert svg is not None
    chart = svg.group()
    assert chart.count('class="bar"') == 2
    assert chart.count('class="dot"') == 2
    assert chart.count('class="slot"') == 2
    tips = re.findall(r'<g class="slot"><title>(.*?)</title>', chart)
    assert tips[1] == (
        "2024-01-02T00:00:00Z, 1d 0h: 1 active user, 5 events, 3h 0m active time = "
        "3h 0m 0s (10,800,000,000,000 ns)"
    )
    # Bars scale with active time: 3h and 3h are the same height.
    heights = re.findall(r'class="bar" x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)"', chart)
    assert heights[0] == heights[1]
    points = re.search(r'<polyline class="users" points="([^"]+)"', chart)
    assert points is not None
    ys = [float(p.split(",")[1]) for p in points.group(1).split()]
    assert ys[0] < ys[1]  # two users above one


def test_an_empty_bucket_has_no_bar_but_keeps_its_place() -> None:
    page = page_of(sample(cells=[(1, "bob", 5, 3 * HOUR_US)]))
    assert page.count('class="slot"') == 2
    assert page.count('class="bar"') == 1
    assert '<tr class="empty"><td' in page


@pytest.mark.parametrize(
    ("seconds", "step"),
    [(0, 1), (4, 1), (299, 60), (3 * 3600, 3600), (4.875 * 86400, 86400), (40 * 86400, 10 * 86400)],
)
def test_time_axis_steps(seconds: float, step: int) -> None:
    assert _time_step(seconds) == step


@pytest.mark.parametrize(
    ("peak", "steps", "step"), [(0, 5, 1), (15, 5, 3), (14, 4, 4), (1000, 5, 200), (2600, 5, 1000)]
)
def test_user_axis_steps(peak: int, steps: int, step: int) -> None:
    assert _user_step(peak, steps) == step
    assert step * steps >= peak


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ([(2022, 8, 1, 0), (2022, 8, 8, 0)], ["Aug 1", "Aug 8"]),
        ([(2022, 12, 1, 0), (2023, 1, 1, 0)], ["Dec 2022", "Jan 2023"]),
        ([(2022, 12, 26, 0), (2023, 1, 2, 0)], ["2022-12-26", "2023-01-02"]),
        ([(2022, 8, 8, 9), (2022, 8, 8, 10)], ["09:00", "10:00"]),
        ([(2022, 8, 8, 23), (2022, 8, 9, 0)], ["Aug 8 23:00", "Aug 9 00:00"]),
        ([(2022, 12, 31, 23), (2023, 1, 1, 0)], ["2022-12-31 23:00", "2023-01-01 00:00"]),
    ],
)
def test_x_labels_are_short(times: list[tuple[int, int, int, int]], expected: list[str]) -> None:
    assert _x_labels([datetime(*t, tzinfo=UTC) for t in times]) == expected


def test_x_labels_never_overlap_and_are_few() -> None:
    assert _label_every(["Aug 1"] * 5, 120.0) == 1
    long = ["Aug 8 00:00"] * 72
    every = _label_every(long, 594 / 72)
    assert every * 594 / 72 >= len("Aug 8 00:00") * 7.5 + 16
    assert _label_every(["1"] * 400, 1.5) >= 400 / 8


def test_identicon_is_stable_symmetric_and_drawn_from_any_text() -> None:
    digest = "671b4b1db753a55396036354ff526c8df02e0a53bb4ce4990010a96ab8782ffd"
    first = identicon(digest)
    assert first == identicon(digest)
    assert first != identicon("970ee9aa01c30411825a1f90208c2ce5cffffda643973260bf10fa35b4a188c4")
    cells = {(int(x), int(y)) for x, y in re.findall(r"M(\d) (\d)h1v1h-1z", first)}
    assert cells
    assert all((6 - x, y) in cells for x, y in cells)  # mirrored around the middle column
    assert "<path" in identicon("not hex <b>")
    assert "<b>" not in identicon("not hex <b>")


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (UserInfo("u", "Priya Raman", "priya.r"), "PR"),
        (UserInfo("u", "Joe", "joe2"), "J"),
        (UserInfo("u", "Mary-Jane van der Berg", "mj"), "MB"),
        (UserInfo("u", None, "alice92"), "AL"),
        (UserInfo("6004ad77", None, None), "60"),
        (UserInfo("<>", None, None), "?"),
    ],
)
def test_initials(user: UserInfo, expected: str) -> None:
    assert initials(user) == expected


def test_a_user_without_an_avatar_hash_gets_initials() -> None:
    page = page_of(sample({"ann": ANN}))
    assert '<span class="avatar initials" aria-hidden="true">AA</span>' in page


def test_top_lists_the_most_active_and_says_how_many_more() -> None:
    page = page_of(sample({"ann": ANN}), top=1)
    parsed = Page(page)
    assert [row[0] for row in parsed.tables[1][1:]] == ["bob"]
    assert '<h2 id="users">Top users</h2>' in page
    assert "1 more user not shown; --top 0 lists all" in page
    assert '<h2 id="users">Users</h2>' in page_of(sample({"ann": ANN}), top=0)


def test_nothing_matched_is_the_scope_alone() -> None:
    page = page_of(Report(activity=(), users=()))
    assert "No events match" in page
    assert "<svg" not in page
    assert "<table" not in page


def test_no_active_users_keeps_the_chart_and_says_so() -> None:
    page = page_of(sample(cells=[]))
    assert page.count('class="slot"') == 2
    assert "No active users." in page


def test_the_golden_page_holds_the_json_goldens_numbers() -> None:
    """The HTML golden agrees with the JSON golden, cell by cell."""
    report = json.loads((GOLDEN / "main_job.json").read_text(encoding="utf-8"))
    parsed = Page((GOLDEN / "main_job.html").read_text(encoding="utf-8"))
    buckets, users = parsed.tables
    for row, titles, bucket in zip(
        buckets[1:], parsed.titles[0][1:], report["activity"], strict=True
    ):
        assert str(titles[0]).startswith(bucket["time"] + " to ")
        assert int(row[2]) == len(bucket["user_activity"])
        assert int(row[3].replace(",", "")) == sum(u["count"] for u in bucket["user_activity"])
        active = sum(u["duration"] for u in bucket["user_activity"])
        assert str(titles[4]).endswith(f"({active:,} ns)")
    expected = list(report["users"].values())[:10]
    assert len(users) == 1 + len(expected)
    for row, titles, user in zip(users[1:], parsed.titles[1][1:], expected, strict=True):
        assert row[0] == user["name"]
        assert row[1] == user["username"]
        assert row[2] == ", ".join(user["roles"])
        assert int(row[3].replace(",", "")) == user["total_count"]
        assert str(titles[4]).endswith(f"({user['total_duration']:,} ns)")


def test_the_page_says_when_it_was_generated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mailed or kept report says how old its numbers are."""
    made = datetime(2024, 3, 5, 7, 9, tzinfo=UTC)
    assert (
        '<footer>Generated by activity-report on <time datetime="2024-03-05T07:09:00Z">'
        "2024-03-05 07:09 UTC</time>.</footer>"
    ) in document(sample(), generated=made)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    before = datetime.now(UTC).replace(second=0, microsecond=0)
    stamp = re.search(r'<time datetime="([^"]+)">', document(sample()))
    assert stamp is not None
    assert before <= datetime.fromisoformat(stamp.group(1)) <= datetime.now(UTC)
