"""The seats report's text formats: json, ndjson, csv and markdown (no rich here).

``json`` is the API's object; ``ndjson`` and ``csv`` a row per day (the
dormant list and growth are in the JSON); ``markdown`` the summary, the days,
the growth and the dormant seats as tables; ``html`` a page with a line chart
(:mod:`.html.seats`). The terminal table is drawn by
the command line (it needs rich); :func:`sparkline` is shared with it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import TextIO

from ..seats import Seats, to_api, to_json
from . import Format

DAY_FIELDS = ("day", "active_1d", "active_7d", "active_30d", "active_90d")
GROWTH_FIELDS = ("time", "active", "new", "retained", "resurrected", "churned")
_TICKS = "▁▂▃▄▅▆▇█"

SeatsWriter = Callable[[Seats, TextIO], None]


def sparkline(values: Sequence[int]) -> str:
    """One block per value, its height relative to the largest (all lowest when all are 0)."""
    top = max(values, default=0)
    if top <= 0:
        return _TICKS[0] * len(values)
    return "".join(_TICKS[round(v / top * (len(_TICKS) - 1))] for v in values)


def stickiness_text(value: float | None) -> str:
    return "n/a (nobody active)" if value is None else f"{value:.2f} ({value * 100:.1f}%)"


def write_json(seats: Seats, out: TextIO) -> None:
    out.write(to_json(seats))


def write_ndjson(seats: Seats, out: TextIO) -> None:
    for day in to_api(seats)["days"]:
        out.write(json.dumps(day, ensure_ascii=False) + "\n")


def write_csv(seats: Seats, out: TextIO) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DAY_FIELDS)
    writer.writerows([day[name] for name in DAY_FIELDS] for day in to_api(seats)["days"])
    out.write(buffer.getvalue())


def write_markdown(seats: Seats, out: TextIO) -> None:
    body = to_api(seats)
    days = body["days"]
    lines = ["# Seats", ""]
    if days:
        lines.append(f"{days[0]['day']} to {days[-1]['day']}, {len(days)} days.")
        lines.append("")
        lines.append(f"- Stickiness (daily / 30-day users): {stickiness_text(seats.stickiness)}")
        lines.append(f"- Daily users: `{sparkline([d['active_1d'] for d in days])}`")
        lines.append(f"- 90-day users on the last day: {days[-1]['active_90d']}")
        lines.append("")
    lines += _table(DAY_FIELDS, [[d[n] for n in DAY_FIELDS] for d in days])
    if "growth" in body:
        lines += ["", "## Growth", ""]
        lines += _table(GROWTH_FIELDS, [[g[n] for n in GROWTH_FIELDS] for g in body["growth"]])
    lines += ["", "## Dormant seats", ""]
    if body["dormant"]:
        fields = ("user_id", "username", "name", "last_active")
        rows = [[u[n] if u[n] is not None else "" for n in fields] for u in body["dormant"]]
        lines += _table(fields, rows)
    else:
        lines.append("None.")
    out.write("\n".join(lines) + "\n")


def write_html(seats: Seats, out: TextIO) -> None:
    from .html.seats import write

    write(seats, out)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


WRITERS: dict[Format, SeatsWriter] = {
    Format.json: write_json,
    Format.ndjson: write_ndjson,
    Format.csv: write_csv,
    Format.markdown: write_markdown,
    Format.html: write_html,
}
