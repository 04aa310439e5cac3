"""One parameter table: text values in, one validated :class:`Query` out.

The command line, the HTTP server and the Python API all give the report's
parameters as text (argv, a query string, a notebook's keyword arguments)
and all turn them into a :class:`Query` here, so that every front end accepts
the same values and refuses the others with the same messages. A message
names the parameter (``start``); each front end spells it its own way
(:mod:`.errors`).

A :class:`Query` says what to compute. Where the events are (files, the
store) is an event source (:mod:`.backends`), and how much memory DuckDB
may use is :class:`.resources.Limits`: neither is part of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from .backends.protocol import HEARTBEAT_US
from .errors import InvalidValue, UnknownParameter
from .intervals import Interval, parse_heartbeat, parse_interval
from .sources import CATEGORIES, normalise_category
from .times import parse_instant, parse_tz

CATEGORY_CHOICES = ("any", *CATEGORIES)
DEFAULT_MAX_BUCKETS = 100_000


@dataclass(frozen=True)
class Param:
    """A report parameter as every front end knows it."""

    name: str
    default: str | None
    help: str
    repeatable: bool = False


PARAMS: tuple[Param, ...] = (
    Param(
        "start",
        None,
        "Range start: ISO 8601, now, today, yesterday or 'N UNIT ago'. "
        "Default: the first event, floored to the interval unit.",
    ),
    Param(
        "end",
        None,
        "Range end (exclusive), same forms as start. "
        "Default: the last covered moment, raised to the interval unit.",
    ),
    Param("interval", "1 week", "Bucket size: '1 week', '90 day', daily, PT30M, ..."),
    Param("tz", "UTC", "Time zone: IANA name, +05:30, UTC or local."),
    Param("category", "any", "any, ide, login, app, tunnel or web_terminal."),
    Param("org", None, "Only this organization id or name. Repeatable.", repeatable=True),
    Param(
        "user",
        None,
        "Only this user id, username or pseudonym (anon-...). Repeatable.",
        repeatable=True,
    ),
    Param("heartbeat", "1 minute", "Coverage of an event without an end or duration."),
    Param("max_buckets", str(DEFAULT_MAX_BUCKETS), "Refuse ranges with more buckets than this."),
    Param(
        "min_users",
        None,
        "Withhold every interval with fewer than K active users: no user list, "
        "counts null in JSON ('< K' in tables).",
    ),
    Param(
        "pseudonymize",
        "false",
        "true: each user id becomes a stable pseudonym (anon- and 16 hex digits); "
        "names, usernames and avatars are left out.",
    ),
)
PARAM_NAMES = frozenset(p.name for p in PARAMS)


@dataclass(frozen=True)
class Zone:
    """The report's time zone: as the user named it, and as Python computes with it."""

    name: str
    info: tzinfo


@dataclass(frozen=True)
class Aligned:
    """A relative start or end ('30 days ago', 'now') moved back to its unit's boundary.

    So that every run of a cron job has the same buckets; a front end says
    so, since the report then starts or ends elsewhere than the words say.
    """

    param: str  # start or end
    text: str  # as given
    named: datetime  # the moment the text names
    used: datetime  # the boundary the report uses


@dataclass(frozen=True)
class Query:
    """What to compute: the range, its buckets and the filters."""

    interval: Interval
    zone: Zone = Zone("UTC", UTC)
    start: datetime | None = None
    end: datetime | None = None
    category: str = "any"  # one of CATEGORY_CHOICES
    orgs: Sequence[str] | None = None
    users: Sequence[str] | None = None  # ids or usernames
    heartbeat_us: int = HEARTBEAT_US
    max_buckets: int = DEFAULT_MAX_BUCKETS
    strict: bool = False  # fail on invalid rows instead of skipping them
    aligned: tuple[Aligned, ...] = ()  # relative --start/--end moved to a unit's boundary
    min_users: int | None = None  # withhold the buckets of fewer active users
    pseudonymize: bool = False  # name users by pseudonym only

    @property
    def categories(self) -> tuple[str, ...]:
        """The event categories the report counts."""
        return CATEGORIES if self.category == "any" else (self.category,)


Values = Mapping[str, "str | int | Sequence[str] | None"]


def parse_query(values: Values, *, now: datetime | None = None, strict: bool = False) -> Query:
    """Check the text ``values`` of the parameters in :data:`PARAMS`, by name.

    A missing or None value takes the parameter's default. Repeatable ones
    take a sequence of strings (or one string). ``now`` anchors 'now',
    'today' and 'N UNIT ago' (default: the current time).
    """
    unknown = sorted(set(values) - PARAM_NAMES)
    if unknown:
        raise UnknownParameter(unknown[0], str(values[unknown[0]]), [p.name for p in PARAMS])

    def text(name: str) -> str | None:
        value = values.get(name)
        if value is None:
            return next(p.default for p in PARAMS if p.name == name)
        if isinstance(value, bool):  # a keyword's or an option's flag
            return "true" if value else "false"
        if not isinstance(value, str | int):
            raise InvalidValue(name, repr(value), "give it once")
        return str(value)

    def given(name: str) -> str:  # a parameter with a default
        value = text(name)
        assert value is not None, name
        return value

    def many(name: str) -> list[str] | None:
        value = values.get(name)
        if value is None:
            return None
        if isinstance(value, str | int):
            return [str(value)]
        return [str(v) for v in value] or None

    # The order of the checks is the order of the command line's messages.
    tz = given("tz")
    zone = Zone(tz, parse_tz(tz, param="tz"))
    category = parse_category(given("category"))
    interval = parse_interval(given("interval"), param="interval")
    now = now or datetime.now(UTC)
    start, end = text("start"), text("end")
    aligned: list[Aligned] = []

    def instant(name: str, value: str | None) -> datetime | None:
        if value is None:
            return None
        used = parse_instant(value, tz=zone.info, now=now, param=name, interval=interval)
        named = parse_instant(value, tz=zone.info, now=now, param=name)
        if named != used:
            aligned.append(Aligned(name, value, named, used))
        return used

    min_users = text("min_users")
    return Query(
        interval=interval,
        zone=zone,
        start=instant("start", start),
        end=instant("end", end),
        aligned=tuple(aligned),
        category=category,
        orgs=many("org"),
        users=many("user"),
        heartbeat_us=parse_heartbeat(given("heartbeat"), param="heartbeat").micros,
        max_buckets=parse_count(given("max_buckets"), param="max_buckets"),
        strict=strict,
        min_users=None if min_users is None else parse_count(min_users, param="min_users"),
        pseudonymize=parse_flag(given("pseudonymize"), param="pseudonymize"),
    )


def parse_category(text: str, *, param: str = "category") -> str:
    """A category as the page spells it (``web terminal``, ``IDE``) -> one of CATEGORY_CHOICES."""
    label = normalise_category(text)
    if label not in CATEGORY_CHOICES:
        raise InvalidValue(param, text, f"use one of {', '.join(CATEGORY_CHOICES)}")
    return label


def parse_flag(text: str, *, param: str) -> bool:
    """``true`` or ``false`` (also 1/0, yes/no; any case)."""
    word = text.strip().lower()
    if word in ("true", "1", "yes"):
        return True
    if word in ("false", "0", "no"):
        return False
    raise InvalidValue(param, text, "use true or false")


def parse_count(text: str, *, param: str) -> int:
    """A whole number of at least 1."""
    try:
        number = int(text.strip())
    except ValueError:
        number = 0
    if number < 1 or len(text) > 20:
        raise InvalidValue(param, text, "give a whole number of at least 1")
    return number
