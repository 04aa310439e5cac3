"""``--format table``: a summary and two tables for a person at a terminal.

Rows never wrap: the tables are fitted to the console's width, and so is
the summary (organizations become orgs, then "category" goes, then the line
is ellipsised). The bucket
table's bar takes the room that is left (up to 40 cells) and goes when fewer
than 6 are, then the length column goes; in the users table the roles are
ellipsised, then dropped, then names and usernames ellipsised, then the
username dropped. ANSI codes only where :func:`make_console` allows them
(``--color``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, TextIO

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..model import Report
from . import DEFAULT_TOP, ColorMode, summary
from .durations import human

BAR_MAX = 40
BAR_MIN = 6
GAP = 2  # cells between two columns
_EIGHTHS = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")
_FULL = "█"
PLAIN_WIDTH = 80


def make_console(
    file: TextIO,
    *,
    color: ColorMode,
    is_terminal: bool,
    environ: Mapping[str, str] | None = None,
) -> Console:
    """A console for the report's table.

    ``auto`` colours only a terminal, and not when ``NO_COLOR`` is set (to a
    non-empty value); ``always`` colours anything, even with ``NO_COLOR``;
    ``never`` never does. Without colour there are no escape codes at all.
    The width is ``COLUMNS`` when set, else the terminal's (the one written
    to), else 80: a pipe or a file gets the same text every day, whatever
    terminal cron or the shell happen to have.
    """
    env = os.environ if environ is None else environ
    if color is ColorMode.auto:
        colored = is_terminal and env.get("NO_COLOR", "") == ""
    else:
        colored = color is ColorMode.always
    width = _width_of(file, env) if is_terminal else _columns(env)

    def console(color_system: Literal["auto", "standard"] | None) -> Console:
        return Console(
            file=file,
            width=width,
            force_terminal=color_system is not None,
            no_color=False,
            color_system=color_system,
            markup=False,
            emoji=False,
            highlight=False,
            _environ=env,
        )

    if not colored:
        return console(None)
    detected = console("auto")
    if detected.color_system is None and color is ColorMode.always:  # TERM=dumb, yet asked for
        return console("standard")
    return detected


def _columns(env: Mapping[str, str]) -> int:
    value = env.get("COLUMNS", "")
    return int(value) if value.isdigit() and int(value) > 0 else PLAIN_WIDTH


def _width_of(file: TextIO, env: Mapping[str, str]) -> int:
    if env.get("COLUMNS", "").isdigit():
        return _columns(env)
    try:
        return os.get_terminal_size(file.fileno()).columns or PLAIN_WIDTH
    except (AttributeError, OSError, ValueError):  # no file descriptor, or not a terminal
        return PLAIN_WIDTH


@dataclass(frozen=True)
class _Column:
    header: str
    cells: tuple[str, ...]
    right: bool = False
    style: str = ""

    @property
    def width(self) -> int:
        return max(cell_len(text) for text in (self.header, *self.cells))

    def cut(self, width: int) -> _Column:
        """The column with every cell ellipsised to ``width`` cells."""
        cells = []
        for text in self.cells:
            cell = Text(text)
            cell.truncate(width, overflow="ellipsis")
            cells.append(cell.plain)
        return replace(self, cells=tuple(cells))


def _width(columns: Sequence[_Column]) -> int:
    return sum(c.width for c in columns) + GAP * (len(columns) - 1)


def render(report: Report, console: Console, *, top: int = DEFAULT_TOP) -> None:
    """The summary, the bucket table and the top ``top`` users (0: all of them).

    Lines lose the blanks rich pads them with, so a file or pipe gets no
    trailing whitespace.
    """
    with console.capture() as captured:
        _print(report, console, top)
    lines = captured.get().splitlines()
    console.file.write("".join(line.rstrip(" ") + "\n" for line in lines))
    console.file.flush()


def _print(report: Report, console: Console, top: int) -> None:
    console.print(_line(_scope(report, console.width), "bold", console.width))
    if not report.activity:
        return
    console.print(_line(summary.totals(report), "", console.width))
    console.print()
    console.print(Text("Activity by interval", style="bold"))
    console.print(_table(_bucket_columns(report, console.width)))
    console.print()
    if not report.users:
        console.print(Text("No active users."))
        return
    shown = report.users if top == 0 else report.users[:top]
    title = "Top users" if len(shown) < len(report.users) else "Users"
    console.print(Text(title, style="bold"))
    console.print(_table(_user_columns(report, top, console.width)))
    hidden = len(report.users) - len(shown)
    if hidden:
        console.print(Text(summary.more_users(hidden), style="dim"))


def _scope(report: Report, width: int) -> str:
    """The summary's first line, abbreviated until it fits ``width``."""
    for shorter in range(summary.SHORTEST_SCOPE + 1):
        text = summary.scope(report, shorter=shorter)
        if cell_len(text) <= width:
            break
    return text


def _line(text: str, style: str, width: int) -> Text:
    """One line that never wraps: ellipsised at ``width`` (a long list of orgs)."""
    line = Text(text, style=style, no_wrap=True, overflow="ellipsis")
    line.truncate(width, overflow="ellipsis")
    return line


def _table(columns: Sequence[_Column]) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        header_style="bold",
    )
    for column in columns:
        table.add_column(column.header, justify="right" if column.right else "left", no_wrap=True)
    for row in zip(*(c.cells for c in columns), strict=True):
        table.add_row(
            *(Text(text, style=column.style) for text, column in zip(row, columns, strict=True))
        )
    return table


def _bucket_columns(report: Report, width: int) -> list[_Column]:
    moment = summary.moment_format(summary.edges(report))
    active = [sum(u.duration for u in bucket.user_activity) for bucket in report.activity]
    columns = [
        _Column("start", tuple(moment(b.time) for b in report.activity)),
        _Column("length", tuple(human(b.duration) for b in report.activity), right=True),
        _Column("users", tuple(str(len(b.user_activity)) for b in report.activity), right=True),
        _Column(
            "events",
            tuple(summary.number(sum(u.count for u in b.user_activity)) for b in report.activity),
            right=True,
        ),
        _Column("active", tuple(human(ns) for ns in active), right=True),
    ]
    if any(b.withheld for b in report.activity):  # --min-users: "< K", not a count
        hidden = summary.withheld(report)
        columns[2:] = [
            replace(
                column,
                cells=tuple(
                    hidden if b.withheld else cell
                    for b, cell in zip(report.activity, column.cells, strict=True)
                ),
            )
            for column, hidden in zip(columns[2:], hidden, strict=True)
        ]
    room = min(BAR_MAX, width - _width(columns) - GAP)
    peak = max(active)
    if room >= BAR_MIN and peak > 0:
        columns.append(_Column("", tuple(bar(ns, peak, room) for ns in active), style="green"))
    elif _width(columns) > width:  # the lengths are the interval's, bar the last one
        del columns[1]
    return columns


def bar(value: int, peak: int, width: int) -> str:
    """``value`` as a bar of block characters, ``peak`` filling ``width`` cells.

    Eighth blocks give the fraction; any activity at all shows at least ``▏``.
    """
    if value <= 0 or peak <= 0:
        return ""
    eighths = round(value * width * 8 / peak)
    full, part = divmod(max(eighths, 1), 8)
    return _FULL * full + _EIGHTHS[part]


def _user_columns(report: Report, top: int, width: int) -> list[_Column]:
    shown = report.users if top == 0 else report.users[:top]
    total = report.total_duration
    named = any(u.user.name for u in shown)
    name = _Column("name" if named else "user id", tuple(summary.user_label(u.user) for u in shown))
    username = _Column("username", tuple(summary.username(u.user) for u in shown))
    roles = _Column("roles", tuple(summary.roles(u.user) for u in shown))
    numbers = [
        _Column("events", tuple(summary.number(u.total_count) for u in shown), right=True),
        _Column("active", tuple(human(u.total_duration) for u in shown), right=True),
        _Column("share", tuple(summary.share(u.total_duration, total) for u in shown), right=True),
    ]
    texts = [name]
    if any(username.cells):
        texts.append(username)
    if any(roles.cells):
        texts.append(roles)
    return [*_fit_texts(texts, width - _width(numbers) - GAP), *numbers]


def _fit_texts(texts: list[_Column], room: int) -> list[_Column]:
    """Fit name[, username][, roles] into ``room`` cells, giving up the least first.

    Roles are ellipsised (to no less than 11 cells), else dropped; then names
    and usernames ellipsised (to no less than 8); then the username dropped.
    """
    name, *rest = texts
    roles = rest[-1] if rest and rest[-1].header == "roles" else None
    excess = _width(texts) - room
    if excess <= 0:
        return texts
    if roles is not None:
        if roles.width - excess >= len("roles") + 6:
            return [*texts[:-1], roles.cut(roles.width - excess)]
        return _fit_texts(texts[:-1], room)
    cut = []
    for column in texts:
        narrower = max(8, column.width - max(excess, 0))
        excess -= column.width - narrower
        cut.append(column.cut(narrower) if narrower < column.width else column)
    if excess > 0 and len(texts) > 1:
        return _fit_texts([name], room)
    return cut
