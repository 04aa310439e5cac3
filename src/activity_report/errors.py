"""The typed errors of the core. Each carries the exit code the CLI ends with."""

from __future__ import annotations


class ActivityReportError(Exception):
    """Base of every error the tool reports as one line on stderr."""

    exit_code: int = 1


class UsageError(ActivityReportError):
    """A bad option value: exit code 2."""

    exit_code = 2


class DataError(ActivityReportError):
    """Bad or missing input data, or a failing runtime resource: exit code 1."""

    exit_code = 1
