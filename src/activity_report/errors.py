"""The typed errors of the core, and the kinds each front end maps to its own answer.

An error carries a :class:`Kind` (a bad value, bad data, something missing,
a conflict, a busy store, a cancelled run, a bug) and a message about the
value. A message never names a command-line flag itself: an
:class:`InvalidValue` carries the parameter's name, and each front end
renders it its own way (``--start`` on the command line, ``start`` in a
query string). :func:`render` does that.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    usage = "usage"  # a bad parameter value: exit 2, HTTP 400
    data = "data"  # bad or missing input data, a failing resource: exit 1, HTTP 422
    not_found = "not_found"  # a named thing that does not exist: exit 1, HTTP 404
    conflict = "conflict"  # the thing exists already: exit 1, HTTP 409
    unavailable = "unavailable"  # the store is busy (a writer holds it): exit 1, HTTP 503
    interrupted = "interrupted"  # its caller cancelled the run: exit 130, HTTP 503
    internal = "internal"  # a bug: exit 1, HTTP 500


EXIT_CODES = {Kind.usage: 2, Kind.interrupted: 130}  # every other kind exits 1


class ActivityReportError(Exception):
    """Base of every error the tool reports as one line.

    A message that names parameters is a template: ``params`` lists them,
    written ``{name}`` in it, and ``values`` fill its other fields, so that
    text from the user is never read as a template. Without either, the
    message is plain text.
    """

    kind: Kind = Kind.data

    def __init__(
        self,
        message: str = "",
        *,
        kind: Kind | None = None,
        params: tuple[str, ...] = (),
        **values: object,
    ) -> None:
        if kind is not None:
            self.kind = kind
        self.template, self.params, self.values = message, params, values
        super().__init__(self.render(plain_name))

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.kind, 1)

    def render(self, name: Callable[[str], str]) -> str:
        """The message, with parameter names spelled by ``name``."""
        if not self.params and not self.values:
            return self.template
        return self.template.format(**{p: name(p) for p in self.params}, **self.values)


@dataclass(frozen=True)
class Notice:
    """A warning or a hint that names parameters: each front end words them (:meth:`render`).

    Like an error's message, ``template`` names parameters as ``{name}`` and
    takes ``values`` for its other fields; ``str()`` spells parameters plainly.
    """

    template: str
    params: tuple[str, ...] = ()
    values: Mapping[str, object] = field(default_factory=dict)

    def render(self, name: Callable[[str], str]) -> str:
        """The text, with parameter names spelled by ``name``."""
        return self.template.format(**{p: name(p) for p in self.params}, **self.values)

    def __str__(self) -> str:
        return self.render(plain_name)


class UsageError(ActivityReportError):
    """A bad parameter value."""

    kind = Kind.usage


class DataError(ActivityReportError):
    """Bad or missing input data, or a failing runtime resource."""

    kind = Kind.data


class NoStoreYet(DataError):
    """A reader named a store that does not exist; a report may add where else to read."""


class Interrupted(ActivityReportError):
    """The run was cancelled by its caller (:meth:`.resources.RunContext.cancel`)."""

    kind = Kind.interrupted

    def __init__(self, message: str = "interrupted") -> None:
        super().__init__(message)


class TooManyBuckets(UsageError):
    """A range of more buckets of ``interval`` than ``limit``.

    Every front end takes an interval and a range, and the message offers
    those. Only some let their user raise the limit (the report's
    ``--max-buckets``, the Python API's ``max_buckets``; not the seats, not
    the server): those say so with :meth:`offering`.
    """

    def __init__(
        self, count: int, interval: str, limit: int, limit_param: str | None = None
    ) -> None:
        self.count, self.interval, self.limit = count, interval, limit
        self.limit_param = limit_param
        params = ("interval",) if limit_param is None else (limit_param, "interval")
        super().__init__(params=params)

    def offering(self, limit_param: str) -> TooManyBuckets:
        """The same error, offering a larger ``limit_param`` too (a front end that has it)."""
        return TooManyBuckets(self.count, self.interval, self.limit, limit_param)

    def render(self, name: Callable[[str], str]) -> str:
        interval = name("interval")
        if self.limit_param is None:
            limit = f"the limit ({self.limit:,})"
            remedies = f"a longer {interval} or a shorter range"
        else:
            limit = f"{name(self.limit_param)} ({self.limit:,})"
            remedies = f"a longer {interval}, a shorter range or a larger {name(self.limit_param)}"
        return f"the range holds {self.count:,} buckets of {self.interval}, more than {limit}; " + (
            f"use {remedies}"
        )


class InvalidValue(UsageError):
    """``value`` is not a valid ``param``; ``reason`` says which forms are."""

    def __init__(self, param: str, value: str, reason: str) -> None:
        self.param, self.value, self.reason = param, value, reason
        super().__init__(params=(param,))

    def render(self, name: Callable[[str], str]) -> str:
        return f"invalid value for {name(self.param)}: {self.value!r} ({self.reason})"


class UnknownParameter(InvalidValue):
    """``param`` is no parameter at all; the message suggests the closest of ``known``."""

    def __init__(self, param: str, value: str, known: Sequence[str]) -> None:
        self.known = tuple(known)
        super().__init__(param, value, "no such parameter")

    def render(self, name: Callable[[str], str]) -> str:
        near = difflib.get_close_matches(self.param, self.known, n=1)
        hint = f" (did you mean {name(near[0])}?)" if near else ""
        known = ", ".join(name(k) for k in self.known)
        return f"unknown parameter {name(self.param)}{hint}: the parameters are {known}"


def plain_name(param: str) -> str:
    """A parameter as a query string or a Python call spells it: ``max_buckets``."""
    return param


def flag_name(param: str) -> str:
    """A parameter as the command line spells it: ``--max-buckets``."""
    return "--" + param.replace("_", "-")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (DuckDB's run on), else its type's name."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
