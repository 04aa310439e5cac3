"""The seats report in HTML: a line chart of the daily figures, stickiness, dormant seats.

:func:`section` is the part a page shows (the Metrics view's Seats page and
:func:`document`, the ``--format html`` page, share it): the stickiness and
the last day's figures, an SVG chart of ``active_1d``, ``active_7d``,
``active_30d`` and ``active_90d`` per day (four lines told apart by colour
and by dash), the days as a table and the dormant seats. No script.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TextIO

from ...seats import Seats
from .. import summary
from .chart import _label_every, _user_step, _x_labels
from .markup import coord, text
from .style import STYLE

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 16, 44
STEPS = 5
#: (field, label, Okabe-Ito colour, dash pattern): colour-blind readers see the dash too.
SERIES = (
    ("active_1d", "Daily", "#D55E00", ""),
    ("active_7d", "7-day", "#0072B2", "7 4"),
    ("active_30d", "30-day", "#009E73", "2 3"),
    ("active_90d", "90-day", "#CC79A7", "10 3 2 3"),
)


def chart(seats: Seats) -> str:
    """An SVG line chart of the four figures per day, with a tooltip per day."""
    days = seats.days
    if not days:
        return '<p class="note">No days in the range.</p>\n'
    peak = max(max(getattr(d, f) for f, *_ in SERIES) for d in days)
    step = _user_step(peak, STEPS)
    top = step * STEPS
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(days)

    def y(value: int) -> str:
        return coord(TOP + plot_h * (1 - value / top))

    def x(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    out = ['<figure class="chart seats-chart">\n<div class="legend" aria-hidden="true">']
    for _, label, colour, dash in SERIES:
        out.append(
            f'<span><svg viewBox="0 0 22 12"><path d="M1 6H21" stroke="{colour}" '
            f'stroke-width="2.5" stroke-dasharray="{dash or "none"}"/></svg>{label} users</span>'
        )
    out.append(
        "</div>\n"
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="seats-title">\n'
        '<title id="seats-title">Active users per day: daily, 7-, 30- and 90-day</title>\n'
    )
    for k in range(STEPS + 1):
        line_y = y(k * step)
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{line_y}" y2="{line_y}"/>'
            f'<text x="{LEFT - 8}" y="{line_y}" text-anchor="end" dominant-baseline="middle">'
            f"{summary.number(k * step)}</text>\n"
        )
    labels = _x_labels([_midnight(d.day) for d in days])
    every = _label_every(labels, slot)
    for i, d in enumerate(days):
        tip = (
            f"{d.day.isoformat()}: {d.active_1d} daily, {d.active_7d} 7-day, "
            f"{d.active_30d} 30-day, {d.active_90d} 90-day active users"
        )
        out.append(
            f'<g class="slot"><title>{text(tip)}</title><rect class="hit" '
            f'x="{coord(LEFT + slot * i)}" y="{TOP}" width="{coord(slot)}" height="{plot_h}"/></g>'
        )
        if i % every == 0:
            out.append(
                f'<text x="{coord(x(i))}" y="{HEIGHT - BOTTOM + 22}" text-anchor="middle">'
                f"{text(labels[i])}</text>\n"
            )
    for field, _, colour, dash in SERIES:
        points = " ".join(f"{coord(x(i))},{y(getattr(d, field))}" for i, d in enumerate(days))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline class="line {field}" points="{points}" stroke="{colour}"{dashed} '
            'fill="none" stroke-width="2.5" stroke-linejoin="round"/>\n'
        )
    out.append("</svg>\n</figure>\n")
    return "".join(out)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def figures(seats: Seats) -> str:
    """Stickiness and the last day's figures, as the report's totals."""
    last = seats.days[-1] if seats.days else None
    sticky = "n/a" if seats.stickiness is None else f"{seats.stickiness:.2f}"
    items = [("Stickiness", sticky, "stickiness")]
    if last is not None:
        items += [
            (f"Daily users on {last.day.isoformat()}", str(last.active_1d), "last-1d"),
            ("30-day users", str(last.active_30d), "last-30d"),
            ("90-day users", str(last.active_90d), "last-90d"),
        ]
    items.append(("Dormant seats", str(len(seats.dormant)), "dormant-count"))
    cells = "".join(
        f'<div><dt>{text(label)}</dt><dd id="{key}">{text(value)}</dd></div>'
        for label, value, key in items
    )
    return (
        f'<dl class="totals seats-totals">{cells}</dl>\n'
        '<p class="note">Stickiness: the daily active users over the 30-day active users, '
        "averaged over the range (the sum of the daily figures over the sum of the 30-day "
        "ones).</p>\n"
    )


def days_table(seats: Seats) -> str:
    rows = "".join(
        f"<tr><td>{d.day.isoformat()}</td><td>{d.active_1d}</td><td>{d.active_7d}</td>"
        f"<td>{d.active_30d}</td><td>{d.active_90d}</td></tr>"
        for d in seats.days
    )
    return (
        '<div class="scroll tall"><table class="buckets seats-days"><thead><tr><th>Day</th>'
        '<th class="num">Daily</th><th class="num">7-day</th><th class="num">30-day</th>'
        '<th class="num">90-day</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></div>\n"
    )


def dormant_table(seats: Seats) -> str:
    if not seats.dormant:
        return '<p class="note" id="no-dormant">No dormant seats.</p>\n'
    rows = "".join(
        f'<tr><td class="user-id">{text(u.user_id)}</td><td class="username">'
        f"{text(u.username or '')}</td><td>{text(u.name or '')}</td>"
        f'<td class="last-active">{"never" if u.last_active is None else u.last_active}</td>'
        "</tr>"
        for u in seats.dormant
    )
    return (
        '<div class="scroll"><table class="dormant"><thead><tr><th>User</th><th>Username</th>'
        f"<th>Name</th><th>Last active</th></tr></thead><tbody>{rows}</tbody></table></div>\n"
    )


def section(seats: Seats) -> str:
    """Figures, chart, days and dormant seats: the body of a seats page."""
    return (
        figures(seats)
        + '<section aria-labelledby="by-day">\n<h2 id="by-day">Active users by day</h2>\n'
        + chart(seats)
        + days_table(seats)
        + "</section>\n"
        + '<section aria-labelledby="dormant">\n<h2 id="dormant">Dormant seats</h2>\n'
        + dormant_table(seats)
        + "</section>\n"
    )


def document(seats: Seats) -> str:
    """A self-contained page (``--format html``): inline CSS and SVG, no script."""
    days = seats.days
    scope = f"{days[0].day} to {days[-1].day}, {len(days)} days" if days else "No days"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>Seats: {text(scope)}</title>\n<style>{STYLE}</style>\n"
        '</head>\n<body>\n<main class="report">\n<h1>Seats</h1>\n'
        f'<p class="scope">{text(scope)}</p>\n{section(seats)}</main>\n</body>\n</html>\n'
    )


def write(seats: Seats, out: TextIO) -> None:
    out.write(document(seats))
