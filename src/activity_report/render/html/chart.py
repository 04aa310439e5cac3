"""The SVG chart: active time per interval as bars, active users as a line."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from ...model import Report, rfc3339
from .. import summary
from ..durations import NS_PER_SECOND, human
from .markup import coord, exact_duration, text
from .style import TIME_COLOR, USERS_COLOR

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 56, 16, 44
MAX_LABELS = 8
LABEL_CHAR, LABEL_GAP = 7.5, 16  # a label's width per character and between two, at 13px
MAX_DOTS = 40  # more intervals than this: the users line has no markers
TIME_STEPS = (
    *(1, 2, 5, 10, 15, 30),
    *(60 * m for m in (1, 2, 5, 10, 15, 30)),
    *(3_600 * h for h in (1, 2, 3, 6, 12)),
)
"""Nice steps of the active-time axis below a day, in seconds; days go 1, 2, 5, 10, ..."""


def chart(report: Report) -> str:
    """An SVG chart: active time per interval as bars, active users as a line.

    Both axes have the same number of steps, so one set of grid lines serves
    both. Each interval's column has a tooltip with the exact values.
    """
    buckets = report.activity
    active = [sum(u.duration for u in b.user_activity) for b in buckets]
    users = [len(b.user_activity) for b in buckets]
    seconds = max(active, default=0) / NS_PER_SECOND
    time_step = _time_step(seconds)
    steps = max(1, math.ceil(seconds / time_step))
    user_step = _user_step(max(users, default=0), steps)
    time_top = steps * time_step * NS_PER_SECOND
    user_top = steps * user_step
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(buckets)
    bar_w = slot * (0.62 if len(buckets) <= MAX_DOTS else 0.85)

    def y(fraction: float) -> str:
        return coord(TOP + plot_h * (1 - fraction))

    out = [
        '<figure class="chart">\n',
        '<div class="legend" aria-hidden="true">',
        f'<span><svg viewBox="0 0 22 12"><rect x="5" y="1" width="12" height="10" '
        f'fill="{TIME_COLOR}"/></svg>Active time (left axis)</span>',
        f'<span><svg viewBox="0 0 22 12"><path d="M1 6H21" stroke="{USERS_COLOR}" '
        f'stroke-width="2.5"/><circle cx="11" cy="6" r="3.5" fill="#fff" '
        f'stroke="{USERS_COLOR}" stroke-width="2"/></svg>Active users (right axis)</span>',
        "</div>\n",
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title">\n',
        '<title id="chart-title">Active time and active users per interval</title>\n',
    ]
    for k in range(steps + 1):
        fraction = k / steps
        line_y = y(fraction)
        out.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{line_y}" '
                   f'y2="{line_y}"/>')  # fmt: skip
        out.append(
            f'<text class="axis-time" x="{LEFT - 8}" y="{line_y}" text-anchor="end" '
            f'dominant-baseline="middle">{_tick(k * time_step, time_step)}</text>'
            f'<text class="axis-users" x="{WIDTH - RIGHT + 8}" y="{line_y}" '
            f'dominant-baseline="middle">{summary.number(k * user_step)}</text>\n'
        )
    labels = _x_labels([b.time for b in buckets])
    every = _label_every(labels, slot)
    points = []
    for i, (bucket, ns, count) in enumerate(zip(buckets, active, users, strict=True)):
        centre = LEFT + slot * (i + 0.5)
        height = plot_h * ns / time_top if time_top else 0.0
        tip = (
            f"{rfc3339(bucket.time)}, {human(bucket.duration)}: {count} active "
            f"{'user' if count == 1 else 'users'}, "
            f"{summary.number(sum(u.count for u in bucket.user_activity))} events, "
            f"{human(ns)} active time = {exact_duration(ns)}"
            if not bucket.withheld
            else f"{rfc3339(bucket.time)}, {human(bucket.duration)}: "
            f"{summary.withheld(report)[0]} active users, withheld"
        )
        out.append(
            f'<g class="slot"><title>{text(tip)}</title>'
            f'<rect class="hit" x="{coord(LEFT + slot * i)}" y="{TOP}" width="{coord(slot)}" '
            f'height="{plot_h}"/>'
        )
        if height > 0:
            out.append(
                f'<rect class="bar" x="{coord(centre - bar_w / 2)}" '
                f'y="{coord(TOP + plot_h - height)}" '
                f'width="{coord(bar_w)}" height="{coord(max(height, 0.5))}" fill="{TIME_COLOR}"/>'
            )
        out.append("</g>\n")
        points.append((centre, count / user_top))
        if i % every == 0:
            minor = "" if (i // every) % 2 == 0 else ' class="minor"'
            out.append(
                f'<text{minor} x="{coord(centre)}" y="{HEIGHT - BOTTOM + 22}" '
                f'text-anchor="middle">{text(labels[i])}</text>\n'
            )
    path = " ".join(f"{coord(x)},{y(f)}" for x, f in points)
    out.append(f'<polyline class="users" points="{path}" stroke="{USERS_COLOR}" fill="none"/>\n')
    if len(points) <= MAX_DOTS:
        out.extend(f'<circle class="dot" cx="{coord(x)}" cy="{y(f)}" r="4"/>' for x, f in points)
        out.append("\n")
    out.append("</svg>\n</figure>\n")
    return "".join(out)


def _time_step(seconds: float) -> int:
    """The smallest nice step that covers ``seconds`` in at most 5 steps."""
    for step in TIME_STEPS:
        if seconds <= 5 * step:
            return step
    days = seconds / 86_400 / 5
    magnitude = 10 ** math.floor(math.log10(days)) if days >= 1 else 1
    for nice in (1, 2, 5, 10):
        if days <= nice * magnitude:
            return int(nice * magnitude * 86_400)
    raise AssertionError("unreachable: 10 x magnitude exceeds days")


def _user_step(peak: int, steps: int) -> int:
    """The smallest nice integer step with ``steps`` of them reaching ``peak``."""
    need = max(1, math.ceil(peak / steps))
    magnitude = 1
    while True:
        for nice in (1, 2, 3, 4, 5, 10) if magnitude == 1 else (1, 2, 2.5, 5, 10):
            step = nice * magnitude
            if step >= need and step == int(step):
                return int(step)
        magnitude *= 10


def _tick(seconds: int, step: int) -> str:
    """An axis label in the step's unit: ``30m``, ``12h``, ``2d``."""
    if step % 86_400 == 0:
        return f"{seconds // 86_400}d"
    if step % 3_600 == 0:
        return f"{seconds // 3_600}h"
    if step % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def _x_labels(times: Sequence[datetime]) -> list[str]:
    """Short bucket labels: ``Aug 1``, ``Aug 2022``, ``09:00`` or ``Aug 8 09:00``.

    The year shows only when the buckets span more than one.
    """
    moment = summary.moment_format(times)
    one_year = len({t.year for t in times}) == 1
    if all(t.hour == t.minute == t.second == t.microsecond == 0 for t in times):
        if one_year:
            return [f"{t:%b} {t.day}" for t in times]
        if all(t.day == 1 for t in times):
            return [f"{t:%b %Y}" for t in times]
        return [moment(t) for t in times]
    if len({t.date() for t in times}) == 1:
        return [moment(t)[11:] for t in times]  # one day: the time alone
    if one_year:
        return [f"{t:%b} {t.day} {moment(t)[11:]}" for t in times]
    return [moment(t) for t in times]


def _label_every(labels: Sequence[str], slot: float) -> int:
    """Label every n-th bucket: no two labels overlap, and at most MAX_LABELS of them."""
    widest = max((len(label) for label in labels), default=0) * LABEL_CHAR + LABEL_GAP
    return max(1, math.ceil(widest / slot), math.ceil(len(labels) / MAX_LABELS))
