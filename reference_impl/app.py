"""The HTTP side: Starlette routes for the Stories API, the webhook and the response URL.

`build_app` wires the run store, the engine and the stories together and returns the ASGI app;
`Runtime` holds them so that the CLI can write a profile (it needs the webhook secrets) before it
serves. Every 4xx and 5xx answer, Starlette's own 404/405 included, is the spec's JSON error body;
webhook errors add `X-Tines-Status: error`; an unexpected fault answers 500 without a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import tines_spec
from reference_impl.config import ServerConfig
from reference_impl.engine import (
    Engine,
    ExitEvent,
    FailedRun,
    RunFailedError,
    RunHandle,
    RunOutcome,
)
from reference_impl.fixtures import Story
from reference_impl.negotiation import JSON_TYPE, negotiate_response, render_json
from reference_impl.store import RunStore, UnstorableError, payload_text

__all__ = ["Runtime", "WebhookEntry", "build_app", "build_runtime"]

log = logging.getLogger(__name__)

_HEADERS = tines_spec.metadata_headers()
STATUS = _HEADERS.status
EVENT_ID = _HEADERS.event_id
EXIT_ACTION_ID = _HEADERS.exit_action_id
LIMIT_REACHED = _HEADERS.limit_reached
RESPONSE_LOCATION = _HEADERS.response_location
_METADATA = frozenset(h.lower() for h in _HEADERS.all)
_DIGITS = re.compile(r"-?[0-9]+")
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
# orjson reads an integer past 64 bits as a float; the json module keeps it exact.
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class BodyTooLargeError(Exception):
    """The request body passed `--max-body-bytes` while it was being read."""


@dataclass(frozen=True)
class WebhookEntry:
    story: Story
    secret: str


@dataclass
class Runtime:
    """Everything a request handler needs, built once per server."""

    config: ServerConfig
    store: RunStore
    engine: Engine
    stories: dict[int, Story]
    webhooks: dict[str, WebhookEntry]
    story_bytes: dict[tuple[int, str | None, int | None], bytes]

    def webhook_url(self, story: Story, base_url: str) -> str:
        path = story.webhook_path or ""
        return f"{base_url}/webhook/{path}/{self.webhooks[path].secret}"


def _secret_for(store: RunStore, story: Story) -> str:
    """The story's webhook secret in this database, made and persisted at first start."""
    key = f"webhook_secret:{story.id}"
    secret = store.get_setting(key)
    if secret is None:
        secret = secrets.token_hex(16)
        store.set_setting(key, secret).result()
    return secret


def build_runtime(config: ServerConfig, stories: list[Story]) -> Runtime:
    """Open the store, recover from a crash, index the stories. Synchronous: runs at start-up."""
    store = RunStore(config.db, config.sqlite_synchronous)
    abandoned = store.abandon_unfinished().result()
    if abandoned:
        log.warning("%d run(s) left unfinished by the previous process marked abandoned", abandoned)
    graphs = [s.graph for s in stories if s.graph is not None]
    webhooks = {
        s.webhook_path: WebhookEntry(s, _secret_for(store, s))
        for s in stories
        if s.webhook_path is not None
    }
    return Runtime(
        config=config,
        store=store,
        engine=Engine(store, graphs, config.max_concurrent_runs),
        stories={s.id: s for s in stories},
        webhooks=webhooks,
        story_bytes={},
    )


# ---------------------------------------------------------------------- error bodies
def error_response(
    status: int,
    message: str,
    *,
    parameter: str | None = None,
    webhook: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    response = Response(_error_bytes(message, parameter), status, headers, JSON_TYPE)
    if webhook:
        response.headers[STATUS] = "error"
    return response


def _is_webhook(request: Request) -> bool:
    return request.url.path.startswith("/webhook/")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers) if exc.headers else None
    return error_response(
        exc.status_code, exc.detail, webhook=_is_webhook(request), headers=headers
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    # The route's template, not the path: a webhook's path ends in its secret.
    route = getattr(request.scope.get("route"), "path", "(no route)")
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, route)
    return error_response(500, "internal server error", webhook=_is_webhook(request))


# ---------------------------------------------------------------------- Stories API
def _authorised(headers: list[tuple[bytes, bytes]], api_key: bytes | None) -> bool:
    """Bearer or X-User-Token, compared in constant time; no key configured refuses everyone."""
    if api_key is None:
        return False
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), api_key):
                return True
        elif name == b"x-user-token" and hmac.compare_digest(value, api_key):
            return True
    return False


def _story_modes() -> list[str]:
    modes: list[str] = tines_spec.schema("story.schema.json")["properties"]["mode"]["enum"]
    return modes


def _error_bytes(message: str, parameter: str | None = None) -> bytes:
    item: dict[str, str] = {"message": message}
    if parameter is not None:
        item["parameter"] = parameter
    return render_json({"errors": [item]})


class StoriesApi:
    """GET /api/v1/stories/{story_id} as a bare ASGI app in front of Starlette.

    The story GET is the hot path the benchmark measures against a raw ASGI app; Starlette's
    request and response objects and its middleware cost about half its throughput there. So this
    one endpoint reads the ASGI scope directly and answers from the cache of serialised stories;
    everything else (other methods on the path included, which get Starlette's 405) goes on to
    the Starlette app.
    """

    PREFIX = "/api/v1/stories/"
    # Paths under PREFIX that are routes of their own, not story IDs (GET on them gets 405).
    LITERAL_PATHS = frozenset({"import"})

    def __init__(self, runtime: Runtime, app: ASGIApp) -> None:
        self.runtime = runtime
        self.app = app
        self.modes = _story_modes()
        key = runtime.config.api_key
        self.api_key = key.encode("utf-8") if key is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"].startswith(self.PREFIX)
            and "/" not in scope["path"][len(self.PREFIX) :]
            and scope["path"][len(self.PREFIX) :] not in self.LITERAL_PATHS
        ):
            raw_id = scope["path"][len(self.PREFIX) :]
            status, body = self.answer(raw_id, scope["headers"], scope["query_string"])
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send(
                {"type": "http.response.body", "body": body if scope["method"] == "GET" else b""}
            )
            return
        await self.app(scope, receive, send)

    def answer(
        self, raw_id: str, headers: list[tuple[bytes, bytes]], query_string: bytes
    ) -> tuple[int, bytes]:
        runtime = self.runtime
        if not _authorised(headers, self.api_key):
            return 401, _error_bytes("a valid API key is required (Authorization: Bearer)")
        story_id = _integer(raw_id)
        story = runtime.stories.get(story_id) if story_id is not None else None
        if story is None:
            return 404, _error_bytes("story not found")
        # An empty value means "not given" (STORY-PARAM-002): what tapi sends by default.
        query = {
            k: v for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True) if v
        }
        mode = query.get("story_mode")
        if mode is not None and mode not in self.modes:
            return 400, _error_bytes(
                f"story_mode must be one of {', '.join(self.modes)}", "story_mode"
            )
        raw_draft = query.get("draft_id")
        draft_id: int | None = None
        if raw_draft is not None:
            if not _DIGITS.fullmatch(raw_draft):
                return 400, _error_bytes("draft_id must be an integer", "draft_id")
            draft_id = _integer(raw_draft)
            if draft_id is None or draft_id not in story.drafts:
                return 404, _error_bytes("draft not found", "draft_id")
        live = query.get("include_live_activity", "false")
        if live not in ("true", "false"):
            return 400, _error_bytes(
                "include_live_activity must be true or false", "include_live_activity"
            )
        key = (story.id, mode, draft_id)
        body = runtime.story_bytes.get(key)
        if body is None:
            body = runtime.story_bytes[key] = render_json(story.record(mode, draft_id))
        if live == "true":
            # The cached object with the live fields spliced in before its closing brace.
            body = body[:-1] + b"," + render_json(_live_activity(runtime, story))[1:]
        return 200, body


def _integer(text: str) -> int | None:
    """The integer an ID spells; None when it spells none, or one longer than Python's int-string
    limit (4,300 digits), which no story or draft can have: a fixture's IDs pass the same limit."""
    if not _DIGITS.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _live_activity(runtime: Runtime, story: Story) -> dict[str, Any]:
    """The spec's live fields (`tines_spec.live_activity_fields`), each by name from the engine's
    state now.

    A field the engine does not track is zero of its schema type: tokens_used_percentage is
    always 0.0, since the engine has no AI actions, so no story uses tokens. A story without a
    webhook never runs here, so its counts are zero.
    """
    engine = runtime.engine
    activity = engine.live_activity(story.id) if engine.has_story(story.id) else None
    properties = tines_spec.schema("story.schema.json")["properties"]
    values: dict[str, Any] = {}
    for name in tines_spec.live_activity_fields():
        zero = 0.0 if properties[name]["type"] == "number" else 0
        values[name] = getattr(activity, name, zero)
    return values


# ---------------------------------------------------------------------- webhook
def _base_url(request: Request, public_url: str | None) -> str:
    if public_url:
        return public_url
    host = request.headers.get("host", "")
    if not _HOST.fullmatch(host):
        server = request.scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{request.url.scheme}://{host}"


def _capped(request: Request, limit: int) -> Request:
    """The request with a receive that stops reading once the body passes the cap."""
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLargeError
        return message

    capped_receive: Receive = receive
    return Request(request.scope, capped_receive)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    """A JSON number as a float; 1e999 overflows to infinity, which has no JSON text to answer."""
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"{text[:40]} is out of range")
    return value


async def _read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, as `Request.body()` reads it, without its stream machinery (the
    webhook's hot path); BodyTooLargeError once it passes the cap."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLargeError
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect


async def _event_body(request: Request, headers: dict[str, str], limit: int) -> Any:
    """The request's data as the webhook event's `body`; raises HTTPException on bad input."""
    if request.method == "GET":
        return _multi_dict(request.query_params.multi_items())
    media = headers.get("content-type", "").partition(";")[0].strip().lower()
    if media in _FORM_TYPES:
        form = await _capped(request, limit).form()
        return _multi_dict(
            (k, v.filename if isinstance(v, UploadFile) else v) for k, v in form.multi_items()
        )
    raw = await _read_body(request.receive, limit)
    if not raw.strip():
        return {}
    is_json = media == "application/json" or media.endswith("+json")
    if is_json or not media:
        if not _LONG_NUMBER.search(raw):
            # orjson refuses what the rules below refuse (NaN, infinity, 1e999) but also what they
            # take (lone surrogates, UTF-16): on any error the json module decides.
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass
        try:
            return json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
        except (ValueError, RecursionError):
            if is_json:
                raise HTTPException(400, "the request body is not valid JSON") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(
            415, "the request body is neither JSON, a form nor UTF-8 text"
        ) from None


def _multi_dict(items: Any) -> dict[str, Any]:
    """Fields as an object; a name given more than once keeps all its values, in a list."""
    out: dict[str, Any] = {}
    for key, value in items:
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


def _event_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's headers as the event's object: lower-case names, the first value of a name
    given twice (as `dict(request.headers)` gives them, without its scan per name)."""
    headers: dict[str, str] = {}
    for name, value in raw:
        headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return headers


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


def make_webhook(runtime: Runtime) -> Callable[[Request], Awaitable[Response]]:
    config = runtime.config

    async def webhook(request: Request) -> Response:
        loop = asyncio.get_running_loop()
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
        headers = _event_headers(request.scope["headers"])
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > config.max_body_bytes:
            return error_response(413, "the request body is too large", webhook=True)
        try:
            body = await _event_body(request, headers, config.max_body_bytes)
        except BodyTooLargeError:
            return error_response(413, "the request body is too large", webhook=True)
        event = {"body": body, "headers": headers}
        try:
            payload_text(event)  # refused here, as the client's error, not later by the store
        except UnstorableError as exc:
            return error_response(400, f"the request cannot be stored: {exc}", webhook=True)
        handle = runtime.engine.submit(entry.story.id, event)

        def response_url() -> str:
            webhook_url = runtime.webhook_url(entry.story, _base_url(request, config.public_url))
            return f"{webhook_url}/{handle.run_id}"

        if handle.queued:
            await handle.stored()
            return _limit_response(201, "concurrency", response_url())
        remaining = config.exit_timeout - (loop.time() - started)
        try:
            outcome = await _first_exit(handle, remaining)
        except RunFailedError:
            # The server lost the run to a fault (a write the store refused): not the story's
            # doing, so a 500; its response URL says abandoned.
            return error_response(500, "the run failed before an exit action emitted", webhook=True)
        if outcome is None:
            await handle.stored()
            return _limit_response(504, "time", response_url())
        if isinstance(outcome, FailedRun):
            # Implementation-defined (openapi.yaml, RunFailed): the run is over and has no data,
            # which its response URL says too from now on.
            return error_response(
                422,
                f"the run ended without data: {outcome.reason}",
                webhook=True,
                headers={RESPONSE_LOCATION: response_url()},
            )
        return _data_response(outcome, headers.get("accept"))

    return webhook


async def _first_exit(handle: RunHandle, timeout: float) -> RunOutcome | None:
    """The run's outcome (its first exit event, or why it failed), or None when the timeout
    passes first; the run goes on.

    One future and one timer, where `wait_for(shield(...))` makes a task and two futures more
    per request: this is the webhook's hot path.
    """
    result = handle.result
    if not result.done():
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(_: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        timer = loop.call_later(max(timeout, 0.0), wake)
        result.add_done_callback(wake)
        try:
            await waiter
        finally:
            timer.cancel()
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
                    response = await _http_error(request, exc)
                except Exception as exc:
                    response = await _server_error(request, exc)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# ---------------------------------------------------------------------- the app
async def _unreachable(request: Request) -> Response:
    raise HTTPException(404)


def build_app(runtime: Runtime) -> ASGIApp:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if runtime.config.api_key is None:
            log.warning(
                "no API key configured (--api-key or TINES_API_KEY): the Stories API answers 401"
            )
        yield
        await shutdown(runtime)

    routes = [
        # Answered by StoriesApi in front; the route is here so that other methods get 405.
        Route("/api/v1/stories/{story_id}", _unreachable, methods=["GET"]),
        Route("/webhook/{path}/{secret}", make_webhook(runtime), methods=["GET", "POST", "PUT"]),
        Route(
            "/webhook/{path}/{secret}/{response_id}", make_response_url(runtime), methods=["GET"]
        ),
    ]
    from reference_impl.story_admin import story_admin_routes  # imports app: import here

    # First: a literal path (`/api/v1/stories/import`) must be matched before `{story_id}`
    # takes it, for the answer and for the `Allow` of a 405.
    routes = _one_route_per_path(story_admin_routes(runtime), routes) + routes
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
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
