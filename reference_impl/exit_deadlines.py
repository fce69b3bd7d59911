"""`ExitDeadlines`: the webhook answers' exit timeouts, one loop timer per slot of deadlines.

Every webhook answer waits for its run's exit event or its exit timeout, whichever comes first.
A loop timer per request (`call_later`, then `cancel` when the exit came first, as it nearly
always does) cost uvloop about 8,600 instructions a probe POST (cachegrind), 2% of the request.
Here deadlines are grouped into slots of `SLOT_SECONDS`, each slot has one timer, made when its
first waiter comes, and a waiter that no longer needs waking leaves its slot's set.

A waiter is woken at its deadline or up to one slot later, never before: its deadline is
rounded up to the end of its slot. Each loop has its own `ExitDeadlines` (the app's lifespan
makes it), since a timer and the futures it settles belong to one loop.
"""

from __future__ import annotations

import asyncio
import math

__all__ = ["SLOT_SECONDS", "ExitDeadlines"]

# Short beside an exit timeout (the suite's demo runs at 3 s) and beside the timing margin the
# reference's own profile gives the suite's timeout probe (half a second at the least).
SLOT_SECONDS = 0.005


class ExitDeadlines:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._slots: dict[int, set[asyncio.Future[None]]] = {}

    def watch(self, deadline: float, waiter: asyncio.Future[None]) -> set[asyncio.Future[None]]:
        """Settle `waiter` (with None) once the loop's clock passes `deadline`, unless it is done
        by then. The set given back is where it waits: discard it there once it is done."""
        slot = math.ceil(deadline / SLOT_SECONDS)
        waiting = self._slots.get(slot)
        if waiting is None:
            waiting = self._slots[slot] = set()
            self._loop.call_at(slot * SLOT_SECONDS, self._expire, slot)
        waiting.add(waiter)
        return waiting

    def _expire(self, slot: int) -> None:
        for waiter in self._slots.pop(slot, ()):
            if not waiter.done():
                waiter.set_result(None)

    def pending_slots(self) -> int:
        """Slots whose timer has not fired yet (for tests: none is kept past its time)."""
        return len(self._slots)
