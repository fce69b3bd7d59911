"""`HeldHead`: a response's head goes out with the first write of its body, in one write."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import httpx

from reference_impl.one_write import hold_heads

from .conftest import API_KEY, ServerProcess


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


class Protocol:
    """Whose `on_response_complete` a cycle calls."""

    def __init__(self) -> None:
        self.completed = 0

    def on_response_complete(self) -> None:
        self.completed += 1


class Cycle:
    """What `hold_heads` uses of uvicorn's RequestResponseCycle."""

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.response_started = False
        self.transport: Any = None
        self.on_response: Any = protocol.on_response_complete

    @property
    def completed(self) -> int:
        return self.protocol.completed


def held() -> tuple[Transport, Cycle]:
    transport, cycle = Transport(), Cycle(Protocol())
    hold_heads(transport, cycle)  # type: ignore[arg-type]
    return transport, cycle


def test_a_head_and_its_body_are_one_write_and_later_chunks_their_own() -> None:
    transport, cycle = held()
    cycle.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the response: at once
    assert transport.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    cycle.response_started = True
    cycle.transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert len(transport.writes) == 1
    cycle.transport.write(b"body")
    cycle.transport.write(b"more")
    cycle.on_response()
    assert transport.writes[1:] == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"more"]
    assert cycle.completed == 1


def test_a_head_without_a_body_goes_when_the_response_completes_or_the_cycle_closes() -> None:
    transport, cycle = held()
    cycle.response_started = True
    cycle.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n")  # the answer to HEAD
    assert transport.writes == []
    cycle.on_response()
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n"]
    assert cycle.completed == 1
    closing, failed = held()
    failed.response_started = True
    failed.transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    failed.transport.close()  # the app failed after its head: uvicorn closes
    assert closing.writes == [b"HTTP/1.1 200 OK\r\n\r\n"]
    assert failed.transport.is_closing()


def test_a_completed_response_leaves_no_reference_cycle_for_the_collector() -> None:
    """A cycle per answer would be freed only by the collector, whose full passes stall the
    loop: the story GET's p99 went from 4 ms to 27 ms."""
    gc.disable()
    try:
        transport, cycle = held()
        cycle.response_started = True
        cycle.transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        cycle.transport.write(b"body")
        cycle.on_response()
        gone = weakref.ref(cycle)
        del cycle
        assert gone() is None  # freed by its reference count alone
        assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    finally:
        gc.enable()


def test_the_server_answers_head_get_and_keep_alive_through_it(server: ServerProcess) -> None:
    story = server.profile["stories"]["ids"][0]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        got = client.get(f"/api/v1/stories/{story}", headers=headers)
        head = client.head(f"/api/v1/stories/{story}", headers=headers)
        again = client.get(f"/api/v1/stories/{story}", headers=headers)
    assert (got.status_code, head.status_code, again.status_code) == (200, 200, 200)
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]
    assert again.json() == got.json()
