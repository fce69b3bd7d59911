"""A failing write fails its own future and run, loudly, and never the store's writer thread."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from reference_impl.app import build_app, build_runtime, shutdown
from reference_impl.config import ServerConfig
from reference_impl.fixtures import builtin_fixtures
from reference_impl.store import (
    RunStore,
    StoreClosedError,
    UnstorableError,
    Written,
    payload_text,
)

from .conftest import API_KEY

_T = TypeVar("_T")


def _off_loop(written: Written[_T]) -> Future[_T]:
    """A write made off any event loop gives a concurrent future, which can be waited on."""
    assert isinstance(written, Future)
    return written


def test_a_write_that_raises_fails_alone_and_the_writer_takes_the_next(tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "runs.sqlite3"))
    try:
        # Not an sqlite3.Error: the driver cannot bind text UTF-8 cannot encode.
        with pytest.raises(UnicodeEncodeError):
            _off_loop(store.set_setting("bad", "\ud800")).result(timeout=5)
        _off_loop(store.set_setting("good", "yes")).result(timeout=5)
        assert store.get_setting("good") == "yes"
        assert store.get_setting("bad") is None
    finally:
        store.close()


def test_a_batch_with_a_bad_write_commits_the_others(tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "runs.sqlite3"))
    try:
        futures = [store.set_setting(f"k{i}", "\udfff" if i == 3 else str(i)) for i in range(8)]
        outcomes = [_off_loop(f).exception(timeout=5) for f in futures]
        assert [type(o).__name__ for o in outcomes if o is not None] == ["UnicodeEncodeError"]
        assert [store.get_setting(f"k{i}") for i in range(8) if i != 3] == [
            str(i) for i in range(8) if i != 3
        ]
    finally:
        store.close()


@pytest.mark.parametrize("payload", ["\ud800", {"\udc00": 1}, [float("inf")], float("nan")])
def test_an_unstorable_event_is_refused_before_it_is_queued(payload: Any) -> None:
    with pytest.raises(UnstorableError):
        payload_text(payload)
    store = RunStore(":memory:")
    try:
        _off_loop(store.create_run("r1", "s")).result(timeout=5)
        written = store.record_event("e1", "r1", 1, "1", payload, result=True)
        assert written.done()  # failed at once: nothing reached the writer
        assert isinstance(written.exception(), UnstorableError)
        _off_loop(store.finish_run("r1")).result(timeout=5)
    finally:
        store.close()


def _stop_the_writer(conn: Any) -> None:
    raise SystemExit  # what no write raises; it stands for any way the thread could end


def test_when_the_writer_stops_every_write_fails_at_once(tmp_path: Path) -> None:
    store = RunStore(str(tmp_path / "runs.sqlite3"))
    store._submit(_stop_the_writer)
    store._writer.join(timeout=5)
    assert not store._writer.is_alive()
    started = time.monotonic()
    with pytest.raises(StoreClosedError):
        _off_loop(store.set_setting("after", "x")).result(timeout=5)
    with pytest.raises(StoreClosedError):
        _off_loop(store.abandon_unfinished()).result(timeout=5)  # what shutdown waits on
    assert time.monotonic() - started < 1
    store.close()


def test_a_run_whose_exit_cannot_be_stored_answers_500_at_once(tmp_path: Path) -> None:
    """Not at the exit timeout with a 504 whose response URL says pending for ever: a JSON 500
    now, and the response URL says the run was abandoned."""
    config = ServerConfig(db=str(tmp_path / "runs.sqlite3"), api_key=API_KEY, exit_timeout=5)
    runtime = build_runtime(config, builtin_fixtures())
    store = runtime.store
    record_event = store.record_event

    def failing_exit(*args: Any, result: bool = False, **kwargs: Any) -> Written[None]:
        if result:
            failed: Future[None] = Future()
            failed.set_exception(OSError("disk full"))
            return failed
        return record_event(*args, result=result, **kwargs)

    store.record_event = failing_exit  # type: ignore[method-assign]
    probe = next(s for s in runtime.stories.values() if s.role == "probe")
    path = runtime.webhook_url(probe, "")

    async def scenario() -> tuple[httpx.Response, float, int, httpx.Response]:
        transport = httpx.ASGITransport(app=build_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://ref") as client:
            started = time.monotonic()
            answer = await client.post(path, json={"exit": 1})
            took = time.monotonic() - started
            store.record_event = record_event  # type: ignore[method-assign]
            # The run's ID is not in a 500; the store has exactly one run, abandoned.
            await asyncio.to_thread(store.flush, 5)
            with sqlite3.connect(f"file:{tmp_path / 'runs.sqlite3'}?mode=ro", uri=True) as conn:
                (run_id, status) = conn.execute("SELECT id, status FROM runs").fetchone()
            assert status == "abandoned"
            later = await client.get(f"{path}/{run_id}")
            next_run = await client.post(path, json={"exit": 2})
        await shutdown(runtime)
        return answer, took, later.status_code, next_run

    answer, took, later_status, next_run = asyncio.run(scenario())
    assert answer.status_code == 500
    assert answer.headers["x-tines-status"] == "error"
    assert answer.json() == {
        "errors": [{"message": "the run failed before an exit action emitted"}]
    }
    assert took < config.exit_timeout
    assert later_status == 410
    assert (next_run.status_code, next_run.json()) == (200, 2)
