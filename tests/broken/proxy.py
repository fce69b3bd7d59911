"""A forwarding proxy that breaks one thing: the broken targets the suite must catch.

One ASGI app listens on several ports at once, one port per variant; the port a request arrived
on selects the variant's mutation, so every variant has a target of its own (its profile points
at its port) and nothing has to be switched between runs. Each call is forwarded to the upstream
target (the reference server) with httpx; every absolute URL the upstream writes (bodies,
`X-Tines-Response-Location`, `Location`) is rewritten to the variant's own origin, so that the
suite's polling of a response URL goes through the same broken target.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import httpx
import uvicorn

import tines_spec

Headers = list[tuple[str, str]]
Route = Literal["stories", "probe", "race", "response_url", "other"]

# Headers that describe one hop's framing, not the message: httpx and uvicorn set their own.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "host",
        "te",
        "upgrade",
    }
)
_URL_HEADERS = frozenset({tines_spec.metadata_headers().response_location.lower(), "location"})
_NO_JSON = object()


def _wire(text: str) -> bytes:
    """Header text as bytes: Latin-1 as received upstream, UTF-8 for what a mutation wrote."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _find(headers: Headers, name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers if k.lower() == lowered), None)


@dataclass
class Incoming:
    """A request as the suite sent it to the broken target."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    route: Route = "other"

    def header(self, name: str) -> str | None:
        return _find(self.headers, name)

    def with_header(self, name: str, value: str | None) -> Incoming:
        """A copy with the header replaced (or removed when `value` is None)."""
        kept = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            kept.append((name, value))
        return replace(self, headers=kept)

    def params(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params() if k == name), None)

    def with_param(self, name: str, value: str | None) -> Incoming:
        """A copy with the query parameter replaced (or removed when `value` is None)."""
        kept = [(k, v) for k, v in self.params() if k != name]
        if value is not None:
            kept.append((name, value))
        return replace(self, query=urlencode(kept))

    def json(self) -> Any:
        """The request body as JSON, or `_NO_JSON` when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return _NO_JSON

    def with_json(self, value: Any) -> Incoming:
        return replace(self, body=json.dumps(value).encode())


@dataclass
class Outgoing:
    """A response on its way back to the suite."""

    status: int
    headers: Headers
    body: bytes

    def header(self, name: str) -> str | None:
        return _find(self.headers, name)

    def set_header(self, name: str, value: str | None) -> None:
        """Replace every value of the header (or remove it when `value` is None)."""
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            self.headers.append((name, value))

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON, or `_NO_JSON` when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return _NO_JSON

    def set_json(self, value: Any) -> None:
        self.body = json.dumps(value).encode()
        self.set_header("content-type", "application/json")


def is_json(value: Any) -> bool:
    """Whether `Incoming.json()` / `Outgoing.json()` found JSON."""
    return value is not _NO_JSON


@dataclass(frozen=True)
class TargetPaths:
    """Where the probe and race webhooks live on the target, read from its profile."""

    probe: str
    race: str | None

    def route(self, path: str) -> Route:
        if path.startswith("/api/v1/stories"):
            return "stories"
        for webhook, name in ((self.probe, "probe"), (self.race, "race")):
            if webhook is None:
                continue
            if path == webhook:
                return "probe" if name == "probe" else "race"
            if path.startswith(webhook + "/"):
                return "response_url"
        return "other"


@dataclass
class Call:
    """One request through a variant: what came in, how to forward it, the variant's memory."""

    request: Incoming
    upstream: Callable[[Incoming], Awaitable[Outgoing]]
    memory: dict[str, Any]
    api_key: str
    exit_timeout_seconds: float

    async def forward(self, request: Incoming | None = None) -> Outgoing:
        return await self.upstream(request if request is not None else self.request)


Mutation = Callable[[Call], Awaitable[Outgoing]]


async def unchanged(call: Call) -> Outgoing:
    """The control: forwards every call untouched, so the proxy itself is shown to be faithful."""
    return await call.forward()


@dataclass
class _Listener:
    name: str
    mutation: Mutation
    sock: socket.socket
    memory: dict[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"


class BrokenProxy:
    """The ASGI app: routes each connection's port to its variant and forwards to the upstream."""

    def __init__(
        self, upstream: str, paths: TargetPaths, api_key: str, exit_timeout_seconds: float
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.paths = paths
        self.api_key = api_key
        self.exit_timeout_seconds = exit_timeout_seconds
        self._listeners: dict[int, _Listener] = {}
        self._client: httpx.AsyncClient | None = None

    def listen(self, name: str, mutation: Mutation) -> str:
        """Open a port for a variant; returns its origin (`http://127.0.0.1:PORT`)."""
        sock = bound_socket()
        listener = _Listener(name, mutation, sock)
        self._listeners[sock.getsockname()[1]] = listener
        return listener.origin

    @property
    def sockets(self) -> list[socket.socket]:
        return [listener.sock for listener in self._listeners.values()]

    def origin_of(self, name: str) -> str:
        return next(lst.origin for lst in self._listeners.values() if lst.name == name)

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        listener = self._listeners[scope["server"][1]]
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        request = Incoming(
            method=scope["method"],
            path=path,
            query=scope["query_string"].decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=body,
            route=self.paths.route(path),
        )

        async def upstream(outgoing: Incoming) -> Outgoing:
            return await self._forward(outgoing, listener.origin)

        call = Call(request, upstream, listener.memory, self.api_key, self.exit_timeout_seconds)
        response = await listener.mutation(call)
        headers = [(k, v) for k, v in response.headers if k.lower() not in _HOP_BY_HOP]
        headers.append(("content-length", str(len(response.body))))
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [(_wire(k), _wire(v)) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def _forward(self, request: Incoming, origin: str) -> Outgoing:
        if self._client is None:
            # Created on first use so that it belongs to the server's own event loop.
            self._client = httpx.AsyncClient(
                timeout=self.exit_timeout_seconds + 30, limits=httpx.Limits(max_connections=64)
            )
        url = self.upstream + request.path + (f"?{request.query}" if request.query else "")
        headers = [(k, v) for k, v in request.headers if k.lower() not in _HOP_BY_HOP]
        answer = await self._client.request(
            request.method, url, headers=headers, content=request.body
        )
        upstream_origin = self.upstream.encode()
        return Outgoing(
            status=answer.status_code,
            headers=[
                (k, v.replace(self.upstream, origin) if k.lower() in _URL_HEADERS else v)
                for k, v in (
                    (raw_name.decode("latin-1"), raw_value.decode("latin-1"))
                    for raw_name, raw_value in answer.headers.raw
                )
            ],
            body=answer.content.replace(upstream_origin, origin.encode()),
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


@contextmanager
def serving(app: Any, sockets: list[socket.socket]) -> Iterator[None]:
    """Serve an ASGI app on bound sockets with uvicorn in a thread; stop it cleanly on exit.

    A thread rather than a subprocess: the proxy's variants are Python callables, and the
    server's own `should_exit` flag stops it without signals.
    """
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        # The upstream's own Date and Server headers pass through; uvicorn adds none of its own.
        server_header=False,
        date_header=False,
    )
    server = uvicorn.Server(config)

    def run() -> None:
        async def serve() -> None:
            try:
                await server.serve(sockets=sockets)
            finally:
                close = getattr(app, "aclose", None)
                if close is not None:
                    await close()

        asyncio.run(serve())

    thread = threading.Thread(target=run, name="broken-proxy", daemon=True)
    thread.start()
    try:
        _wait_until(lambda: server.started or not thread.is_alive(), deadline_seconds=10)
        if not server.started:
            raise RuntimeError("the server did not start")
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def bound_socket() -> socket.socket:
    """A socket bound to a free port of 127.0.0.1, for `serving`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def _wait_until(condition: Callable[[], bool], deadline_seconds: float) -> None:
    """Poll a condition until it holds or the deadline passes (the caller checks which)."""
    deadline = time.monotonic() + deadline_seconds
    pause = threading.Event()
    while not condition() and time.monotonic() < deadline:
        pause.wait(0.02)
