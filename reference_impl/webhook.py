"""The webhook and response URL routes: a request becomes a run, and its answer the run's outcome.

The webhook answers with the exit event's data (negotiated by `negotiation.py`), a 201 when the
story's run slots are full, a 504 at the exit timeout, a 422 when the run ended without data and
a 500 when the server lost it; the last three name the response URL, which answers from the
store. `WebhookApi` calls the webhook's handler straight from ASGI, in front of Starlette.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

import tines_spec
from reference_impl.error_answers import client_left, error_response, http_error, server_error
from reference_impl.exit_deadlines import ExitDeadlines
from reference_impl.negotiation import JSON_TYPE, negotiate_response, render_json
from reference_impl.runs import ExitEvent, FailedRun, RunFailedError, RunHandle, RunOutcome
from reference_impl.runtime import Runtime, WebhookEntry
from reference_impl.store import UnstorableError
from reference_impl.webhook_body import BodyTooLargeError, event_body, event_headers

__all__ = ["DEADLINES_STATE", "LOOP_STATE", "WebhookApi", "make_response_url", "make_webhook"]

_HEADERS = tines_spec.metadata_headers()
STATUS = _HEADERS.status
EVENT_ID = _HEADERS.event_id
EXIT_ACTION_ID = _HEADERS.exit_action_id
LIMIT_REACHED = _HEADERS.limit_reached
RESPONSE_LOCATION = _HEADERS.response_location
_METADATA = frozenset(h.lower() for h in _HEADERS.all)
# The lifespan state's name for the loop the server runs on: uvicorn copies the state into every
# request's scope, and reading it there spares `asyncio.get_running_loop()`, a getpid system
# call (its fork check), on every webhook request.
LOOP_STATE = "reference_impl.loop"
# And the loop's exit timeouts (`exit_deadlines`), which the lifespan makes for it.
DEADLINES_STATE = "reference_impl.exit_deadlines"
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def _base_url(request: Request, public_url: str | None) -> str:
    if public_url:
        return public_url
    host = request.headers.get("host", "")
    if not _HOST.fullmatch(host):
        server = request.scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{request.url.scheme}://{host}"


def _limit_response(status: int, limit: str, response_url: str) -> Response:
    body = render_json({"limit_reached": limit, "response_url": response_url})
    response = Response(body, status, media_type=JSON_TYPE)
    response.headers[STATUS] = "ok"
    response.headers[LIMIT_REACHED] = limit
    response.headers[RESPONSE_LOCATION] = response_url
    return response


class _Answer(Response):
    """A response whose status, raw headers and body are ready: Starlette's `Response.__init__`
    (rendering, header objects) skipped on the webhook's hot path; sent as any Response is."""

    def __init__(self, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status
        self.body = body
        self.raw_headers = raw_headers
        self.background = None


# Worked out once: the data answer's metadata header names and the one fixed value.
_DATA_RECEIVED = (STATUS.lower().encode(), b"data_received")
_EVENT_ID_NAME = EVENT_ID.lower().encode()
_EXIT_ACTION_ID_NAME = EXIT_ACTION_ID.lower().encode()


def _data_response(exit_event: ExitEvent, accept: str | None) -> Response:
    rendered = negotiate_response(exit_event.payload, accept)
    status, body = rendered.status, rendered.body
    # As Starlette frames it: a Content-Length unless the status has no body.
    headers = [] if status < 200 or status in (204, 304) else [_content_length(body)]
    # Encoded by hand rather than through Starlette's headers, which encode values as latin-1: a
    # payload header may carry any Unicode, sent as UTF-8 (obs-text to HTTP/1.1).
    headers += [
        (name.lower().encode("ascii"), value.encode("utf-8"))
        for name, value in rendered.headers
        if name.lower() not in _METADATA
    ]
    headers += [
        _DATA_RECEIVED,
        (_EVENT_ID_NAME, exit_event.event_id.encode()),
        (_EXIT_ACTION_ID_NAME, exit_event.action_id.encode()),
    ]
    return _Answer(status, headers, body)


def _content_length(body: bytes) -> tuple[bytes, bytes]:
    return (b"content-length", str(len(body)).encode("ascii"))


def _find_webhook(runtime: Runtime, request: Request) -> WebhookEntry | None:
    entry = runtime.webhooks.get(request.path_params["path"])
    given = request.path_params["secret"].encode("utf-8")
    if entry is None or not hmac.compare_digest(given, entry.secret.encode("utf-8")):
        return None
    return entry


def _response_url(
    runtime: Runtime, entry: WebhookEntry, request: Request, handle: RunHandle
) -> str:
    """Where the run's outcome can be read later (a function, not a closure in the handler:
    only the rarer answers name it, and a closure would be made for every request)."""
    base = _base_url(request, runtime.config.public_url)
    return f"{runtime.webhook_url(entry.story, base)}/{handle.run_id}"


def make_webhook(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    config = runtime.config

    async def webhook(request: Request) -> Response:
        state = request.scope.get("state") or {}
        loop = state.get(LOOP_STATE)
        if loop is None:  # no lifespan ran (an ASGI client in a test)
            loop = asyncio.get_running_loop()
            deadlines = ExitDeadlines(loop)
        else:
            deadlines = state[DEADLINES_STATE]
        started = loop.time()
        entry = _find_webhook(runtime, request)
        if entry is None:
            return error_response(404, "no webhook at this path with this secret", webhook=True)
        if request.method == "HEAD":
            # HEAD is safe (RFC 9110 section 9.2.1) and a run is a side effect; the GET answer it
            # would describe exists only once a run has made it. So it starts none.
            return error_response(
                405, "HEAD starts no run", webhook=True, headers={"Allow": "GET, POST, PUT"}
            )
        headers = event_headers(request.scope["headers"])
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > config.max_body_bytes:
            return error_response(413, "the request body is too large", webhook=True)
        try:
            body = await event_body(request, headers, config.max_body_bytes)
        except BodyTooLargeError:
            return error_response(413, "the request body is too large", webhook=True)
        event = {"body": body, "headers": headers}
        try:
            # Refused here, as the client's error, not later by the store; the store keeps the
            # text for the run's first event, this very object.
            runtime.store.text_of(event)
        except UnstorableError as exc:
            return error_response(400, f"the request cannot be stored: {exc}", webhook=True)
        handle = runtime.engine.submit(entry.story.id, event, loop)
        if handle.queued:
            await handle.stored()
            return _limit_response(
                201, "concurrency", _response_url(runtime, entry, request, handle)
            )
        try:
            outcome = await _first_exit(handle, started + config.exit_timeout, deadlines, loop)
        except RunFailedError:
            # The server lost the run to a fault (a write the store refused): not the story's
            # doing, so a 500; its response URL says abandoned.
            return error_response(500, "the run failed before an exit action emitted", webhook=True)
        if outcome is None:
            await handle.stored()
            return _limit_response(504, "time", _response_url(runtime, entry, request, handle))
        if isinstance(outcome, FailedRun):
            # Implementation-defined (openapi.yaml, RunFailed): the run is over and has no data,
            # which its response URL says too from now on.
            return error_response(
                422,
                f"the run ended without data: {outcome.reason}",
                webhook=True,
                headers={RESPONSE_LOCATION: _response_url(runtime, entry, request, handle)},
            )
        return _data_response(outcome, headers.get("accept"))

    return webhook


async def _first_exit(
    handle: RunHandle,
    deadline: float,
    deadlines: ExitDeadlines,
    loop: asyncio.AbstractEventLoop,
) -> RunOutcome | None:
    """The run's outcome (its first exit event, or why it failed), or None when the loop's
    clock passes `deadline` first; the run goes on.

    One future, woken by the result or by the deadline's slot, where `wait_for(shield(...))`
    makes a task and two futures more per request and a timer of its own: this is the
    webhook's hot path.
    """
    result = handle.result
    if not result.done():
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(_: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        waiting = deadlines.watch(deadline, waiter)
        result.add_done_callback(wake)
        try:
            await waiter
        finally:
            waiting.discard(waiter)
            result.remove_done_callback(wake)
        if not result.done():
            return None
    return result.result()


def make_response_url(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    config = runtime.config

    async def response_url(request: Request) -> Response:
        entry = _find_webhook(runtime, request)
        run_id = request.path_params["response_id"]
        record = await asyncio.to_thread(runtime.store.get_run, run_id) if entry else None
        if entry is None or record is None or record.scope != str(entry.story.id):
            return error_response(404, "no run has this response ID", webhook=True)
        if record.event_id is not None and record.action_id is not None:
            response = Response(render_json(record.payload), media_type=JSON_TYPE)
            response.headers[STATUS] = "data_received"
            response.headers[EVENT_ID] = record.event_id
            response.headers[EXIT_ACTION_ID] = record.action_id
            return response
        url = f"{runtime.webhook_url(entry.story, _base_url(request, config.public_url))}/{run_id}"
        if record.status in ("abandoned", "failed"):
            response = Response(
                render_json({"status": record.status, "response_url": url}),
                410,
                media_type=JSON_TYPE,
            )
            response.headers[STATUS] = "error"
            return response
        response = Response(
            render_json({"status": "pending", "response_url": url}), 202, media_type=JSON_TYPE
        )
        response.headers[STATUS] = "ok"
        response.headers["Retry-After"] = "1"
        return response

    return response_url


class WebhookApi:
    """The webhook route (`/webhook/{path}/{secret}`, GET, POST and PUT) called straight from ASGI.

    The same handler Starlette's route calls, with the same exception handlers, but without the
    router and the middleware stack around it, which cost a fifth of the webhook's CPU. HEAD and
    every other method and path go on to Starlette (its 405 for the methods the route lacks).
    """

    PREFIX = "/webhook/"
    METHODS = frozenset({"GET", "POST", "PUT"})

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]], app: ASGIApp) -> None:
        self.endpoint = endpoint
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in self.METHODS
            and scope["path"].startswith(self.PREFIX)
        ):
            path, _, secret = scope["path"][len(self.PREFIX) :].partition("/")
            if path and secret and "/" not in secret:
                scope["path_params"] = {"path": path, "secret": secret}
                # As Starlette sets it: Request.form() turns a malformed form into a 400 with it.
                scope["app"] = self.app
                request = Request(scope, receive)
                try:
                    response = await self.endpoint(request)
                except HTTPException as exc:
                    response = await http_error(request, exc)
                except ClientDisconnect as exc:
                    response = await client_left(request, exc)
                except Exception as exc:
                    response = await server_error(request, exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
