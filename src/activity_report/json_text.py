"""Indented JSON as ``json.dumps`` writes it, and the run's cancel check for long loops.

:mod:`.model` and :mod:`.seats` write their JSON with these; the loops of a
report call a run's check every so often, so a cancel ends them too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from json.encoder import encode_basestring as _string
from typing import Any, TypeVar

T = TypeVar("T")
#: A run's check (:meth:`.resources.RunContext.check`): raises once the run is cancelled.
Check = Callable[[], None]
_CHECK_EVERY = 1024  # items between two checks: a cancel is seen within milliseconds


def checked(items: Iterable[T], check: Check | None) -> Iterable[T]:
    """``items``, calling ``check`` every so often: a long loop in Python ends on a cancel."""
    return items if check is None else _checking(items, check)


def _checking(items: Iterable[T], check: Check) -> Iterator[T]:
    for index, item in enumerate(items):
        if not index % _CHECK_EVERY:
            check()
        yield item


def indented_json(value: Any, *, check: Check | None = None) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)``, faster.

    The standard encoder writes indented JSON in pure Python, a small piece at
    a time: about a tenth of a second for a report of 500 users over half a
    year. The same text is written here from strings, integers, None, booleans,
    lists and dicts; anything else goes to ``json.dumps``.
    """
    parts: list[str] = []
    try:
        _indented(value, "\n", parts, check)
    except TypeError:
        return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    return "".join(parts)


def _indented(value: Any, newline: str, parts: list[str], check: Check | None = None) -> None:
    """Append ``value`` as JSON to ``parts``; ``newline`` ends a line and indents the next."""
    kind = type(value)
    if kind is str:
        parts.append(_string(value))
    elif kind is int:
        parts.append(int.__repr__(value))
    elif value is None:
        parts.append("null")
    elif kind is bool:
        parts.append("true" if value else "false")
    elif kind is dict:
        if not value:
            parts.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(key)
            parts.append(separator)
            parts.append(_string(key))
            parts.append(": ")
            _indented(item, inner, parts, check)
            separator = "," + inner
        parts.append(newline + "}")
    elif kind is list:
        if not value:
            parts.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in checked(value, check):
            parts.append(separator)
            _indented(item, inner, parts, check)
            separator = "," + inner
        parts.append(newline + "]")
    else:
        raise TypeError(value)
