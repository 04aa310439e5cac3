"""``--format html``: one self-contained page, for a browser or a mail.

The summary, a chart of active users and active time per interval, the
bucket table and the users table, with inline CSS and SVG: no script,
nothing fetched from the network (no fonts, no images; avatars are drawn
from the avatar hash). Values read like the table's (``20h 0m``); the exact
ones are in ``title`` tooltips. The colours are the Okabe-Ito pair blue and
vermillion, told apart by colour-blind readers too, and the chart's two
series differ in shape as well (bars and a line). Every text from the data
is escaped, and control characters are shown as visible symbols.

The pieces (:func:`summary_section`, :func:`chart`, :func:`buckets_table`,
:func:`users_table`, :data:`STYLE`) are public so that a served view can
show the same report inside its own page.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TextIO

from ..model import Report, UserInfo, UserTotal, rfc3339
from . import DEFAULT_TOP, summary
from .durations import NS_PER_SECOND, human

TIME_COLOR = "#0072B2"  # Okabe-Ito blue: active time (bars)
USERS_COLOR = "#D55E00"  # Okabe-Ito vermillion: active users (line)

STYLE = """\
:root{--fg:#1c2025;--muted:#5a6470;--line:#d5dae0;--soft:#f3f5f7;--bg:#fff;\
--time:#0072B2;--users:#D55E00;color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:var(--soft);color:var(--fg);\
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.report{max-width:960px;margin:0 auto;padding:24px 20px 32px;background:var(--bg)}
.report h1{font-size:1.45rem;margin:0 0 4px}
.report h2{font-size:1.1rem;margin:28px 0 10px}
.scope{margin:0;color:var(--muted)}
.facts{display:flex;flex-wrap:wrap;gap:4px 20px;margin:14px 0 0;padding:0}
.facts div{display:flex;gap:6px}
.facts dt{color:var(--muted)}
.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.totals{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:12px;margin:18px 0 0;\
padding:0}
.totals div{border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.totals dt{color:var(--muted);font-size:.85rem}
.totals dd{margin:0;font-size:1.5rem;font-weight:700;font-variant-numeric:tabular-nums}
.chart{margin:0}
.chart svg{display:block;width:100%;height:auto}
.chart text{font-size:13px;fill:var(--muted)}
.chart .axis-time{fill:var(--time)}
.chart .axis-users{fill:var(--users)}
.chart .grid{stroke:var(--line);stroke-width:1}
.chart .bar{fill:var(--time)}
.chart .users{fill:none;stroke:var(--users);stroke-width:2.5;stroke-linejoin:round}
.chart .dot{fill:var(--bg);stroke:var(--users);stroke-width:2}
.chart .hit{fill:#000;fill-opacity:0}
.chart .slot:hover .hit{fill-opacity:.06}
.legend{display:flex;flex-wrap:wrap;gap:4px 18px;margin:0 0 6px;color:var(--muted);\
font-size:.9rem}
.legend span{display:inline-flex;align-items:center;gap:6px}
.legend svg{width:22px;height:12px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;\
vertical-align:middle}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);\
font-weight:600}
.num,.buckets td{text-align:right;white-space:nowrap}
.buckets td:first-child{text-align:left}
td[title]{cursor:help}
.buckets .empty td{color:var(--muted)}
.user{display:flex;align-items:center;gap:10px;min-width:0}
.user bdi{overflow-wrap:break-word;min-width:0}
.avatar{flex:none;width:30px;height:30px;border-radius:6px;overflow:hidden}
.initials{display:inline-flex;align-items:center;justify-content:center;background:#5a6470;\
color:#fff;font-size:.75rem;font-weight:700}
.roles{color:var(--muted);font-size:.9rem}
.share{display:flex;align-items:center;justify-content:flex-end;gap:8px}
.share svg{width:60px;height:8px;flex:none}
.share .track{fill:var(--line)}
.share .fill{fill:var(--time)}
.note{color:var(--muted);margin:10px 0 0}
footer{margin-top:28px;color:var(--muted);font-size:.8rem}
@media (max-width:640px){
body{font-size:14px;background:var(--bg)}
.report{padding:16px 12px 24px}
.totals{gap:8px}
.totals div{padding:8px 10px}
.totals dd{font-size:1.15rem}
.chart text{font-size:24px}
th,td{padding:6px 5px}
th{letter-spacing:0}
.long{display:none}
.chart .minor{display:none}
.users thead{display:none}
.users tr{display:grid;grid-template-columns:minmax(0,1fr) auto 7.2em;\
grid-template-areas:"name name active" "user events share" "roles roles roles";\
gap:2px 12px;padding:10px 0 10px 40px;border-bottom:1px solid var(--line)}
.users td{border:0;padding:0;text-align:left}
.users .name-cell{grid-area:name;margin-left:-40px;font-weight:600}
.users .username{grid-area:user;color:var(--muted);overflow-wrap:anywhere}
.users .events{grid-area:events}
.users .events::after{content:" events";color:var(--muted)}
.users .active{grid-area:active;font-weight:600;text-align:right}
.users .roles{grid-area:roles}
.users .share-cell{grid-area:share}
.users .share-cell .share{justify-content:flex-end}
.share svg{width:40px}
}
@media print{
body{background:#fff;font-size:11pt}
.report{max-width:none;padding:0}
.scroll{overflow:visible}
tr,.totals div,.chart{break-inside:avoid}
h2{break-after:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: ␀ ␛ …
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"


def text(value: object) -> str:
    """``value`` safe in HTML text and in quoted attributes.

    Markup characters are escaped, and characters HTML cannot carry (NUL,
    ESC, DEL, lone surrogates, ...) become visible symbols, so a user id
    holding ``<script>`` or ``\\x1b[31m`` shows as written and does nothing.
    Anything beyond ASCII is a character reference (``&#xe1;``): the page is
    ASCII, so a mailer that re-encodes its text cannot garble the names.
    """
    escaped = html.escape(_CONTROL.sub(_visible, str(value)), quote=True)
    return escaped.encode("ascii", "xmlcharrefreplace").decode("ascii")


def exact_duration(nanoseconds: int) -> str:
    """Every unit, then the nanoseconds: ``3d 4h 44m 0s (276,240,000,000,000 ns)``."""
    seconds, fraction = divmod(nanoseconds, NS_PER_SECOND)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    while parts and parts[0][0] == 0:
        parts.pop(0)
    second = f"{secs}.{fraction:09d}".rstrip("0") if fraction else str(secs)
    words = " ".join(f"{value}{unit}" for value, unit in parts)
    return f"{words} {second}s".lstrip() + f" ({nanoseconds:,} ns)"


def write(report: Report, out: TextIO, *, top: int = DEFAULT_TOP) -> None:
    out.write(document(report, top=top))


def document(report: Report, *, top: int = DEFAULT_TOP) -> str:
    """The whole page: ``top`` users in the users table, 0 for all of them."""
    points = summary.edges(report)
    title = "Activity report"
    if points:
        moment = summary.moment_format(points)
        title += f", {moment(points[0])} to {moment(points[-1])}"
    parts = [
        "<!DOCTYPE html>\n",
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{text(title)}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        '<main class="report">\n<header>\n<h1>Activity report</h1>\n',
        f'<p class="scope">{text(summary.scope(report))}</p>\n</header>\n',
        summary_section(report),
    ]
    if report.activity:
        parts += [
            '<section aria-labelledby="by-interval">\n',
            '<h2 id="by-interval">Activity by interval</h2>\n',
            chart(report),
            buckets_table(report),
            "</section>\n",
        ]
        shown = report.users if top == 0 else report.users[:top]
        heading = "Top users" if len(shown) < len(report.users) else "Users"
        parts += ['<section aria-labelledby="users">\n', f'<h2 id="users">{heading}</h2>\n']
        if report.users:
            parts.append(users_table(shown, report.total_duration))
            hidden = len(report.users) - len(shown)
            if hidden:
                parts.append(f'<p class="note">{text(summary.more_users(hidden))}</p>\n')
        else:
            parts.append('<p class="note">No active users.</p>\n')
        parts.append("</section>\n")
    parts.append("<footer>Made by activity-report.</footer>\n</main>\n</body>\n</html>\n")
    return "".join(parts)


def summary_section(report: Report, *, last_day: bool = False) -> str:
    """What was asked (range, interval, category, organizations, zone), then the totals.

    ``last_day``: a range of whole days reads as its first and last day, as
    a date picker gives them (the exact range stays in the tooltip).
    """
    meta = report.meta
    points = summary.edges(report)
    facts: list[tuple[str, str, str]] = []
    if points:
        moment = summary.moment_format(points)
        exact = f"from {rfc3339(points[0])} up to (not including) {rfc3339(points[-1])}"
        shown = f"{moment(points[0])} to {moment(points[-1])}"
        if last_day and all(p.hour == p.minute == p.second == p.microsecond == 0 for p in points):
            end = points[-1].date() - timedelta(days=1)
            shown = f"{points[0]:%Y-%m-%d} to {end:%Y-%m-%d}, both included"
        facts.append(("Range", shown, exact))
    if meta is not None:
        category = "any" if meta.category == "any" else meta.category
        orgs = ", ".join(meta.orgs) if meta.orgs else "all"
        facts += [
            ("Interval", meta.interval, ""),
            ("Category", category, ""),
            ("Organizations", orgs, ""),
            ("Time zone", meta.tz, ""),
        ]
    rows = "".join(
        f"<div><dt>{text(label)}</dt><dd{_title(tip)}>{text(value)}</dd></div>"
        for label, value, tip in facts
    )
    totals = (
        f"<div><dt>Active users</dt><dd>{summary.number(len(report.users))}</dd></div>"
        f"<div><dt>Events</dt><dd>{summary.number(report.total_count)}</dd></div>"
        f"<div><dt>Active time</dt><dd{_title(exact_duration(report.total_duration))}>"
        f"{text(human(report.total_duration))}</dd></div>"
    )
    return (
        '<section class="summary" aria-label="Summary">\n'
        f'<dl class="facts">{rows}</dl>\n<dl class="totals">{totals}</dl>\n</section>\n'
    )


def _title(tip: str) -> str:
    return f' title="{text(tip)}"' if tip else ""


# --------------------------------------------------------------------------- the chart

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
        return _n(TOP + plot_h * (1 - fraction))

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
        )
        out.append(
            f'<g class="slot"><title>{text(tip)}</title>'
            f'<rect class="hit" x="{_n(LEFT + slot * i)}" y="{TOP}" width="{_n(slot)}" '
            f'height="{plot_h}"/>'
        )
        if height > 0:
            out.append(
                f'<rect class="bar" x="{_n(centre - bar_w / 2)}" y="{_n(TOP + plot_h - height)}" '
                f'width="{_n(bar_w)}" height="{_n(max(height, 0.5))}" fill="{TIME_COLOR}"/>'
            )
        out.append("</g>\n")
        points.append((centre, count / user_top))
        if i % every == 0:
            minor = "" if (i // every) % 2 == 0 else ' class="minor"'
            out.append(
                f'<text{minor} x="{_n(centre)}" y="{HEIGHT - BOTTOM + 22}" '
                f'text-anchor="middle">{text(labels[i])}</text>\n'
            )
    path = " ".join(f"{_n(x)},{y(f)}" for x, f in points)
    out.append(f'<polyline class="users" points="{path}" stroke="{USERS_COLOR}" fill="none"/>\n')
    if len(points) <= MAX_DOTS:
        out.extend(f'<circle class="dot" cx="{_n(x)}" cy="{y(f)}" r="4"/>' for x, f in points)
        out.append("\n")
    out.append("</svg>\n</figure>\n")
    return "".join(out)


def _n(value: float) -> str:
    """A coordinate with at most one decimal: compact, and the same on every platform."""
    return f"{value:.1f}".removesuffix(".0")


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


# --------------------------------------------------------------------------- tables


def buckets_table(report: Report) -> str:
    """One row per interval: start, length, active users, events, active time."""
    moment = summary.moment_format(summary.edges(report))
    points = summary.edges(report)
    rows = []
    for bucket, end in zip(report.activity, points[1:], strict=True):
        active = sum(u.duration for u in bucket.user_activity)
        events = sum(u.count for u in bucket.user_activity)
        empty = ' class="empty"' if not bucket.user_activity else ""
        rows.append(
            f"<tr{empty}><td{_title(f'{rfc3339(bucket.time)} to {rfc3339(end)}')}>"
            f"{text(moment(bucket.time))}</td>"
            f'<td class="num"{_title(exact_duration(bucket.duration))}>'
            f"{text(human(bucket.duration))}</td>"
            f'<td class="num">{summary.number(len(bucket.user_activity))}</td>'
            f'<td class="num">{summary.number(events)}</td>'
            f'<td class="num"{_title(exact_duration(active))}>{text(human(active))}</td></tr>\n'
        )
    return (
        '<div class="scroll"><table class="buckets">\n<thead><tr><th scope="col">Start</th>'
        '<th scope="col" class="num">Length</th>'
        '<th scope="col" class="num"><span class="long">Active </span>users</th>'
        '<th scope="col" class="num">Events</th>'
        '<th scope="col" class="num">Active<span class="long"> time</span></th>'
        f"</tr></thead>\n<tbody>\n{''.join(rows)}</tbody>\n</table></div>\n"
    )


def users_table(users: Iterable[UserTotal], total_duration: int) -> str:
    """Name (with an avatar), username, roles, events, active time and share of the total."""
    rows = []
    for entry in users:
        user = entry.user
        fraction = entry.total_duration / total_duration if total_duration > 0 else 0.0
        share_tip = (
            f"{100 * fraction:.3f}% ({entry.total_duration:,} of {total_duration:,} ns)"
            if total_duration > 0
            else ""
        )
        rows.append(
            "<tr>"
            f'<td class="name-cell"><span class="user">{avatar(user)}'
            f"<bdi{_title(user.id)}>{text(summary.user_label(user))}</bdi></span></td>"
            f'<td class="username"><bdi>{text(user.username or "")}</bdi></td>'
            f'<td class="roles">{text(summary.roles(user))}</td>'
            f'<td class="num events">{summary.number(entry.total_count)}</td>'
            f'<td class="num active"{_title(exact_duration(entry.total_duration))}>'
            f"{text(human(entry.total_duration))}</td>"
            f'<td class="num share-cell"{_title(share_tip)}><span class="share">'
            f"{text(summary.share(entry.total_duration, total_duration))}"
            f'<svg viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true">'
            f'<rect class="track" width="100" '
            f'height="8" rx="4"/><rect class="fill" width="{_n(100 * fraction)}" height="8" '
            f'rx="4"/></svg></span></td>'
            "</tr>\n"
        )
    return (
        '<div class="scroll"><table class="users">\n<thead><tr><th scope="col">Name</th>'
        '<th scope="col">Username</th><th scope="col">Roles</th>'
        '<th scope="col" class="num">Events</th><th scope="col" class="num">Active time</th>'
        '<th scope="col" class="num">Share</th>'
        f"</tr></thead>\n<tbody>\n{''.join(rows)}</tbody>\n</table></div>\n"
    )


# --------------------------------------------------------------------------- avatars


def avatar(user: UserInfo) -> str:
    """An identicon from the avatar hash, or the user's initials when there is none."""
    if user.avatar_hash:
        return identicon(user.avatar_hash)
    return f'<span class="avatar initials" aria-hidden="true">{text(initials(user))}</span>'


def identicon(avatar_hash: str) -> str:
    """A 5x5 symmetric pattern in one colour, both drawn from the hash's bytes.

    The SHA-256 hex digest of Gravatar's form is used as it is; any other
    text is hashed first, so every value draws something stable.
    """
    try:
        digest = bytes.fromhex(avatar_hash)
    except ValueError:
        digest = b""
    if len(digest) < 8:
        digest = hashlib.sha256(avatar_hash.encode("utf-8", "replace")).digest()
    hue = int.from_bytes(digest[:2], "big") % 360
    bits = int.from_bytes(digest[2:6], "big")
    cells = []
    for column in range(3):
        for row in range(5):
            if bits >> (column * 5 + row) & 1:
                cells.append((column, row))
                if column < 2:
                    cells.append((4 - column, row))
    path = "".join(f"M{x + 1} {y + 1}h1v1h-1z" for x, y in sorted(cells))
    return (
        '<svg class="avatar" viewBox="0 0 7 7" aria-hidden="true">'
        f'<rect width="7" height="7" fill="hsl({hue} 25% 93%)"/>'
        f'<path d="{path}" fill="hsl({hue} 55% 40%)"/></svg>'
    )


def initials(user: UserInfo) -> str:
    """Up to two letters: of the first and last words of the name, else the username's."""
    words = [w for w in re.split(r"[\s._-]+", user.name or "") if w[:1].isalnum()]
    if words:
        letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    else:
        letters = "".join(c for c in (user.username or user.id) if c.isalnum())[:2]
    return letters.upper() or "?"
