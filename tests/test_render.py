"""The renderers on small hand-made reports: records, csv, ndjson, markdown, table."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from markdown_it import MarkdownIt
from rich.cells import cell_len
from rich.console import Console

from activity_report.model import Report, ReportMeta, UserInfo, build_report
from activity_report.render import ColorMode, Format, renderer, summary, writer
from activity_report.render.markdown import escape
from activity_report.render.records import FIELDS, records
from activity_report.render.table import bar, make_console, render

HOUR_US = 3_600_000_000
MINUTE_NS = 60_000_000_000
BERLIN = ZoneInfo("Europe/Berlin")


def day(d: int, tz: object = UTC) -> datetime:
    return datetime(2024, 1, d, tzinfo=tz)  # type: ignore[arg-type]


def sample(
    directory: dict[str, UserInfo] | None = None,
    cells: list[tuple[int, str, int, int]] | None = None,
    orgs: tuple[str, ...] = (),
    category: str = "ide",
) -> Report:
    """Two daily buckets; ``ann`` and ``bob`` in the first, ``bob`` in the second."""
    edges = [day(1), day(2), day(3)]
    meta = ReportMeta(day(1), day(3), "1 day", category, orgs, "UTC")
    if cells is None:
        cells = [(0, "ann", 3, 2 * HOUR_US), (0, "bob", 1, HOUR_US), (1, "bob", 5, 3 * HOUR_US)]
    return build_report(edges, cells, directory or {}, meta)


ANN = UserInfo("ann", "Ann | Admin", "ann_a", ("site-member", "site-admin"))


def test_records_are_flat_and_in_bucket_then_json_order() -> None:
    rows = list(records(sample({"ann": ANN})))
    assert [(r["time"], r["user_id"]) for r in rows] == [
        ("2024-01-01T00:00:00Z", "ann"),
        ("2024-01-01T00:00:00Z", "bob"),
        ("2024-01-02T00:00:00Z", "bob"),
    ]
    assert rows[0] == {
        "time": "2024-01-01T00:00:00Z",
        "bucket_duration": 86_400_000_000_000,
        "user_id": "ann",
        "name": "Ann | Admin",
        "username": "ann_a",
        "count": 3,
        "duration": 7_200_000_000_000,
    }
    assert rows[1]["name"] is None
    assert rows[1]["username"] is None
    assert tuple(rows[0]) == FIELDS


def test_csv_writes_a_header_and_empty_fields_for_unknown_users() -> None:
    text = renderer(Format.csv)(sample({"ann": ANN}))
    assert text.splitlines()[:3] == [
        "time,bucket_duration,user_id,name,username,count,duration",
        "2024-01-01T00:00:00Z,86400000000000,ann,Ann | Admin,ann_a,3,7200000000000",
        "2024-01-01T00:00:00Z,86400000000000,bob,,,1,3600000000000",
    ]
    assert "\r" not in text
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["duration"] for row in parsed] == [
        "7200000000000",
        "3600000000000",
        "10800000000000",
    ]


def test_csv_quotes_a_name_with_a_comma_or_quote() -> None:
    odd = UserInfo("ann", 'Ann "the, first"', "ann")
    text = renderer(Format.csv)(sample({"ann": odd}))
    assert text.splitlines()[1] == (
        '2024-01-01T00:00:00Z,86400000000000,ann,"Ann ""the, first""",ann,3,7200000000000'
    )
    assert next(csv.DictReader(io.StringIO(text)))["name"] == 'Ann "the, first"'


def test_ndjson_is_one_object_per_line_with_nulls() -> None:
    text = renderer(Format.ndjson)(sample({"ann": ANN}))
    lines = text.splitlines()
    assert len(lines) == 3
    assert json.loads(lines[1]) == {
        "time": "2024-01-01T00:00:00Z",
        "bucket_duration": 86_400_000_000_000,
        "user_id": "bob",
        "name": None,
        "username": None,
        "count": 1,
        "duration": 3_600_000_000_000,
    }
    assert text.endswith("\n")


@pytest.mark.parametrize(
    ("fmt", "expected"), [(Format.csv, ",".join(FIELDS) + "\n"), (Format.ndjson, "")]
)
def test_no_activity_is_a_header_or_nothing(fmt: Format, expected: str) -> None:
    assert renderer(fmt)(sample(cells=[])) == expected


def test_json_writer_is_the_api_json() -> None:
    report = json.loads(renderer(Format.json)(sample()))
    assert report["activity"][1]["user_activity"] == [
        {"user_id": "bob", "duration": 10_800_000_000_000, "count": 5}
    ]


def test_the_table_has_no_text_writer() -> None:
    with pytest.raises(ValueError, match="table renders to a console"):
        writer(Format.table)


# --- summaries ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (datetime(2022, 8, 1), datetime(2022, 8, 31), "2022-08-01 through 2022-08-30"),
        (datetime(2022, 8, 1), datetime(2022, 8, 2), "2022-08-01"),
        (datetime(2022, 8, 1, 9), datetime(2022, 8, 2, 9),
         "2022-08-01 09:00 until 2022-08-02 09:00"),
        (datetime(2022, 8, 1), datetime(2022, 8, 1, 12), "2022-08-01 00:00 until 2022-08-01 12:00"),
        (datetime(2022, 8, 1), datetime(2022, 8, 1, 0, 0, 30),
         "2022-08-01 00:00:00 until 2022-08-01 00:00:30"),
    ],
)  # fmt: skip
def test_a_range_names_its_last_day_or_its_exact_end(
    start: datetime, end: datetime, expected: str
) -> None:
    """The same printed range means the same events in every front end."""
    assert summary.span(start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)) == expected


def test_scope_and_totals() -> None:
    report = sample()
    assert summary.scope(report) == (
        "2024-01-01 through 2024-01-02 UTC, every 1 day, category ide, all organizations"
    )
    assert summary.totals(report) == "2 active users, 9 events, 6h 0m active time"
    assert summary.scope(sample(orgs=("o1",), category="any")).endswith(
        "all categories, organization o1"
    )
    assert summary.scope(sample(orgs=("o1", "o2"))).endswith("category ide, organizations o1, o2")


def test_singular_totals() -> None:
    report = sample(cells=[(0, "ann", 1, 60_000_000)])
    assert summary.totals(report) == "1 active user, 1 event, 1m active time"


@pytest.mark.parametrize(
    ("moments", "expected"),
    [
        ([day(1), day(2)], ["2024-01-01", "2024-01-02"]),
        ([day(1), day(1) + timedelta(minutes=30)], ["2024-01-01 00:00", "2024-01-01 00:30"]),
        ([day(1), day(1) + timedelta(seconds=90)], ["2024-01-01 00:00:00", "2024-01-01 00:01:30"]),
        (
            [day(1), day(1) + timedelta(microseconds=1500)],
            ["2024-01-01 00:00:00", "2024-01-01 00:00:00.0015"],
        ),
    ],
)
def test_moments_are_as_precise_as_the_edges_need(
    moments: list[datetime], expected: list[str]
) -> None:
    moment = summary.moment_format(moments)
    assert [moment(m) for m in moments] == expected


def test_moments_show_the_offset_when_it_changes() -> None:
    first = datetime(2024, 10, 27, 2, 0, tzinfo=BERLIN)  # fold 0: +02:00
    second = datetime(2024, 10, 27, 2, 0, fold=1, tzinfo=BERLIN)  # +01:00
    moment = summary.moment_format([first, second])
    assert [moment(first), moment(second)] == ["2024-10-27 02:00 +02:00", "2024-10-27 02:00 +01:00"]


def test_edges_end_at_the_range_end_across_a_dst_change() -> None:
    start = datetime(2024, 3, 31, tzinfo=BERLIN)  # 23 hours long
    end = datetime(2024, 4, 1, tzinfo=BERLIN)
    report = build_report([start, end], [], {}, None)
    assert summary.edges(report)[-1].isoformat() == "2024-04-01T00:00:00+02:00"


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [(1, 3, "33.3%"), (3, 3, "100.0%"), (0, 3, "0.0%"), (1, 100_000, "<0.1%"), (0, 0, "-")],
)
def test_share(part: int, whole: int, expected: str) -> None:
    assert summary.share(part, whole) == expected


# --- markdown -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a|b", "a\\|b"),
        ("*x* _y_", "\\*x\\* \\_y\\_"),
        ("[link](u) <b>", "\\[link\\](u) \\<b\\>"),
        ("back\\slash", "back\\\\slash"),
        ("two\nlines", "two lines"),
        ("Diego Fernández", "Diego Fernández"),
    ],
)
def test_markdown_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


def test_markdown_keeps_a_piped_name_in_its_cell() -> None:
    text = renderer(Format.markdown)(sample({"ann": ANN}))
    assert "| Ann \\| Admin | ann\\_a | site-member, site-admin | 3 | 2h 0m | 33.3% |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert all(line.replace("\\|", "").count("|") in {6, 7} for line in rows)


def test_markdown_whole_text_of_a_small_report() -> None:
    assert renderer(Format.markdown, top=1)(sample({"ann": ANN})) == (
        "## Activity report\n"
        "\n"
        "2024-01-01 through 2024-01-02 UTC, every 1 day, category ide, all organizations: "
        "2 active users, 9 events, 6h 0m active time.\n"
        "\n"
        "### Activity by interval\n"
        "\n"
        "| start | length | active users | events | active time |\n"
        "| --- | ---: | ---: | ---: | ---: |\n"
        "| 2024-01-01 | 1d 0h | 2 | 4 | 3h 0m |\n"
        "| 2024-01-02 | 1d 0h | 1 | 5 | 3h 0m |\n"
        "\n"
        "### Top users\n"
        "\n"
        "| name | username | roles | events | active time | share |\n"
        "| --- | --- | --- | ---: | ---: | ---: |\n"
        "| bob |  |  | 6 | 4h 0m | 66.7% |\n"
        "\n"
        "1 more user not shown; `--top 0` lists all.\n"
    )


def test_a_markdown_renderer_reads_the_tables_and_the_escapes() -> None:
    """markdown-it-py (rich's own Markdown parser) with GFM tables, as GitHub reads them."""
    odd = UserInfo("ann", "Ann | *Admin* <b>", "ann_a", ("a|b",))
    html = (
        MarkdownIt("commonmark")
        .enable("table")
        .render(renderer(Format.markdown)(sample({"ann": odd})))
    )
    assert html.count("<table>") == 2
    assert html.count("<tr>") == 1 + 2 + 1 + 2  # header and rows of each table
    assert "<td>Ann | *Admin* &lt;b&gt;</td>\n<td>ann_a</td>\n<td>a|b</td>" in html
    assert '<td style="text-align:right">33.3%</td>' in html


def test_markdown_with_no_users() -> None:
    text = renderer(Format.markdown)(sample(cells=[]))
    assert text.endswith("| 2024-01-02 | 1d 0h | 0 | 0 | 0s |\n\nNo active users.\n")


# --- table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "peak", "width", "expected"),
    [
        (0, 10, 8, ""),
        (10, 10, 8, "████████"),
        (5, 10, 8, "████"),
        (3, 16, 4, "▊"),  # 3/16 of 32 eighths = 6 eighths
        (9, 16, 4, "██▎"),  # 18 eighths
        (1, 1_000_000, 8, "▏"),  # any activity shows
        (5, 0, 8, ""),
    ],
)
def test_bar(value: int, peak: int, width: int, expected: str) -> None:
    assert bar(value, peak, width) == expected


def draw(report: Report, width: int, top: int = 10) -> str:
    buffer = io.StringIO()
    console = make_console(
        buffer, color=ColorMode.never, is_terminal=False, environ={"COLUMNS": str(width)}
    )
    render(report, console, top=top)
    return buffer.getvalue()


def many_users(n: int) -> Report:
    directory = {
        f"u{i:02d}": UserInfo(
            f"u{i:02d}",
            f"Person Number {i:02d}",
            f"person{i:02d}",
            ("site-member", "template-admin", "organization-auditor"),
        )
        for i in range(n)
    }
    cells = [(0, f"u{i:02d}", i + 1, (i + 1) * 60_000_000) for i in range(n)]
    return sample(directory, cells)


def test_table_whole_text_of_a_small_report() -> None:
    assert draw(sample({"ann": ANN}), 80) == (
        "2024-01-01 through 2024-01-02 UTC, every 1 day, category ide, all organizations\n"
        "2 active users, 9 events, 6h 0m active time\n"
        "\n"
        "Activity by interval\n"
        "start       length  users  events  active\n"
        + "─" * 80 + "\n"
        "2024-01-01   1d 0h      2       4   3h 0m  " + "█" * 37 + "\n"
        "2024-01-02   1d 0h      1       5   3h 0m  " + "█" * 37 + "\n"
        "\n"
        "Users\n"
        "name         username  roles                    events  active  share\n"
        + "─" * 69 + "\n"
        "bob                                                  6   4h 0m  66.7%\n"
        "Ann | Admin  ann_a     site-member, site-admin       3   2h 0m  33.3%\n"
    )  # fmt: skip


@pytest.mark.parametrize("width", [100, 80, 70, 60, 50, 40])
def test_table_rows_never_exceed_the_width(width: int) -> None:
    text = draw(many_users(12), width)
    rows = [
        line
        for line in text.splitlines()
        if "Person" in line or (line.startswith("2024-") and " through " not in line)
    ]
    assert len(rows) == 10 + 2  # one line per user and per bucket: nothing wrapped
    assert max(cell_len(line) for line in rows) <= width
    assert all(row.endswith("%") for row in rows[2:])  # the share is never cut
    assert " ".join(text.split()).endswith("2 more users not shown; --top 0 lists all")


def test_table_ellipsises_then_drops_roles_as_the_width_shrinks() -> None:
    wide = draw(many_users(3), 120)
    assert "site-member, template-admin, organization-auditor" in wide
    at_80 = draw(many_users(3), 80)
    assert "roles" in at_80
    assert "Person Number 00  person00  site-member, template-admin,…       1" in at_80
    at_60 = draw(many_users(3), 60)
    assert "roles" not in at_60
    assert "Person Number 00  person00       1" in at_60
    at_40 = draw(many_users(3), 40)
    assert "username" not in at_40
    assert "Person Number 00       1      1m  16.7%" in at_40
    at_34 = draw(many_users(3), 34)
    assert "Person Num…       1      1m  16.7%" in at_34


def test_table_drops_the_bar_then_the_length_when_there_is_no_room() -> None:
    assert "█" in draw(sample(), 60)
    narrow = draw(sample(), 45)
    assert "█" not in narrow
    assert "start       length  users  events  active" in narrow
    assert "start       users  events  active" in draw(sample(), 40)


def test_table_top_0_shows_everyone_as_users() -> None:
    text = draw(many_users(12), 100, top=0)
    assert "\nUsers\n" in text
    assert "not shown" not in text
    assert text.count("Person Number") == 12


def test_table_without_a_directory_lists_user_ids_only() -> None:
    text = draw(sample(), 80)
    assert "user id  events  active  share" in text
    assert "username" not in text


def test_table_with_nothing_matched_is_one_line() -> None:
    empty = Report((), (), ReportMeta(day(1), day(1), "1 day", "login", (), "UTC"))
    assert draw(empty, 80) == "No events match (category login, all organizations, time zone UTC)\n"


# --- colour ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("color", "is_terminal", "environ", "colored"),
    [
        (ColorMode.auto, True, {"TERM": "xterm-256color"}, True),
        (ColorMode.auto, True, {"TERM": "xterm-256color", "NO_COLOR": "1"}, False),
        (ColorMode.auto, True, {"TERM": "xterm-256color", "NO_COLOR": ""}, True),
        (ColorMode.auto, True, {"TERM": "dumb"}, False),
        (ColorMode.auto, False, {"TERM": "xterm-256color", "FORCE_COLOR": "1"}, False),
        (ColorMode.always, False, {"NO_COLOR": "1"}, True),
        (ColorMode.always, False, {"TERM": "dumb"}, True),
        (ColorMode.never, True, {"TERM": "xterm-256color", "FORCE_COLOR": "1"}, False),
    ],
)
def test_make_console_colour_policy(
    color: ColorMode, is_terminal: bool, environ: dict[str, str], colored: bool
) -> None:
    buffer = io.StringIO()
    console = make_console(buffer, color=color, is_terminal=is_terminal, environ=environ)
    render(sample(), console)
    assert ("\x1b[" in buffer.getvalue()) is colored


def test_not_a_terminal_is_80_columns_or_columns() -> None:
    plain = make_console(io.StringIO(), color=ColorMode.auto, is_terminal=False, environ={})
    assert plain.width == 80
    wide = make_console(
        io.StringIO(), color=ColorMode.auto, is_terminal=False, environ={"COLUMNS": "132"}
    )
    assert wide.width == 132


def test_a_plain_console_passed_in_is_used_as_is() -> None:
    buffer = io.StringIO()
    render(sample(), Console(file=buffer, width=80, color_system=None))
    assert buffer.getvalue() == draw(sample(), 80)
