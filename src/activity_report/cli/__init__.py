"""The command line: options in, one core call, a renderer out, an exit code.

``app`` assembles the commands (``report``, the default; ``ingest``,
``info`` and ``users`` in ``store``; ``serve``; ``tokens``) and maps every
error to one line on stderr and an exit code; ``main`` is the console script.
"""

from __future__ import annotations

from .app import app, command, main

__all__ = ["app", "command", "main"]
