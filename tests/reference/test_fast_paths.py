"""The webhook's hot paths give what the plain ones give: orjson, compiled templates, the store's
batches, the event's headers, time-ordered run IDs, the remembered Accept, and the HTTP protocol
chosen when httptools is missing."""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import mimeparse
import pytest
from starlette.datastructures import Headers

from reference_impl.app import build_app, build_runtime, shutdown
from reference_impl.config import ServerConfig
from reference_impl.fixtures import builtin_fixtures
from reference_impl.http_limits import limited_protocol
from reference_impl.negotiation import _OFFERED, JSON_TYPE, choose_media_type, render_json
from reference_impl.runs import new_id
from reference_impl.store import RunStore, payload_text
from reference_impl.templating import compile_template, render
from reference_impl.webhook_body import event_headers

from .conftest import API_KEY, in_memory_runtime

CONTEXT = {
    "META": {"story": {"name": "My Story", "is_test": True}},
    "webhook": {"body": {"exit": {"a": [1, 2]}, "items": ["x", "y"], "n": None}},
}
TEMPLATES: list[Any] = [
    "<<webhook.body.exit>>",
    "<< META.story.is_test >>",
    "<<webhook.body.items[1]>>",
    "<<webhook.body.missing.deeper>>",
    "no pill",
    "<<webhook.body.exit>>!",
    "[<<webhook.body.n>>] and <<META.story.name>> and <<webhook.body.items.0>>",
    {"story": "<<META.story.name>>", "list": ["<<webhook.body.items>>", 3, None, True]},
    [],
    7,
    None,
]


@pytest.mark.parametrize("template", TEMPLATES, ids=repr)
def test_a_compiled_template_renders_as_render_does(template: Any) -> None:
    assert compile_template(template)(CONTEXT) == render(template, CONTEXT)


VALUES: list[Any] = [
    {"a": [1, 2.5, "é", True]},
    10**30,  # past 64 bits: orjson refuses it, json keeps it exact
    {1: "a key that is not a string"},
    {"n": None},
    float("nan"),
    "\u2028 and \x00",
    1e16,
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_render_json_gives_the_json_modules_data(value: Any) -> None:
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    rendered = render_json(value).decode("utf-8")
    if value != value:  # NaN: the json module's own text, as before
        assert rendered == expected
    else:
        assert json.loads(rendered) == json.loads(expected)


def test_payload_text_keeps_what_orjson_cannot_write() -> None:
    assert payload_text({"big": 10**30}) == '{"big":1000000000000000000000000000000}'
    assert payload_text({1: 2}) == '{"1":2}'


def test_event_headers_are_what_dict_of_starlettes_headers_gives() -> None:
    raw = [(b"host", b"x"), (b"x-twice", b"first"), (b"accept", b"*/*"), (b"x-twice", b"second")]
    assert event_headers(raw) == dict(Headers(raw=raw))
    assert list(event_headers(raw)) == list(dict(Headers(raw=raw)))


def test_a_loops_writes_keep_their_order_with_a_direct_write(tmp_path: Path) -> None:
    """A run created on the loop (held for the batch) and then every unfinished run abandoned
    (queued at once): the abandon must see the run."""
    store = RunStore(str(tmp_path / "runs.sqlite3"))

    async def scenario() -> int:
        created = store.create_run("r1", "s")
        abandoned = store.abandon_unfinished()
        await asyncio.wrap_future(created)
        count: int = await asyncio.wrap_future(abandoned)
        return count

    try:
        assert asyncio.run(scenario()) == 1
        record = store.get_run("r1")
        assert record is not None
        assert record.status == "abandoned"
    finally:
        store.close()


def test_a_loops_writes_go_in_one_batch(tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "runs.sqlite3"))
    batches: list[int] = []
    apply = store._apply

    def counting(batch: list[Any], loop: asyncio.AbstractEventLoop | None = None) -> None:
        batches.append(len(batch))
        apply(batch, loop)

    store._apply = counting  # type: ignore[method-assign]

    async def scenario() -> None:
        writes = [store.create_run(f"r{n}", "s") for n in range(20)]
        await asyncio.gather(*(asyncio.wrap_future(w) for w in writes))

    try:
        asyncio.run(scenario())
        assert batches == [20]
        assert all(store.get_run(f"r{n}") is not None for n in range(20))
    finally:
        store.close()


def test_a_body_with_a_long_integer_is_answered_exactly(tmp_path: Path) -> None:
    config = ServerConfig(db=str(tmp_path / "runs.sqlite3"), api_key=API_KEY, exit_timeout=5)
    runtime = build_runtime(config, builtin_fixtures())
    probe = next(s for s in runtime.stories.values() if s.role == "probe")
    path = runtime.webhook_url(probe, "")
    body = b'{"exit": {"n": 123456789012345678901234567890, "x": 0.1}}'

    async def scenario() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://ref") as client:
            answer = await client.post(path, content=body, headers={"content-type": "x/y+json"})
        await shutdown(runtime)
        return answer

    answer = asyncio.run(scenario())
    assert answer.status_code == 200
    assert answer.content == b'{"n":123456789012345678901234567890,"x":0.1}'


def test_without_httptools_the_limits_are_on_h11(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_httptools(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "httptools":
            raise ImportError("hidden")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "httptools", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_httptools)
    assert getattr(limited_protocol(1, 1, 16384), "parser_name", None) == "h11"
    monkeypatch.undo()
    assert getattr(limited_protocol(1, 1, 16384), "parser_name", None) == "httptools"


def test_run_ids_are_32_hex_digits_that_sort_by_creation() -> None:
    earlier = new_id()
    ids = [new_id() for _ in range(200)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == len(ids)
    # The first 12 digits are the millisecond: never earlier than an ID made before.
    assert all(i[:12] >= earlier[:12] for i in ids)


def test_one_payload_stored_twice_is_stored_as_the_same_text(tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "runs.sqlite3"))
    payload = {"body": {"a": 1}, "headers": {"x": "y"}}
    try:
        writes = [
            store.create_run("r1", "s"),
            store.record_event("e1", "r1", 1, "1", payload),
            store.record_event("e2", "r1", 2, "2", payload),
            store.record_event("e3", "r1", 3, "3", {"other": True}),
        ]
        for written in writes:  # off the loop: concurrent futures
            assert isinstance(written, concurrent.futures.Future)
            written.result(timeout=5)
        assert [p for _, _, p in store.events_of("r1")] == [payload, payload, {"other": True}]
    finally:
        store.close()


@pytest.mark.parametrize("accept", ["text/csv", "text/plain;q=0.5, text/csv", "*/*", "nonsense;;;"])
def test_a_remembered_accept_chooses_as_mimeparse_does(accept: str) -> None:
    try:
        expected = mimeparse.best_match(list(_OFFERED), accept) or JSON_TYPE
    except (ValueError, IndexError):
        expected = JSON_TYPE
    assert choose_media_type(accept) == expected
    assert choose_media_type(accept) == expected  # the second time from what was remembered


def test_a_probe_request_encodes_its_event_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook's check and the run's first two events (webhook, delay) share one encoding;
    the exit's payload, a new object, is the only other."""
    encoded: list[Any] = []

    def counting(payload: Any) -> str:
        encoded.append(payload)
        return payload_text(payload)

    monkeypatch.setattr("reference_impl.store.payload_text", counting)
    runtime, probe = in_memory_runtime(exit_timeout=2, api_key=API_KEY)
    url = runtime.webhook_url(probe, "http://testserver")

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=build_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post(url, json={"exit": {"a": 1}, "delay_seconds": 0})
            assert (response.status_code, response.json()) == (200, {"a": 1})
        await shutdown(runtime)

    asyncio.run(scenario())
    assert [type(p).__name__ for p in encoded] == ["dict", "dict"]
    assert encoded[0]["body"] == {"exit": {"a": 1}, "delay_seconds": 0}
    assert encoded[1] == {"a": 1}


def test_a_served_webhook_takes_its_loop_from_the_lifespan_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """uvicorn copies the lifespan's state into each request's scope: asking asyncio for the
    loop instead costs a getpid system call a request."""
    runtime, probe = in_memory_runtime(exit_timeout=2, api_key=API_KEY)
    app = build_app(runtime)
    sent: list[Any] = []

    async def scenario() -> None:
        state: dict[str, Any] = {}
        startup: list[Any] = [{"type": "lifespan.startup"}]
        started = asyncio.Event()

        async def lifespan_send(message: Any) -> None:
            if message["type"] == "lifespan.startup.complete":
                started.set()

        lifespan = asyncio.ensure_future(
            app({"type": "lifespan", "state": state}, lambda: _next(startup), lifespan_send)
        )
        await asyncio.wait_for(started.wait(), 5)
        monkeypatch.setattr("reference_impl.webhook.asyncio.get_running_loop", _refuse)
        path = runtime.webhook_url(probe, "")
        body = [{"type": "http.request", "body": b'{"exit": 7}', "more_body": False}]
        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
            "scheme": "http",
            "server": ("testserver", 80),
            "state": dict(state),
        }
        await app(scope, lambda: _next(body), _append(sent))
        lifespan.cancel()
        await shutdown(runtime)

    asyncio.run(scenario())
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"7"


async def _next(messages: list[Any]) -> Any:
    if messages:
        return messages.pop(0)
    await asyncio.Event().wait()  # the lifespan waits for shutdown until it is cancelled


def _append(into: list[Any]) -> Any:
    async def send(message: Any) -> None:
        into.append(message)

    return send


def _refuse() -> None:
    raise AssertionError("asked asyncio for the running loop")
