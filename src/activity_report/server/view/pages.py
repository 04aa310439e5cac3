"""The view's pages: the sign-in form, and the filters above the HTML report."""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from ...errors import ActivityReportError
from ...model import Report
from ...render import html as page
from .filters import CONTROLS, api_values, file_name, listed

USERS_PER_PAGE = 50
API_PATH = "/api/private/metrics/activity"
CSV_PATH = "/metrics/activity.csv"
ACTIONS = (
    ("any", "Any"),
    ("ide", "IDE"),
    ("login", "Login"),
    ("app", "App"),
    ("tunnel", "Tunnel"),
    ("web_terminal", "Web Terminal"),
)
INTERVALS = ("day", "week", "month", "quarter", "2 week", "90 day", "year", "1 hour")


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{page.text(title)}</title>\n"
        '<link rel="icon" href="/favicon.svg" type="image/svg+xml">\n'
        '<link rel="stylesheet" href="/view.css">\n'
        '<script src="/view.js" defer></script>\n'
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )


SESSION_ENDED = (
    "You were signed out: the session's token was revoked or has expired. "
    "Sign in with a valid token."
)


def sign_in_page(
    *, next_query: str = "", error: str | None = None, notice: str | None = None
) -> str:
    """A token field and a button; no data at all. ``notice`` says why one is signed out."""
    message = (
        f'<p class="error" id="token-error" role="alert">{page.text(error)}</p>' if error else ""
    )
    ended = (
        f'<p class="notice" id="signed-out" role="status">{page.text(notice)}</p>\n'
        if notice
        else ""
    )

    described = ' aria-describedby="token-error" aria-invalid="true"' if error else ""
    return _document(
        "Sign in - Metrics",
        '<main class="report signin">\n<h1>Metrics</h1>\n'
        "<p>Sign in with a session token (<code>activity-report tokens create</code>).</p>\n"
        f"{ended}"
        '<form method="post" action="/signin">\n'
        '<label for="token">Session token</label>\n'
        f'<input id="token" name="token" type="password" autocomplete="off" required autofocus'
        f"{described}>\n{message}\n"
        f'<input type="hidden" name="next" value="{page.text(next_query)}">\n'
        '<input type="hidden" name="tz" id="signin-tz" value="">\n'
        '<button type="submit">Sign in</button>\n</form>\n</main>\n',
    )


def metrics_page(
    filters: Mapping[str, str],
    organizations: Sequence[tuple[str, str | None]],
    report: Report | None,
    problem: ActivityReportError | None,
    page_number: int = 1,
) -> str:
    """The filters, then the report (or the error next to the control at fault)."""
    errors = _errors_by_control(problem)
    parts = [
        topbar(filters, "/"),
        '<main class="report">\n',
        _controls(filters, organizations, errors),
    ]
    if "" in errors:
        parts.append(f'<p class="error" role="alert" id="error">{page.text(errors[""])}</p>\n')
    if report is not None:
        parts.append(_asked(filters, report))
        parts.append(page.summary_section(report))
        if report.activity:
            parts += [
                '<section aria-labelledby="by-interval">\n',
                '<h2 id="by-interval">Activity by interval</h2>\n',
                page.chart(report),
                _scrolls(len(report.activity)),
                '<div class="tall">',
                page.buckets_table(report),
                "</div>",
                "</section>\n",
            ]
            parts.append(_users(filters, report, page_number))
    parts.append("</main>\n")
    return _document("Metrics", "".join(parts))


#: The view's pages, linked from each one's top bar with the same filters.
PAGES = (("/", "Activity"), ("/seats", "Seats"))


def topbar(filters: Mapping[str, str], current: str) -> str:
    """The title, links to the pages for the same filters, and the sign-out button."""
    query = urlencode([(k, filters[k]) for k in CONTROLS if k in filters])
    here = ' aria-current="page"'
    links = "".join(
        f'<a href="{path}?{page.text(query)}"{here if path == current else ""}>{label}</a>'
        for path, label in PAGES
    )
    return (
        f'<header class="topbar"><h1>Metrics</h1><nav class="views" aria-label="Pages">{links}'
        '</nav><form method="post" action="/signout"><button type="submit" class="link">'
        "Sign out</button></form></header>\n"
    )


def _errors_by_control(problem: ActivityReportError | None) -> dict[str, str]:
    """The error's message, under the control it concerns ('' for none in particular)."""
    if problem is None:
        return {}
    params = tuple(getattr(problem, "params", ()) or ())
    param = getattr(problem, "param", None)
    named = [param] if param else list(params)
    message = str(problem)
    for name in named:
        if name in CONTROLS:
            return {name: message}
    return {"": message}


def _controls(
    filters: Mapping[str, str],
    organizations: Sequence[tuple[str, str | None]],
    errors: Mapping[str, str],
    action: str = "/",
) -> str:
    def field_(name: str, label: str, control: str) -> str:
        error = errors.get(name)
        note = (
            f'<span class="error" id="{name}-error" role="alert">{page.text(error)}</span>'
            if error
            else ""
        )
        return f'<div class="field"><label for="f-{name}">{label}</label>{control}{note}</div>\n'

    def invalid(name: str) -> str:
        return f' aria-invalid="true" aria-describedby="{name}-error"' if name in errors else ""

    def options(choices: Sequence[tuple[str, str]], chosen: str) -> str:
        return "".join(
            f'<option value="{page.text(value)}"{" selected" if value == chosen else ""}>'
            f"{page.text(label)}</option>"
            for value, label in choices
        )

    orgs = [("", "All"), *((oid, name or oid) for oid, name in organizations)]
    if filters.get("org") and filters["org"] not in {oid for oid, _ in orgs}:
        orgs.append((filters["org"], filters["org"]))
    intervals = "".join(f'<option value="{i}"></option>' for i in INTERVALS)
    return (
        f'<form id="filters" class="filters" method="get" action="{action}">\n'
        + field_(
            "org",
            "Organization",
            f'<select id="f-org" name="org"{invalid("org")}>'
            f"{options(orgs, filters.get('org', ''))}</select>",
        )
        + field_(
            "category",
            "Action",
            f'<select id="f-category" name="category"{invalid("category")}>'
            f"{options(ACTIONS, filters['category'])}</select>",
        )
        + field_(
            "start",
            "Start",
            f'<input id="f-start" name="start" type="date" '
            f'value="{page.text(filters["start"])}"{invalid("start")}>',
        )
        + field_(
            "end",
            "End",
            f'<input id="f-end" name="end" type="date" '
            f'value="{page.text(filters["end"])}"{invalid("end")}>',
        )
        + field_(
            "interval",
            "Interval",
            f'<input id="f-interval" name="interval" list="intervals" '
            f'value="{page.text(filters["interval"])}"{invalid("interval")}>'
            f'<datalist id="intervals">{intervals}</datalist>',
        )
        + field_(
            "tz",
            "Time zone",
            f'<input id="f-tz" name="tz" list="zones" autocomplete="off" '
            f'value="{page.text(filters["tz"])}"{invalid("tz")}>{_zones()}',
        )
        + (
            field_(
                "min_users",
                "Min. users",
                '<input id="f-min_users" name="min_users" type="number" min="1" step="1" '
                'placeholder="any" title="Withhold every interval with fewer active users" '
                f'value="{page.text(filters.get("min_users", ""))}"{invalid("min_users")}>',
            )
            if action == "/"  # the seats are counts: nothing to withhold
            else ""
        )
        + '<div class="field"><button type="submit">Show</button></div>\n</form>\n'
    )


@functools.cache
def _zones() -> str:
    """The IANA zone names, as suggestions for the time zone field (any offset works too)."""
    names = ("UTC", *sorted(zoneinfo.available_timezones() - {"UTC"}))
    return '<datalist id="zones">' + "".join(f'<option value="{n}">' for n in names) + "</datalist>"


def _asked(filters: Mapping[str, str], report: Report) -> str:
    """The exact range asked for, and the downloads of the same report."""
    values = api_values(filters)
    query = urlencode([(k, v) for k, vs in values.items() for v in listed(vs)])
    meta = report.meta
    exact = "" if meta is None else _counted(meta.start, meta.end, meta.tz)
    return (
        f'<p class="asked"><span id="asked">{exact}</span> Download: '
        f'<a id="download-json" href="{API_PATH}?{page.text(query)}" '
        f'download="{page.text(file_name(report, "json"))}">JSON</a> · '
        f'<a id="download-csv" href="{CSV_PATH}?{page.text(query)}" '
        f'download="{page.text(file_name(report, "csv"))}">CSV</a></p>\n'
    )


#: About as many rows of the interval table as its box shows before it scrolls.
ROWS_SHOWN = 12


def _scrolls(rows: int) -> str:
    """A word that the table scrolls, above a table longer than its box."""
    if rows <= ROWS_SHOWN:
        return ""
    return (
        f'<p class="note" id="more-rows">{rows:,} intervals: scroll the table to see them all.</p>'
    )


def _counted(start: datetime, end: datetime, zone: str) -> str:
    """``Counted from the start of Mon 1 Aug 2022 to the end of Wed 31 Aug 2022 (UTC).``"""

    def day(moment: date) -> str:
        return f"{moment:%a} {moment.day} {moment:%b %Y}"

    def instant(moment: datetime) -> str:
        if moment.second or moment.microsecond:
            return f"{day(moment)} {moment:%H:%M:%S}"
        return f"{day(moment)} {moment:%H:%M}"

    if all(m.hour == m.minute == m.second == m.microsecond == 0 for m in (start, end)):
        last = end.date() - timedelta(days=1)
        text = f"Counted from the start of {day(start)} to the end of {day(last)}"
    else:
        text = f"Counted from {instant(start)} up to, not including, {instant(end)}"
    return page.text(f"{text} ({zone}).")


def _users(filters: Mapping[str, str], report: Report, number: int) -> str:
    """The users table, a page of USERS_PER_PAGE at a time, with links to the others."""
    total = len(report.users)
    if total == 0:
        return '<section><h2 id="users">Users</h2><p class="note">No active users.</p></section>\n'
    pages = max(1, -(-total // USERS_PER_PAGE))
    number = min(number, pages)
    first = (number - 1) * USERS_PER_PAGE
    shown = report.users[first : first + USERS_PER_PAGE]
    links = ""
    if pages > 1:

        def link(to: int, label: str, rel: str) -> str:
            query = urlencode([*((k, filters[k]) for k in CONTROLS if k in filters), ("page", to)])
            return f'<a rel="{rel}" href="/?{page.text(query)}">{label}</a>'

        previous = link(number - 1, "Previous", "prev") if number > 1 else ""
        following = link(number + 1, "Next", "next") if number < pages else ""
        links = (
            f'<nav class="pages" aria-label="Users pages">{previous}'
            f"<span>Users {first + 1:,}-{first + len(shown):,} of {total:,}</span>"
            f"{following}</nav>\n"
        )
    return (
        '<section aria-labelledby="users">\n<h2 id="users">Users</h2>\n'
        + links
        + page.users_table(shown, report.total_duration)
        + links
        + "</section>\n"
    )
