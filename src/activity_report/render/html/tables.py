"""The tables: one row per interval, and one per user with an avatar and a share bar."""

from __future__ import annotations

from collections.abc import Iterable

from ...model import Report, UserTotal, rfc3339
from .. import summary
from ..durations import human
from .avatars import avatar
from .markup import coord, exact_duration, text, tooltip


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
            f"<tr{empty}><td{tooltip(f'{rfc3339(bucket.time)} to {rfc3339(end)}')}>"
            f"{text(moment(bucket.time))}</td>"
            f'<td class="num"{tooltip(exact_duration(bucket.duration))}>'
            f"{text(human(bucket.duration))}</td>"
            + (
                "".join(
                    f'<td class="num withheld">{text(c)}</td>' for c in summary.withheld(report)
                )
                + "</tr>\n"
                if bucket.withheld
                else f'<td class="num">{summary.number(len(bucket.user_activity))}</td>'
                f'<td class="num">{summary.number(events)}</td>'
                f'<td class="num"{tooltip(exact_duration(active))}>{text(human(active))}</td>'
                "</tr>\n"
            )
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
            f"<bdi{tooltip(user.id)}>{text(summary.user_label(user))}</bdi></span></td>"
            f'<td class="username"><bdi>{text(user.username or "")}</bdi></td>'
            f'<td class="roles">{text(summary.roles(user))}</td>'
            f'<td class="num events">{summary.number(entry.total_count)}</td>'
            f'<td class="num active"{tooltip(exact_duration(entry.total_duration))}>'
            f"{text(human(entry.total_duration))}</td>"
            f'<td class="num share-cell"{tooltip(share_tip)}><span class="share">'
            f"{text(summary.share(entry.total_duration, total_duration))}"
            f'<svg viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true">'
            f'<rect class="track" width="100" '
            f'height="8" rx="4"/><rect class="fill" width="{coord(100 * fraction)}" height="8" '
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
