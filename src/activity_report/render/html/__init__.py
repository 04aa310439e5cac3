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
show the same report inside its own page. They live in one module each:
:mod:`.page` (the page and its summary), :mod:`.style` (the CSS),
:mod:`.chart` (the SVG chart), :mod:`.tables`, :mod:`.avatars` and
:mod:`.markup` (escaping and the exact values of the tooltips).
"""

from __future__ import annotations

from typing import TextIO

from ...model import Report
from .. import DEFAULT_TOP
from .avatars import avatar, identicon, initials
from .chart import chart
from .markup import exact_duration, text
from .page import document, summary_section
from .style import STYLE, TIME_COLOR, USERS_COLOR
from .tables import buckets_table, users_table

__all__ = [
    "STYLE",
    "TIME_COLOR",
    "USERS_COLOR",
    "avatar",
    "buckets_table",
    "chart",
    "document",
    "exact_duration",
    "identicon",
    "initials",
    "summary_section",
    "text",
    "users_table",
    "write",
]


def write(report: Report, out: TextIO, *, top: int = DEFAULT_TOP) -> None:
    out.write(document(report, top=top))
