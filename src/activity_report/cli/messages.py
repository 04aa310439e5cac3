"""What the commands tell people on stderr, and the JSON they print on stdout."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ..errors import DataError, flag_name

PROG = "activity-report"


def note(message: str) -> None:
    sys.stdout.flush()
    print(f"{PROG}: {message}", file=sys.stderr)


def fail(message: str, code: int) -> int:
    sys.stdout.flush()
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def plural(n: int, noun: str) -> str:
    """``1 invalid row``, ``2 invalid rows``, ``20,000,000 rows``: digits grouped."""
    return f"{n} {noun}" if n == 1 else f"{n:,} {noun}s"


def one_line(text: str) -> str:
    return " ".join(text.split())


def print_json(value: object, *, done: str | None = None) -> None:
    """Print ``value`` on stdout as JSON.

    ``done`` says what the command has already changed for good: then a
    stdout that cannot be written (a full disk) is a warning, since the
    command did succeed, and the exit code must say so.
    """
    import json

    try:
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if done is None:
            raise DataError(f"cannot write to stdout: {reason}") from None
        note(f"warning: {done}, but its counts could not be written to stdout: {reason}")


def tell_diagnostics(result: Any) -> None:
    diagnostics = result.diagnostics
    if diagnostics.invalid_rows:
        note(
            f"warning: skipped {plural(diagnostics.invalid_rows, 'invalid row')} "
            f"({diagnostics.describe()}); --strict makes this an error"
        )
    _warn_unknown(diagnostics)
    for warning in result.warnings:
        note(f"warning: {warning.render(flag_name)}")
    for told in result.notes:
        note(f"note: {told}")


def _warn_unknown(diagnostics: Any) -> None:
    if diagnostics.unknown_rows:
        warn_unknown_values(diagnostics.unknown_rows, diagnostics.unknown_values)


def warn_unknown_values(rows: int, values: Sequence[tuple[str, int]]) -> None:
    common = ", ".join(f"{value!r} ({n})" for value, n in values)
    has = "has" if rows == 1 else "have"
    note(
        f"warning: {plural(rows, 'event')} {has} an unknown category and "
        f"{'is' if rows == 1 else 'are'} in no report; commonest: {common}"
    )
