"""The HTTP side: Starlette routes for the Stories API, the webhook and the response URL.

`build_app` wires the run store, the engine and the stories together and returns the ASGI app;
`Runtime` holds them so that the CLI can write a profile (it needs the webhook secrets) before it
serves. Every 4xx and 5xx answer, Starlette's own 404/405 included, is the spec's JSON error body;
webhook errors add `X-Tines-Status: error`; an unexpected fault answers 500 without a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from reference_impl.error_answers import client_left, http_error, server_error
from reference_impl.exit_deadlines import ExitDeadlines
from reference_impl.runtime import Runtime, WebhookEntry, build_runtime
from reference_impl.stories_api import StoriesApi
from reference_impl.story_admin import story_admin_routes
from reference_impl.webhook import (
    DEADLINES_STATE,
    LOOP_STATE,
    WebhookApi,
    make_response_url,
    make_webhook,
)

__all__ = ["Runtime", "WebhookEntry", "build_app", "build_runtime", "shutdown"]

log = logging.getLogger(__name__)


async def _unreachable(request: Request) -> Response:
    raise HTTPException(404)


def build_app(runtime: Runtime) -> ASGIApp:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if runtime.config.api_key is None:
            log.warning(
                "no API key configured (--api-key or TINES_API_KEY): the Stories API answers 401"
            )
        loop = asyncio.get_running_loop()
        yield {LOOP_STATE: loop, DEADLINES_STATE: ExitDeadlines(loop)}
        await shutdown(runtime)

    routes = [
        # Answered by StoriesApi in front; the route is here so that other methods get 405.
        Route("/api/v1/stories/{story_id}", _unreachable, methods=["GET"]),
        Route("/webhook/{path}/{secret}", make_webhook(runtime), methods=["GET", "POST", "PUT"]),
        Route(
            "/webhook/{path}/{secret}/{response_id}", make_response_url(runtime), methods=["GET"]
        ),
    ]
    # First: a literal path (`/api/v1/stories/import`) must be matched before `{story_id}`
    # takes it, for the answer and for the `Allow` of a 405.
    routes = _one_route_per_path(story_admin_routes(runtime), routes) + routes
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: http_error,
            ClientDisconnect: client_left,
            Exception: server_error,
        },
    )
    return StoriesApi(runtime, WebhookApi(make_webhook(runtime), app))


def _one_route_per_path(extra: list[Route], routes: list[Route]) -> list[Route]:
    """`extra` with each route whose path is already routed merged into that route.

    Starlette answers a method no route takes with the `Allow` of the first route whose path
    matches, so two routes on one path would each hide the other's methods (an OPTIONS on a
    story said `Allow: GET, HEAD` though DELETE is served there).
    """
    kept = []
    for route in extra:
        index = next((i for i, r in enumerate(routes) if r.path == route.path), None)
        if index is None:
            kept.append(route)
            continue
        first = routes[index]
        by_method = {m: first.endpoint for m in first.methods or ()}
        by_method.update({m: route.endpoint for m in route.methods or ()})

        async def dispatch(request: Request, by_method: Any = by_method) -> Response:
            if request.path_params.get("story_id") in StoriesApi.LITERAL_PATHS:
                # `{story_id}` matched a literal route's path (POST /api/v1/stories/import).
                raise HTTPException(405, headers={"Allow": "POST"})
            response: Response = await by_method[request.method](request)
            return response

        methods = sorted(set(first.methods or ()) | set(route.methods or ()) - {"HEAD"})
        routes[index] = Route(route.path, dispatch, methods=methods)
    return kept


async def shutdown(runtime: Runtime) -> None:
    """Stop the runs, mark what they left unfinished as abandoned, and commit everything."""
    await runtime.engine.stop()
    abandoned = await asyncio.wrap_future(runtime.store.abandon_unfinished())
    if abandoned:
        log.warning("%d unfinished run(s) marked abandoned at shutdown", abandoned)
    await asyncio.to_thread(runtime.store.close)
