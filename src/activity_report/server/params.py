"""The HTTP query string, checked by one rule for every route that takes report parameters.

Names come from the parameter table (:data:`.openapi.HTTP_PARAMS`); a name
given twice is refused ("give it once") unless the table says it repeats.
The API, the view's page and its CSV download all read parameters here.

An organization or user id is taken as the command line takes it: any
text up to :data:`MAX_VALUE` characters but NUL (which no command line can
carry). It is only ever compared, as a bound SQL parameter or in Python,
never written into a query: a value that looks like SQL is a user id that
matches nobody.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from ..errors import InvalidValue, UnknownParameter
from .openapi import HTTP_PARAMS

MAX_FIELDS = 64  # parameters in one query string
MAX_VALUE = 256  # characters in one value

Values = dict[str, str | list[str]]


def from_query_string(raw: bytes) -> Values:
    """The query string, checked: known names, repeated only where allowed, UTF-8, short."""
    try:
        pairs = parse_qsl(
            raw.decode("ascii"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise InvalidValue("query", _shown(raw), "not valid UTF-8 once percent-decoded") from None
    except ValueError:
        raise InvalidValue("query", _shown(raw), f"more than {MAX_FIELDS} parameters") from None
    return checked(pairs)


def checked(pairs: Iterable[tuple[str, str]]) -> Values:
    """``(name, value)`` pairs as the parameters' values, by the rule of the query string."""
    params = {p.name: p for p in HTTP_PARAMS}
    values: Values = {}
    for name, value in pairs:
        param = params.get(name)
        if param is None:
            raise UnknownParameter(name[:MAX_VALUE], value[:40], list(params))
        if len(value) > MAX_VALUE:
            raise InvalidValue(name, value[:40] + "...", f"longer than {MAX_VALUE} characters")
        if param.repeatable:
            if "\x00" in value:
                raise InvalidValue(name, value.replace("\x00", "\\0"), "no NUL character")
            listed = values.setdefault(name, [])
            assert isinstance(listed, list)
            listed.append(value)
        elif name in values:
            raise InvalidValue(name, value, "give it once")
        else:
            values[name] = value
    return values


def pairs_of(values: Values) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of ``values``, a repeated one once per value."""
    return [
        (name, item)
        for name, value in values.items()
        for item in (value if isinstance(value, list) else [value])
    ]


def _shown(raw: bytes) -> str:
    text = raw.decode("ascii", errors="backslashreplace")
    return text if len(text) <= 60 else text[:60] + "..."
