"""A response's head and the start of its body in one write: one system call per answer, not two.

uvicorn's request cycle writes the status line and headers to the transport when the app sends
`http.response.start`, and the body when it sends `http.response.body`: two `send` system calls
and two TCP segments for every answer, and on this project's machines a system call is dear (the
head's write was a tenth of the webhook's CPU). `HeldHead` stands in for the transport of one
cycle: it holds the head until the body's first write and sends the two joined. A response that
writes no body (the answer to HEAD) has its head sent when it completes; anything written
before the response starts (a `100 Continue`) goes at once. Every app here sends its body
straight after its head, so nothing waits on the hold.

Hand-written: uvicorn has no option to coalesce the writes, and the cycle's `transport` and
`on_response` attributes are the only seams it offers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["hold_heads"]


class _Done:
    """The cycle of a response that has completed: nothing more is held."""

    response_started = False


_DONE = _Done()


class HeldHead:
    """The transport of one uvicorn request cycle: its response's head is held for its body."""

    __slots__ = ("_cycle", "_held", "_on_response", "_transport", "_waiting")

    def __init__(self, transport: asyncio.Transport, cycle: Any) -> None:
        self._transport = transport
        self._cycle = cycle
        self._on_response: Callable[[], None] = cycle.on_response
        self._held: bytes | None = None
        self._waiting = True  # for the response's head: the first write once it has started

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif self._waiting and self._cycle.response_started:
            self._waiting = False
            self._held = data
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def response_complete(self) -> None:
        self._flush()
        # The cycle and this refer to each other: let go of it, or every answer would leave a
        # reference cycle for the garbage collector, whose full passes stall the loop (a p99 of
        # 27 ms on the story GET where it is 4 ms without).
        self._cycle = _DONE
        self._on_response()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


def hold_heads(transport: asyncio.Transport, cycle: Any) -> None:
    """Make the cycle write through a `HeldHead` on the transport."""
    held = HeldHead(transport, cycle)
    cycle.transport = held
    cycle.on_response = held.response_complete
