"""The suite's safety caps: one rate limit and one in-flight limit per run, shared by every client.

A check on the main thread, a background probe on the scheduler's event loop and schemathesis's
calls all draw on the same budget, so each cap must serve threads and an event loop at once;
`InFlightCap` says why the standard semaphores cannot, and the token bucket is a dozen lines
that `reserve` a wait the caller then sleeps in its own way (blocking or awaited).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from conformance.profile import Safety


class RateLimiter:
    """A token bucket: `reserve()` takes a token and says how long to wait before using it.

    Hand-written because the caps must hold across threads and event loops at once; the rate
    limiters on PyPI are either asyncio-only or thread-only. Waiting is left to the caller
    (`time.sleep` or `asyncio.sleep`), which keeps the bucket usable from both, and testable
    with a fake clock. With `capacity=1` no two requests are closer than 1/rate seconds, so no
    one-second window ever holds more than `rate` requests.
    """

    def __init__(
        self, rate: float, *, capacity: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Seconds to wait before the request this token is for may be sent."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self._capacity, self._tokens + elapsed * self.rate)
            self._updated = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


class _Waiter:
    __slots__ = ("granted", "wake")

    def __init__(self, wake: Callable[[], bool]) -> None:
        self.wake = wake
        self.granted = False


class InFlightCap:
    """At most `limit` requests outstanding across threads and event loops, first come first served.

    Hand-written because neither `threading.Semaphore` (it would block an event loop) nor
    `asyncio.Semaphore` (bound to one loop) can be shared by the checks' thread and the background
    probes' loop. A released slot is handed straight to the oldest waiter; a waiter that gives up
    (timeout, cancellation, Ctrl-C) hands back a slot it was granted meanwhile.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.in_use = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    def _take_free_slot(self) -> bool:
        if self.in_use < self.limit and not self._waiters:
            self.in_use += 1
            self.peak = max(self.peak, self.in_use)
            return True
        return False

    def _slot_or_queue(self, wake: Callable[[], bool]) -> _Waiter | None:
        """Take a free slot (None), or join the queue with a way to be woken (the waiter)."""
        with self._lock:
            if self._take_free_slot():
                return None
            waiter = _Waiter(wake)
            self._waiters.append(waiter)
            return waiter

    def acquire(self) -> None:
        event = threading.Event()

        def wake() -> bool:
            event.set()
            return True

        waiter = self._slot_or_queue(wake)
        if waiter is None:
            return
        try:
            event.wait()
        except BaseException:
            self._abandon(waiter)
            raise

    async def acquire_async(self) -> None:
        loop = asyncio.get_running_loop()
        granted: asyncio.Future[None] = loop.create_future()

        def settle() -> None:
            if not granted.done():
                granted.set_result(None)

        def wake() -> bool:
            try:
                loop.call_soon_threadsafe(settle)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return False
            return True

        waiter = self._slot_or_queue(wake)
        if waiter is None:
            return
        try:
            await granted
        except BaseException:
            self._abandon(waiter)
            raise

    def _abandon(self, waiter: _Waiter) -> None:
        with self._lock:
            if not waiter.granted:
                self._waiters.remove(waiter)
                return
        self.release()

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                waiter.granted = True
                if waiter.wake():
                    return  # the slot passes to the waiter: in_use is unchanged
            self.in_use -= 1


@dataclass(frozen=True)
class Caps:
    rate: RateLimiter
    in_flight: InFlightCap


_caps_lock = threading.Lock()
_caps: dict[tuple[float, int], Caps] = {}


def shared_caps(safety: Safety) -> Caps:
    """The process-wide caps for these safety settings: every client of a run gets the same."""
    key = (safety.max_requests_per_second, safety.max_in_flight)
    with _caps_lock:
        if key not in _caps:
            _caps[key] = Caps(RateLimiter(key[0]), InFlightCap(key[1]))
        return _caps[key]
