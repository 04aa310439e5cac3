"""activity-report: usage reports in the shape of Coder's Activity API.

The library first, the command line on top: ``activity_report.report(...)``
makes the same report as ``activity-report report`` (see :mod:`.api`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .api import report as report
    from .resources import RunContext as RunContext
else:

    def __getattr__(name: str) -> Any:
        """Lazy: ``import activity_report`` stays cheap for the command line.

        ``activity_report.report`` is :func:`.api.report` itself, so its
        signature and docstring are what ``help()`` and completion show.
        """
        if name == "report":
            from .api import report

            return report
        if name == "RunContext":
            from .resources import RunContext

            return RunContext
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RunContext", "__version__", "report"]
