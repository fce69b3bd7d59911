"""The serving process's collector settings, and the premise they rest on: a webhook request
leaves no reference cycle behind, so collecting the young generation less often frees nothing
later that it would have freed sooner."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from reference_impl.app import build_app, shutdown
from reference_impl.collector import YOUNG_THRESHOLD, tune_for_serving

from .conftest import in_memory_runtime


@pytest.fixture
def collector_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector_restored")
def test_tuning_freezes_what_exists_and_raises_only_the_young_threshold() -> None:
    _, middle, oldest = gc.get_threshold()
    gc.unfreeze()
    tune_for_serving()
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, oldest)
    assert gc.get_freeze_count() > 1000  # the modules imported so far, at the least


async def _call(app: Any, path: str, body: bytes) -> int:
    """One POST straight through ASGI, with no client library whose own objects could be
    garbage: only what the app made is left to count."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"ref"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


def test_webhook_requests_leave_no_garbage_cycle() -> None:
    runtime, probe = in_memory_runtime(exit_timeout=5)
    app = build_app(runtime)
    path = runtime.webhook_url(probe, "")
    body = b'{"exit": {"n": 1}, "delay_seconds": 0}'

    async def scenario() -> tuple[list[int], int]:
        await _call(app, path, body)  # the first request's one-time set-up
        gc.collect()
        gc.disable()
        try:
            statuses = [await _call(app, path, body) for _ in range(20)]
            found = gc.collect()
        finally:
            gc.enable()
        await shutdown(runtime)
        return statuses, found

    statuses, found = asyncio.run(scenario())
    assert statuses == [200] * 20
    assert found == 0
