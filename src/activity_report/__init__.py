"""activity-report: usage reports in the shape of Coder's Activity API.

The library first, the command line on top: ``activity_report.report(...)``
makes the same report as ``activity-report report`` (see :mod:`.api`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:
    from .api import report as report
    from .resources import RunContext as RunContext
else:

    def report(**kwargs: Any) -> Any:
        """Lazy: ``import activity_report`` stays cheap for the command line."""
        from .api import report as make

        return make(**kwargs)

    def __getattr__(name: str) -> Any:
        if name == "RunContext":  # lazy too
            from .resources import RunContext

            return RunContext
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RunContext", "__version__", "report"]
