"""`Written`, what a run store write gives back, and how a committed batch settles its futures.

A write made on an event loop gets an asyncio future, settled on that loop (one callback for the
loop's share of a batch, however many writes it holds); any other write gets a
`concurrent.futures.Future`. Either is awaited with `asyncio.wrap_future`.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import Future
from typing import Any, TypeVar, Union

__all__ = ["Outcome", "Written", "settle"]

_T = TypeVar("_T")
# What a write gives back: an asyncio future when it was made on an event loop (await it there),
# else a concurrent.futures one. `asyncio.wrap_future` takes either.
Written = Union[Future[_T], "asyncio.Future[_T]"]
# A write's future (None when nobody waits on the write), its result and its error.
Outcome = tuple[Written[Any] | None, Any, BaseException | None]


_Settled = tuple["asyncio.Future[Any]", Any, BaseException | None]


def settle(outcomes: list[Outcome], running: asyncio.AbstractEventLoop | None = None) -> None:
    """Give each future its result: concurrent ones here, asyncio ones on their own loop, with one
    callback for each loop's share of the batch. `running` is the running loop if the caller
    knows it (asking asyncio costs a system call)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Settled]] = {}
    for future, value, error in outcomes:
        if future is None:
            continue
        if isinstance(future, Future):
            _set(future, value, error)
        else:
            by_loop.setdefault(future.get_loop(), []).append((future, value, error))
    if running is None:
        running = asyncio._get_running_loop()
    for loop, share in by_loop.items():
        if loop is running:
            _settle_here(share)
            continue
        # A closed loop has nobody left to wait on these.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle_here, share)


def _settle_here(outcomes: list[_Settled]) -> None:
    for future, value, error in outcomes:
        if not future.done():  # an awaiter that gave up cancelled it
            _set(future, value, error)
            if error is not None:
                # Seen: most writes are not awaited (the failure is logged where it happened),
                # and asyncio would log an unretrieved exception again, with a traceback.
                future.exception()


def _set(future: Written[Any], value: Any, error: BaseException | None) -> None:
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)
