"""activity-report: usage reports in the shape of Coder's Activity API."""

__version__ = "0.1.0"
