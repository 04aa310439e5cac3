"""Durations for people: ``20h 0m``, ``46m``, ``2d 3h``, ``12s``."""

from __future__ import annotations

NS_PER_SECOND = 1_000_000_000


def human(nanoseconds: int) -> str:
    """Two most significant units, rounded down; ``0s`` for zero."""
    seconds = nanoseconds // NS_PER_SECOND
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m"
    if secs or nanoseconds == 0:
        return f"{secs}s"
    return f"{nanoseconds / NS_PER_SECOND:.3f}s"
