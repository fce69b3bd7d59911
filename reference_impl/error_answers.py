"""The JSON error answers: the spec's error body, and the exception handlers that give it.

Every 4xx and 5xx answer, Starlette's own 404/405 included, is the spec's JSON error body;
webhook errors add `X-Tines-Status: error`; an unexpected fault answers 500 without a traceback.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

import tines_spec
from reference_impl.negotiation import JSON_TYPE, render_json

__all__ = [
    "client_left",
    "error_bytes",
    "error_response",
    "http_error",
    "is_webhook",
    "is_webhook_path",
    "server_error",
]

log = logging.getLogger(__name__)

STATUS = tines_spec.metadata_headers().status


def error_bytes(message: str, parameter: str | None = None) -> bytes:
    item: dict[str, str] = {"message": message}
    if parameter is not None:
        item["parameter"] = parameter
    return render_json({"errors": [item]})


def error_response(
    status: int,
    message: str,
    *,
    parameter: str | None = None,
    webhook: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    response = Response(error_bytes(message, parameter), status, headers, JSON_TYPE)
    if webhook:
        response.headers[STATUS] = "error"
    return response


def is_webhook_path(path: str) -> bool:
    return path.startswith("/webhook/")


def is_webhook(request: Request) -> bool:
    return is_webhook_path(request.url.path)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers) if exc.headers else None
    return error_response(exc.status_code, exc.detail, webhook=is_webhook(request), headers=headers)


async def client_left(request: Request, exc: Exception) -> Response:
    """The client went away before its body was complete (or its body deadline closed the
    connection): the answer goes nowhere, and the log has nothing to say of it."""
    return error_response(
        400, "the client left before the request body was complete", webhook=is_webhook(request)
    )


async def server_error(request: Request, exc: Exception) -> Response:
    # The route's template, not the path: a webhook's path ends in its secret.
    route = getattr(request.scope.get("route"), "path", "(no route)")
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, route)
    return error_response(500, "internal server error", webhook=is_webhook(request))
