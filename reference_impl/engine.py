"""The run engine: a story's action graph, run on the event loop. Knows nothing of HTTP.

A run starts at the webhook entry action with the request's event. Every action passes the event
it emits to its receivers, each receiver on a branch of its own, so branches run concurrently
(a delay on one branch does not hold up another). Four kinds of action exist:

- `webhook`: the entry; emits the incoming event (`{"body": ..., "headers": ...}`).
- `transform`: emits its `payload` template rendered against the run's context.
- `delay`: waits `seconds` (a template; a missing value means 0) and emits the event it received.
- `exit`: a transform whose event is a result of the run. The first exit event of a run is *the*
  result (the document's "first exit action to execute"); later ones are stored, not returned.

A run is walked on `submit`, in the caller's turn of the loop, branch after branch, up to its end
or its first wait: a delay that sleeps is the only thing that makes a task, and an exit's event
becomes the result in a callback of its write's commit. A run that never sleeps (the probe's)
costs no task, no coroutine and no extra turn of the loop.

Concurrency: each story has `max_concurrent_runs` slots. A run beyond them is queued (never
dropped) and started, oldest first, when a slot frees; `submit` says whether it was queued so
that the caller can answer at once. A slot is held until every branch of the run has finished.

Durability: every event goes to the `RunStore`; a run's result future is resolved only after the
exit event's write is committed, so whoever answers with it answers with durable data.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from reference_impl.runs import (
    ExitEvent,
    FailedRun,
    LiveActivity,
    RunFailedError,
    RunHandle,
    new_id,
)
from reference_impl.store import RunStore, Written
from reference_impl.story_graph import Action, StoryGraph
from reference_impl.templating import Compiled, compile_template

__all__ = ["Engine"]

log = logging.getLogger(__name__)

# A longer delay is refused, not slept: the event loop's timer cannot hold an arbitrary float.
_MAX_DELAY_SECONDS = 86400


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark the exception seen, so that asyncio does not log it when nobody awaited it."""
    if not future.cancelled():
        future.exception()


class ActionError(Exception):
    """An action could not run on the event it got (e.g. a delay that is not a number)."""


@dataclass
class _StoryState:
    graph: StoryGraph
    running: int = 0
    waiting_delays: int = 0
    queue: deque[tuple[RunHandle, Any]] = field(default_factory=deque)
    not_working: set[int] = field(default_factory=set)
    # Worked out once from the graph, not per event: the entry, each action's receivers, its ID
    # as stored, and its templates compiled.
    entry: Action = field(init=False)
    receivers: dict[int, tuple[Action, ...]] = field(init=False)
    stored_ids: dict[int, str] = field(init=False)
    templates: dict[int, Compiled] = field(init=False)
    # No action has two receivers: an exit with none is then the run's last action, and its
    # event can complete the run in the write that stores it.
    linear: bool = field(init=False)

    def __post_init__(self) -> None:
        graph = self.graph
        self.entry = graph.entry
        self.receivers = {a.id: graph.receivers(a.id) for a in graph.actions}
        self.linear = all(len(r) <= 1 for r in self.receivers.values())
        self.stored_ids = {a.id: str(a.id) for a in graph.actions}
        self.templates = {
            a.id: compile_template(a.options.get("seconds" if a.kind == "delay" else "payload"))
            for a in graph.actions
            if a.kind != "webhook"
        }


# `Engine._walk`'s "the action has not emitted yet": None is an event like any other.
_NOT_YET: Any = object()


@dataclass(frozen=True)
class _Wait:
    """What a delay action emits before its wait: how long, in seconds."""

    seconds: float


class Engine:
    def __init__(self, store: RunStore, graphs: list[StoryGraph], max_concurrent_runs: int) -> None:
        self._store = store
        self._max = max_concurrent_runs
        self._stories = {g.story_id: _StoryState(g) for g in graphs}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        # Event IDs need to be unique, not secret: a per-process random prefix and a counter
        # spare the hot path an urandom call per event.
        self._event_prefix = secrets.token_hex(8)
        self._event_count = itertools.count(1)
        # Built once: the single-pill `META` context is the same for every run of a story.
        self._meta = {
            g.story_id: {"story": {"id": g.story_id, "name": g.name, "is_test": g.is_test}}
            for g in graphs
        }

    # ------------------------------------------------------------------ public
    def submit(
        self, story_id: int, event: Any, loop: asyncio.AbstractEventLoop | None = None
    ) -> RunHandle:
        """Start a run of the story with the webhook event, or queue it when no slot is free.

        `loop` is the running loop, when the caller has it: asking asyncio for it costs a
        system call (getpid, its fork check). The run's writes take it from its result future.
        """
        state = self._stories[story_id]
        if loop is None:
            loop = asyncio.get_running_loop()
        run_id = new_id()
        handle = RunHandle(
            run_id=run_id,
            queued=state.running >= self._max,
            created=self._store.create_run(run_id, str(story_id), loop=loop),
            result=loop.create_future(),
            loop=loop,
        )
        if handle.queued:
            state.queue.append((handle, event))
        else:
            self._start(state, handle, event)
        return handle

    def live_activity(self, story_id: int) -> LiveActivity:
        state = self._stories[story_id]
        return LiveActivity(
            pending_action_runs_count=len(state.queue) + state.waiting_delays,
            concurrent_runs_count=state.running,
            not_working_actions_count=len(state.not_working),
        )

    def has_story(self, story_id: int) -> bool:
        return story_id in self._stories

    def add_story(self, graph: StoryGraph) -> None:
        """Make a story imported at run time runnable."""
        self._stories[graph.story_id] = _StoryState(graph)
        self._meta[graph.story_id] = {
            "story": {"id": graph.story_id, "name": graph.name, "is_test": graph.is_test}
        }

    def remove_story(self, story_id: int) -> None:
        """Forget a deleted story; its queued runs are dropped, its running ones finish."""
        state = self._stories.pop(story_id, None)
        if state is not None:
            state.queue.clear()

    async def stop(self) -> None:
        """Stop every run; what did not finish stays `running` in the store for the caller."""
        self._stopping = True
        for state in self._stories.values():
            state.queue.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ running
    def _start(self, state: _StoryState, handle: RunHandle, event: Any) -> None:
        """Walk the run from its entry, here and now: no task for a run that never waits."""
        state.running += 1
        handle.open = 1
        context: dict[str, Any] = {"META": self._meta[state.graph.story_id]}
        self._walk(state, handle, state.entry, event, context)

    def _walk(
        self,
        state: _StoryState,
        handle: RunHandle,
        action: Action,
        incoming: Any,
        context: dict[str, Any],
        emitted: Any = _NOT_YET,
    ) -> None:
        """Perform one branch of the run from `action`, and close it, unless a delay has to sleep:
        then a task sleeps and walks on. Every receiver but the last is a branch of its own,
        walked first, so that receivers run in their order (the first exit is the first one
        emitted). `emitted` is given when the action has already waited (a woken delay)."""
        try:
            while True:
                if emitted is _NOT_YET:
                    try:
                        emitted = self._emit(state, action, incoming, context)
                    except ActionError as exc:
                        state.not_working.add(action.id)
                        log.warning("action %s (%s) failed: %s", action.id, action.name, exc)
                        if handle.failure is None:
                            handle.failure = f"action {action.name!r} failed: {exc}"
                        break
                    if isinstance(emitted, _Wait):
                        self._sleep(state, handle, action, incoming, context, emitted.seconds)
                        return  # the branch stays open: the task walks on when it wakes
                state.not_working.discard(action.id)
                receivers = state.receivers[action.id]
                self._record(state, handle, action, emitted, last=not receivers)
                if not receivers:
                    break
                downstream = {**context, action.name: emitted}
                for receiver in receivers[:-1]:
                    handle.open += 1
                    self._walk(state, handle, receiver, emitted, downstream)
                action, incoming, context, emitted = receivers[-1], emitted, downstream, _NOT_YET
        except Exception as exc:
            log.exception("run of story %s failed", state.graph.story_id)
            self._lose(handle, exc)
        self._close(state, handle)

    def _sleep(
        self,
        state: _StoryState,
        handle: RunHandle,
        action: Action,
        incoming: Any,
        context: dict[str, Any],
        seconds: float,
    ) -> None:
        async def sleep_then_walk() -> None:
            try:
                await asyncio.sleep(seconds)
            finally:
                state.waiting_delays -= 1
            self._walk(state, handle, action, incoming, context, emitted=incoming)

        state.waiting_delays += 1  # from now, as the Stories API's live activity counts it
        task = asyncio.create_task(sleep_then_walk(), name=f"run-{handle.run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _record(
        self, state: _StoryState, handle: RunHandle, action: Action, emitted: Any, *, last: bool
    ) -> None:
        """Store the action's event; an exit's becomes the run's result once it is committed,
        which keeps the run open until then (the answer follows the record)."""
        event_id = f"{self._event_prefix}{next(self._event_count):08x}"
        stored_id = state.stored_ids[action.id]
        handle.events += 1
        if action.kind != "exit":
            # Not waited for: the single writer keeps the events in order.
            self._store.note_event(
                event_id, handle.run_id, handle.events, stored_id, emitted, loop=handle.loop
            )
            return
        ends_run = state.linear and last
        written = self._store.record_event(
            event_id,
            handle.run_id,
            handle.events,
            stored_id,
            emitted,
            result=True,
            ends_run=ends_run,
            loop=handle.loop,
        )
        handle.open += 1
        exit_event = ExitEvent(event_id, stored_id, emitted)

        def committed(future: Written[None]) -> None:
            try:
                # Cancelled: whether it was committed is not known, so the run is lost.
                error = (
                    RunFailedError("the exit event's write was cancelled")
                    if future.cancelled()
                    else future.exception()
                )
                if error is not None:
                    # The store has logged the write; here, what became of the run.
                    log.error("run %s lost its exit event: %s", handle.run_id, error)
                    self._lose(handle, error)
                else:
                    handle.ended = ends_run
                    if not handle.result.done():
                        handle.result.set_result(exit_event)
            finally:
                self._close(state, handle)

        written.add_done_callback(committed)

    def _lose(self, handle: RunHandle, exc: BaseException) -> None:
        """The run is lost to a fault (an engine bug, a write the store refused): its answer
        fails now rather than at the exit timeout, and at its end its response URL says
        abandoned rather than pending for ever."""
        handle.lost = True
        if not handle.result.done():
            handle.result.set_exception(RunFailedError(str(exc)))
            handle.result.add_done_callback(_retrieve)  # nobody may be waiting any more

    def _close(self, state: _StoryState, handle: RunHandle) -> None:
        """One of the run's branches (or its exit's write) is done; the last one ends the run."""
        handle.open -= 1
        if handle.open:
            return
        state.running -= 1
        if handle.lost:
            self._store.abandon_run(handle.run_id)
        elif handle.ended:
            pass  # its last event completed it
        elif handle.result.done():
            # Not awaited: nobody waits on it, and the single writer keeps it after the events.
            self._store.finish_run(handle.run_id)
        else:
            self._fail(handle, handle.failure or "no exit action emitted an event")
        if state.queue and not self._stopping:
            # On the next turn of the loop, not in this one: a queue of runs that each end at
            # once (a store that refuses every write) must not recurse.
            queued, queued_event = state.queue.popleft()
            handle.loop.call_soon(self._start, state, queued, queued_event)

    def _fail(self, handle: RunHandle, reason: str) -> None:
        """Store the run as failed, then resolve its result: the answer follows the record."""

        def stored(future: Written[None]) -> None:
            if not future.cancelled() and future.exception() is not None:
                # Stays `running` in the store, so shutdown marks it abandoned; the live answer
                # still ends now rather than at the exit timeout.
                log.error("run %s could not be stored as failed", handle.run_id)
            if not handle.result.done():
                handle.result.set_result(FailedRun(reason))

        self._store.fail_run(handle.run_id).add_done_callback(stored)

    def _emit(
        self, state: _StoryState, action: Action, incoming: Any, context: dict[str, Any]
    ) -> Any:
        """The event the action emits, or a `_Wait` for a delay that has to sleep first.

        Not a coroutine: only a delay of more than 0 s waits, and a coroutine per action would
        cost every run's hot path for that one case."""
        if action.kind == "webhook":
            return incoming
        if action.kind in ("transform", "exit"):
            return state.templates[action.id](context)
        seconds = state.templates[action.id](context)
        if seconds is None:
            seconds = 0
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not math.isfinite(seconds)
            or not 0 <= seconds <= _MAX_DELAY_SECONDS
        ):
            raise ActionError(f"delay seconds must be a number from 0 to {_MAX_DELAY_SECONDS}")
        return _Wait(seconds) if seconds > 0 else incoming
