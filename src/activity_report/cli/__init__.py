"""The command line: options in, one core call, a renderer out, an exit code.

``app`` assembles the commands (``report``, the default; ``ingest``,
``info`` and ``users`` in ``store``; ``serve``; ``tokens``) and maps every
error to one line on stderr and an exit code; ``main`` is the console script.
"""

from __future__ import annotations

import os

# A command runs once, and touches its large NumPy arrays about once: the
# hugepages NumPy asks the kernel for make it compact memory at that first
# touch, which costs more than they save (7 % of `ingest --coder`, 3 % of a
# file ingest, measured). NumPy reads this when it is imported, so it is set
# before (importing the package does not import NumPy); a value set is kept.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

from .app import app, command, main  # noqa: E402

__all__ = ["app", "command", "main"]
