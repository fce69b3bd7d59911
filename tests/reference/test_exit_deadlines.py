"""`ExitDeadlines`: a waiter is woken at its deadline, never before and at most a slot later,
and waiters whose deadlines share a slot share one timer."""

from __future__ import annotations

import asyncio

from reference_impl.exit_deadlines import SLOT_SECONDS, ExitDeadlines

# asyncio's and uvloop's timers may fire a millisecond early (uvloop rounds to milliseconds).
_TIMER_ROUNDING = 0.002


def test_a_waiter_is_woken_at_its_deadline_and_not_before() -> None:
    async def scenario() -> tuple[float, float, int]:
        loop = asyncio.get_running_loop()
        deadlines = ExitDeadlines(loop)
        # Near the end of a slot: a deadline rounded down would wake it most of a slot early.
        deadline = (int(loop.time() / SLOT_SECONDS) + 10) * SLOT_SECONDS + SLOT_SECONDS * 0.9
        waiter: asyncio.Future[None] = loop.create_future()
        deadlines.watch(deadline, waiter)
        await waiter
        return deadline, loop.time(), deadlines.pending_slots()

    deadline, woken, pending = asyncio.run(scenario())
    assert deadline - _TIMER_ROUNDING <= woken
    assert woken <= deadline + SLOT_SECONDS + 1.0  # a slot late, plus a busy machine's lag
    assert pending == 0


def test_waiters_in_one_slot_share_a_timer_and_a_done_one_is_left_alone() -> None:
    async def scenario() -> tuple[int, list[bool], int]:
        loop = asyncio.get_running_loop()
        deadlines = ExitDeadlines(loop)
        # Both in the same slot: the start of a slot, and a hair after it.
        base = (int(loop.time() / SLOT_SECONDS) + 10) * SLOT_SECONDS
        early: asyncio.Future[None] = loop.create_future()
        late: asyncio.Future[None] = loop.create_future()
        waiting = deadlines.watch(base + SLOT_SECONDS * 0.1, early)
        deadlines.watch(base + SLOT_SECONDS * 0.2, late)
        slots = deadlines.pending_slots()
        early.cancel()  # its exit came first: its answer no longer waits
        waiting.discard(early)
        # Done but still in its slot (a waiter settled by its result, not yet discarded).
        settled: asyncio.Future[None] = loop.create_future()
        deadlines.watch(base + SLOT_SECONDS * 0.3, settled)
        settled.set_result(None)
        await late
        return slots, [early.cancelled(), late.done()], deadlines.pending_slots()

    slots, results, pending = asyncio.run(scenario())
    assert slots == 1
    assert results == [True, True]
    assert pending == 0
