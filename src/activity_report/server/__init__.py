"""`activity-report serve`: the Activity API over HTTP (Starlette on uvicorn).

:func:`create_app` builds the ASGI app; :func:`serve` runs it. Only this
package imports the web framework: the core knows nothing of it.
"""

from __future__ import annotations

from .app import ServerConfig, create_app
from .limits import Capacity
from .reader import Timing

__all__ = ["Capacity", "ServerConfig", "Timing", "create_app"]
