"""A run as its caller sees it: `RunHandle`, its outcome to come (`ExitEvent` or `FailedRun`),
the story's `LiveActivity`, and `new_id`, which names runs. Made by `engine`, read by `webhook`.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from reference_impl.written import Written

__all__ = [
    "ExitEvent",
    "FailedRun",
    "LiveActivity",
    "RunFailedError",
    "RunHandle",
    "RunOutcome",
    "new_id",
]


class RunFailedError(Exception):
    """A run ended by a fault before its first exit event: its answer is an error."""


class ExitEvent(NamedTuple):
    """The run's first exit event, once committed: what its webhook answer is made of.

    A named tuple, not a frozen dataclass, whose `__init__` sets each field through
    `object.__setattr__`: half the cost, once per webhook request."""

    event_id: str
    action_id: str
    payload: Any


@dataclass(frozen=True)
class FailedRun:
    """A run that ended without an exit event; `reason` says why, for the error body."""

    reason: str


RunOutcome = ExitEvent | FailedRun


@dataclass(frozen=True)
class LiveActivity:
    """A story's live state, for the Stories API's include_live_activity."""

    pending_action_runs_count: int
    concurrent_runs_count: int
    not_working_actions_count: int


@dataclass(slots=True)
class RunHandle:
    """One run: its response ID, whether it had to queue, and its first exit event to come.

    Slots: one is made per webhook request, and its fields are read at every step of the run."""

    run_id: str
    queued: bool
    created: Written[None]
    result: asyncio.Future[RunOutcome]
    # The loop the run is on (its result's), given rather than asked: asking asyncio costs a
    # system call (getpid, its fork check).
    loop: asyncio.AbstractEventLoop
    failure: str | None = None
    # Set once the run's last event has completed it in the same write (`_StoryState.linear`).
    ended: bool = False
    # How many events the run has emitted: the next one's place in it, as stored.
    events: int = 0
    # What keeps the run from its end: branches being walked or asleep, exit writes not yet
    # committed. Its slot is held until the last of them.
    open: int = 0
    # A fault lost the run (`Engine._lose`): it ends abandoned.
    lost: bool = False

    async def stored(self) -> None:
        """Wait until the run's row is committed (its response URL answers from then on).

        Wrapped on demand: an asyncio wrapper costs a cross-thread wake-up of the event loop,
        and the common answer (data in time) never needs it.
        """
        await asyncio.wrap_future(self.created)


def new_id() -> str:
    """An unguessable ID: run IDs are the capability in a response URL.

    32 hex digits, as 128 random bits would be: the creation time in milliseconds (48 bits)
    first, then 80 random bits, as UUIDv7 orders them. Unguessable still (2^80 per millisecond);
    and the runs' and events' indexes on the ID grow at their end instead of at a random place,
    so a commit writes a few index pages rather than one or two per run: half the store's commit
    time under load.
    """
    # os.urandom, which is what `secrets.token_hex` reads, without its two calls around it.
    return f"{time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}{os.urandom(10).hex()}"
