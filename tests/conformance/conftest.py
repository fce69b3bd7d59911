"""Fake targets for the framework's tests: a tiny Starlette app on uvicorn in a thread.

The suite must turn any target's behaviour (garbage, silence, hanging) into a verdict, so the
framework is tested against targets built to misbehave, not against the reference.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_KEY_ENV = "CONFORMANCE_FRAMEWORK_TEST_KEY"
ROOT = Path(__file__).resolve().parents[2]


# What a web server that is not the target answers for every path ("html_page"): a long error page.
HTML_PAGE = "<html><title>Error response</title>" + "<p>Not here.</p>" * 20 + "</html>"


@dataclass
class FakeTarget:
    """What the fake target saw, and how it answers (`mode`): "ok"; "garbage"; or a set-up gone
    wrong: "refuse_key" (every story read is 401), "no_probe" (the webhook path answers 404),
    "wrapped" (the exit payload wraps the value in an object), "wrong_echo" (the exit payload is
    a fixed value, not the request's), "no_delay" (the delay is not read from the body)."""

    mode: str = "ok"
    base_url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)
    slow_started: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        with self.lock:
            return len(self.seen)

    def app(self) -> Starlette:
        async def story(request: Request) -> Response:
            self._record(request)
            if self.mode == "refuse_key":
                return JSONResponse({"error": "unauthorised"}, status_code=401)
            if self.mode == "garbage":
                # Echo the credentials: the suite must still keep them out of every report.
                auth = request.headers.get("authorization", "")
                return Response(f"<html>oops {auth} {request.url}</html>", media_type="text/html")
            if self.mode == "html_page":
                return Response(HTML_PAGE, status_code=404, media_type="text/html")
            return JSONResponse({"id": int(request.path_params["story_id"]), "name": "fake"})

        async def webhook(request: Request) -> Response:
            self._record(request)
            if self.mode == "no_probe":
                return JSONResponse({"error": "not found"}, status_code=404)
            body = json.loads(await request.body() or b"{}")
            # The probe contract's delay (the set-up check sends one), bounded for the tests.
            delay = body.get("delay_seconds", 0)
            if isinstance(delay, int | float) and delay > 0 and self.mode != "no_delay":
                await asyncio.sleep(min(delay, 5))
            if self.mode == "wrapped":
                return JSONResponse({"value": body.get("exit")})
            if self.mode == "wrong_echo":
                return JSONResponse("hello")
            return JSONResponse(body.get("exit"))

        async def slow(request: Request) -> Response:
            self._record(request)
            self.slow_started.set()
            await asyncio.sleep(120)
            return Response("late")

        return Starlette(
            routes=[
                Route("/api/v1/stories/{story_id}", story),
                Route("/webhook/{path}/{secret}", webhook, methods=["POST"]),
                Route("/slow", slow),
            ]
        )

    def _record(self, request: Request) -> None:
        with self.lock:
            self.seen.append({"path": request.url.path, "headers": dict(request.headers)})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def fake_target() -> Iterator[FakeTarget]:
    """A fake target already listening (the socket is bound before uvicorn starts, so clients
    can connect at once; the backlog holds them until the server accepts)."""
    target = FakeTarget()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    target.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        target.app(), log_level="critical", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield target
    server.should_exit = True
    thread.join(10)
    sock.close()


@dataclass
class Profiles:
    """Writes profiles into a test's directory; the API key and webhook secret are fresh."""

    directory: Path
    api_key: str
    webhook_secret: str

    def write(self, base_url: str, name: str = "profile.yaml", **sections: dict[str, Any]) -> Path:
        document: dict[str, Any] = {
            "name": "fake",
            "target": {"base_url": base_url, "api_key_env": API_KEY_ENV},
            "stories": {"ids": [1], "missing_id": 999},
            "webhooks": {
                "probe_url": f"{base_url}/webhook/probe/{self.webhook_secret}",
                "exit_timeout_seconds": 2,
            },
            "safety": {"max_requests_per_second": 200, "max_in_flight": 4},
        }
        for key, value in sections.items():
            document.setdefault(key, {}).update(value)
        path = self.directory / name
        path.write_text(yaml.safe_dump(document), encoding="utf-8")
        return path


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Profiles:
    key = "key-" + secrets.token_hex(16)
    monkeypatch.setenv(API_KEY_ENV, key)
    return Profiles(tmp_path, key, "secret" + secrets.token_hex(12))
