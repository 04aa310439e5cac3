"""The filters the URL holds, their defaults, and the API's query parameters for them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from ...errors import InvalidValue, UsageError
from ...model import Report

CONTROLS = ("org", "category", "start", "end", "interval", "tz", "min_users")
"""The filters the URL holds, in the form's order; each has its own error slot."""


def default_range(latest: datetime | None, today: date) -> tuple[date, date]:
    """The last whole calendar month before the latest event's (or today's) month.

    A store fed every night shows last month; a store of old events shows
    its last whole month rather than an empty page.
    """
    anchor = latest.date() if latest is not None else today
    last = anchor.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def api_values(filters: Mapping[str, str]) -> dict[str, str | list[str]]:
    """The view's filters as the API's query parameters.

    End is the last day shown, as a date picker reads: the API's end is the
    next midnight. A value that is not a date is passed on as it is, for
    the API to judge. An End before the Start is named as entered.
    """
    _check_order(filters["start"], filters["end"])
    values: dict[str, str | list[str]] = {
        "category": filters["category"],
        "interval": filters["interval"],
        "tz": filters["tz"],
        "start": filters["start"],
        "end": _day_after(filters["end"]),
    }
    if filters.get("org"):
        values["org"] = [filters["org"]]
    if filters.get("min_users"):  # empty: every interval shown
        values["min_users"] = filters["min_users"]
    return values


def _check_order(start: str, end: str) -> None:
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return
    if last < first:
        raise UsageError(
            "the End date ({last}) is before the Start date ({first}): "
            "pick an End on or after the Start",
            params=("end",),
            last=end,
            first=start,
        )


def _day_after(text: str) -> str:
    try:
        return (date.fromisoformat(text) + timedelta(days=1)).isoformat()
    except ValueError:
        return text
    except OverflowError:  # 9999-12-31: its next midnight is past the year 9999
        reason = "the last day shown must be 9999-12-30 or earlier"
        raise InvalidValue("end", text, reason) from None


def file_name(report: Report, ext: str) -> str:
    meta = report.meta
    if meta is None:
        return f"activity.{ext}"
    return f"activity-{meta.start:%Y-%m-%d}-{meta.category}.{ext}"


def listed(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]
