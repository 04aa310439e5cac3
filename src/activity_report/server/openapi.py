"""The OpenAPI document of the server, made from the parameter table and the routes."""

from __future__ import annotations

from typing import Any

from .. import __version__
from ..query import PARAMS

# The report's parameters as the HTTP API names them; max_buckets is the server's.
HTTP_PARAMS = tuple(p for p in PARAMS if p.name != "max_buckets")

_ERROR = {
    "type": "object",
    "properties": {"message": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["message", "detail"],
}
_SECURITY: list[dict[str, list[str]]] = [
    {"SessionToken": []},
    {"CoderSessionToken": []},
    {"Bearer": []},
]

_SEATS_PARAMS: list[dict[str, Any]] = [
    {
        "name": "dormant_after",
        "in": "query",
        "required": False,
        "description": "A seat is dormant after this many days (or weeks) without activity.",
        "schema": {"type": "string", "default": "90d"},
    },
    {
        "name": "growth",
        "in": "query",
        "required": False,
        "description": "true: also new, retained, resurrected and churned users per interval.",
        "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
    },
]


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def document() -> dict[str, Any]:
    parameters = [
        {
            "name": p.name,
            "in": "query",
            "required": False,
            "description": p.help,
            "schema": {"type": "array", "items": {"type": "string"}}
            if p.repeatable
            else {"type": "string", **({"default": p.default} if p.default else {})},
            **({"style": "form", "explode": True} if p.repeatable else {}),
        }
        for p in HTTP_PARAMS
    ]
    errors = {
        "400": _error("A bad parameter"),
        "401": _error("No token, or not a valid one"),
        "503": _error(
            "The store is busy (an ingest is committing; see Retry-After), "
            "or the report ran past the server's time limit (no Retry-After)"
        ),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "activity-report",
            "version": __version__,
            "description": "Coder's Activity API over an activity-report store.",
        },
        "paths": {
            "/api/private/metrics/activity": {
                "get": {
                    "summary": "Activity per interval and per user",
                    "parameters": parameters,
                    "security": _SECURITY,
                    "responses": {
                        "200": {
                            "description": "The report, as `activity-report --format json`",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **errors,
                    },
                }
            },
            "/api/private/metrics/seats": {
                "get": {
                    "summary": "Daily, 7-, 30- and 90-day active users, dormant seats, growth",
                    "parameters": [p for p in parameters if p["name"] != "min_users"]
                    + _SEATS_PARAMS,
                    "security": _SECURITY,
                    "responses": {
                        "200": {
                            "description": "The seats, as `activity-report seats --format json`",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **errors,
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus gauges: active users, events and active time",
                    "security": _SECURITY,
                    "responses": {
                        "200": {
                            "description": "Prometheus text format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "401": errors["401"],
                        "503": errors["503"],
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness: the server answers",
                    "responses": {"200": {"description": "ok"}},
                }
            },
        },
        "components": {
            "schemas": {"Error": _ERROR},
            "securitySchemes": {
                "SessionToken": {"type": "apiKey", "in": "header", "name": "Session-Token"},
                "CoderSessionToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Coder-Session-Token",
                },
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
