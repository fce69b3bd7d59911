"""The slow probes: every wait of the suite that lasts about an exit timeout, started at once.

A run that outlives the exit timeout, a run just under it, and a burst beyond the simultaneous-
request limit each take seconds (30 s and more on a real tenant). The background scheduler starts
these probes at session start, all together, so the suite waits once; the checks in
`checks/test_timeouts.py`, `checks/test_response_url.py` and `checks/test_limits.py` then only read
what the probes saw. Each of those checks is marked `@pytest.mark.probe(TIMEOUT)` (or JUST_UNDER,
BURST): a probe serves the requirements of the checks so marked, and no others. A probe never
judges: it records every exchange in its outcome (`conformance.probe_outcomes`, re-exported here)
so that a check can fail with the evidence.

Each probe sends a unique exit payload (a token per request), so that data returned by a response
URL is known to be this run's and no other's.

The burst is the one probe that disturbs others: while it fills the target's run slots, any other
probe request would be answered 201. So it opens its flood only once a check asks for its outcome
(or the plugin says no fast webhook check is left to run) and once the timeout and just-under
requests have been delivered (`_Demand`, `_Delivered`).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

from conformance.background import slow_probe
from conformance.exchange import Exchange
from conformance.probe_outcomes import (
    BurstAccount,
    BurstOutcome,
    JustUnderOutcome,
    Mixup,
    RunTrace,
    TimeoutOutcome,
    account_burst,
    payload_of,
    response_url_of,
)
from conformance.result import CheckFailure
from conformance.verify import expect_status, precondition

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from conformance.http import AsyncTargetClient
    from conformance.profile import Profile

__all__ = [
    "BURST",
    "JUST_UNDER",
    "TIMEOUT",
    "BurstAccount",
    "BurstOutcome",
    "JustUnderOutcome",
    "Mixup",
    "OutcomeSource",
    "RunTrace",
    "TimeoutOutcome",
    "account_burst",
    "burst_outcome",
    "just_under_outcome",
    "open_burst",
    "outcome_deadline",
    "outcome_of",
    "payload_of",
    "response_url_of",
    "the_504",
    "timeout_answer",
    "timeout_outcome",
]

TIMEOUT = "timeout"
JUST_UNDER = "just_under"
BURST = "concurrency_burst"

# Slack on top of the longest wait a probe can make, for scheduling and the last poll's answer.
_SLACK_SECONDS = 10.0


class OutcomeSource(Protocol):
    """What a check needs of the `background` fixture (kept structural so checks stay typed)."""

    def outcome(self, name: str, timeout: float | None = ...) -> Any: ...


def outcome_deadline(profile: Profile, extra_seconds: float = 0.0) -> float:
    """How long a check may wait for a probe's outcome before the probe counts as hung.

    A probe's longest path is three requests, each bounded by the request timeout (the timeout
    probe's request, its first poll and its last poll; the burst's wait for the just-under answer,
    its own requests and its last poll), plus the polling deadline and what `extra_seconds` adds.
    """
    return (
        3 * profile.safety.request_timeout_seconds
        + profile.webhooks.response_url_deadline_seconds
        + profile.webhooks.timing_margin_seconds
        + extra_seconds
        + _SLACK_SECONDS
    )


class _Delivered:
    """The slow probes of one run (one client) that the burst must not disturb, each with an
    event set once its request has been delivered to the target (its body sent), or however it
    ended.

    A burst fills the target's run slots: a timeout or just-under request that reached the target
    during it would get 201 instead of its own answer. So the burst waits until every one of them
    is delivered: from then on their runs hold their own slots. (A client without httpcore's
    trace events, a test's mock transport, sets each event when its probe ends instead.)
    """

    def __init__(self) -> None:
        self.events: dict[str, asyncio.Event] = {}

    @classmethod
    def of(cls, client: AsyncTargetClient) -> _Delivered:
        return _delivered_by_client.setdefault(client, cls())

    @asynccontextmanager
    async def delivering(self, name: str) -> AsyncIterator[Callable[[], None]]:
        """Registers the probe before its first await and yields the callback that says its
        request was delivered; says so however the probe ends, too."""
        event = self.events.setdefault(name, asyncio.Event())
        try:
            yield event.set
        finally:
            event.set()

    async def all(self, deadline_seconds: float) -> None:
        """Wait until every registered probe's request was delivered (at once when none is)."""
        waiting = [asyncio.ensure_future(e.wait()) for e in self.events.values()]
        if not waiting:
            return
        try:
            await asyncio.wait(waiting, timeout=deadline_seconds)
        finally:
            for task in waiting:
                task.cancel()


_delivered_by_client: weakref.WeakKeyDictionary[Any, _Delivered] = weakref.WeakKeyDictionary()


class _Demand:
    """Whether a check of this run (this profile object) has asked for the burst's outcome yet.

    The burst floods the target's run slots, and a fast check sending a probe meanwhile would get
    201 where it expects its data. So the burst is started at session start but opens its flood
    only once a check asks for its outcome (that check blocks until the burst is done, and the
    checks run one at a time, so no fast check can be sending then), or once the plugin says that
    no fast webhook check is left (`open_burst`). The check side runs on the
    main thread and the burst on the scheduler's loop, hence the lock and `call_soon_threadsafe`.
    """

    def __init__(self) -> None:
        self.demanded = False
        self.waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

    @classmethod
    def of(cls, profile: Profile) -> _Demand:
        key = id(profile)
        with _demand_lock:
            if key not in _demand_by_profile:
                _demand_by_profile[key] = cls()
                weakref.finalize(profile, _demand_by_profile.pop, key, None)
            return _demand_by_profile[key]

    def demand(self) -> None:
        with _demand_lock:
            self.demanded = True
            waiter = self.waiter
        if waiter is not None:
            loop, event = waiter
            loop.call_soon_threadsafe(event.set)

    async def wait(self) -> None:
        event = asyncio.Event()
        with _demand_lock:
            if self.demanded:
                return
            self.waiter = (asyncio.get_running_loop(), event)
        await event.wait()


def open_burst(profile: Profile) -> None:
    """No check left to run sends a webhook request of its own: the burst may flood now, while
    the Stories checks run (they take no run slot), rather than wait for a check to ask."""
    _Demand.of(profile).demand()


_demand_lock = threading.Lock()
_demand_by_profile: dict[int, _Demand] = {}


def outcome_of(
    background: OutcomeSource, name: str, requirement_ids: Sequence[str], timeout: float
) -> Any:
    """A probe's outcome; a probe still running after `timeout` is a failed check, not a hang."""
    try:
        return background.outcome(name, timeout=timeout)
    except TimeoutError:
        raise CheckFailure(
            requirement_ids,
            f"the {name} probe to finish within {timeout:g} s",
            "it was still waiting on the target (see the request timeout in the profile)",
        ) from None


def timeout_outcome(
    background: OutcomeSource, profile: Profile, requirement_ids: Sequence[str]
) -> TimeoutOutcome:
    """What the timeout probe saw; it polls from up to an exit timeout before the run is due."""
    wait = outcome_deadline(profile, profile.webhooks.exit_timeout_seconds)
    outcome: TimeoutOutcome = outcome_of(background, TIMEOUT, requirement_ids, wait)
    return outcome


def timeout_answer(outcome: TimeoutOutcome, requirement_ids: Sequence[str]) -> Exchange:
    """The timeout probe's answer, which a check of its parts needs to be a 504 at all."""
    expect_status(outcome.run.answer, 504, requirement_ids)
    return outcome.run.answer


# The requirement that the timeout probe's answer is a 504 at all.
TIMEOUT_504 = "WH-TIME-002"


def the_504(outcome: TimeoutOutcome) -> Exchange:
    """The timeout probe's 504, which every check of its parts needs: any other answer is
    WH-TIME-002's failure, and blocks the check."""
    with precondition():
        return timeout_answer(outcome, [TIMEOUT_504])


def just_under_outcome(
    background: OutcomeSource, profile: Profile, requirement_ids: Sequence[str]
) -> JustUnderOutcome:
    wait = outcome_deadline(profile, profile.webhooks.exit_timeout_seconds)
    outcome: JustUnderOutcome = outcome_of(background, JUST_UNDER, requirement_ids, wait)
    return outcome


def burst_outcome(
    background: OutcomeSource, profile: Profile, requirement_ids: Sequence[str]
) -> BurstOutcome | None:
    """What the burst saw. Asking for it is what opens the burst's flood (`_Demand`)."""
    concurrency = profile.limits.concurrency
    extra = 0.0 if concurrency is None else concurrency.delay_seconds
    _Demand.of(profile).demand()
    outcome: BurstOutcome | None = outcome_of(
        background, BURST, requirement_ids, outcome_deadline(profile, extra)
    )
    return outcome


@slow_probe(TIMEOUT)
async def probe_timeout(client: AsyncTargetClient, profile: Profile) -> TimeoutOutcome:
    """Ask for a run that outlives the exit timeout, then follow it to its data."""
    hooks = profile.webhooks
    delay = hooks.exit_timeout_seconds + hooks.timing_margin_seconds
    exit_payload = _unique_exit(TIMEOUT)
    loop = asyncio.get_running_loop()
    # The run cannot emit before it was started, which is after this instant.
    due = loop.time() + delay
    async with _Delivered.of(client).delivering(TIMEOUT) as delivered:
        answer = await client.probe(exit_payload, delay_seconds=delay, on_delivered=delivered)
    url = response_url_of(answer, body_first=True)
    if url is None:
        return TimeoutOutcome(
            run=RunTrace(exit_payload, answer),
            delay_seconds=delay,
            first_poll=None,
            first_poll_before_due=False,
            poll_deadline_seconds=0.0,
        )
    first_poll = await client.request("GET", url)
    before_due = loop.time() < due
    due_in = max(0.0, due - loop.time())
    deadline = due_in + hooks.response_url_deadline_seconds
    polls = await client.poll_response_url(url, deadline, due_in_seconds=due_in)
    return TimeoutOutcome(
        run=RunTrace(exit_payload, answer, url, tuple(polls)),
        delay_seconds=delay,
        first_poll=first_poll,
        first_poll_before_due=before_due,
        poll_deadline_seconds=deadline,
    )


@slow_probe(JUST_UNDER)
async def probe_just_under(client: AsyncTargetClient, profile: Profile) -> JustUnderOutcome:
    """Ask for a run whose exit emits a safe margin before the exit timeout."""
    hooks = profile.webhooks
    delay = max(0.0, hooks.exit_timeout_seconds - hooks.timing_margin_seconds)
    exit_payload = _unique_exit(JUST_UNDER)
    async with _Delivered.of(client).delivering(JUST_UNDER) as delivered:
        answer = await client.probe(exit_payload, delay_seconds=delay, on_delivered=delivered)
    return JustUnderOutcome(exit=exit_payload, delay_seconds=delay, answer=answer)


@slow_probe(BURST, limit_test=True)
async def probe_burst(client: AsyncTargetClient, profile: Profile) -> BurstOutcome | None:
    """Open more simultaneous delayed runs than the target's limit, then find every run's data.

    The flood opens once a check asks for this outcome or no fast webhook check is left to run
    (see `_Demand`), and once the timeout and just-under requests are delivered (see
    `_Delivered`; the scheduler starts those before this one, so they are registered by now).
    None when the profile has no `limits.concurrency` (the checks then skip for that reason).
    """
    settings = profile.limits.concurrency
    if settings is None:
        return None
    await _Demand.of(profile).wait()
    await _Delivered.of(client).all(profile.safety.request_timeout_seconds)
    sent = min(settings.burst, profile.safety.max_in_flight)
    delay = settings.delay_seconds
    payloads = [_unique_exit(BURST, index=n) for n in range(sent)]
    loop = asyncio.get_running_loop()
    # No run of the burst can emit before its delay has passed from this instant.
    due = loop.time() + delay
    answers = await asyncio.gather(*(client.probe(p, delay_seconds=delay) for p in payloads))
    due_in = max(0.0, due - loop.time())
    deadline = due_in + profile.webhooks.response_url_deadline_seconds
    runs = await asyncio.gather(
        *(
            _follow(client, payload, answer, deadline, due_in)
            for payload, answer in zip(payloads, answers, strict=True)
        )
    )
    return BurstOutcome(requested=settings.burst, sent=sent, delay_seconds=delay, runs=tuple(runs))


async def _follow(
    client: AsyncTargetClient,
    exit_payload: dict[str, Any],
    answer: Exchange,
    deadline: float,
    due_in: float,
) -> RunTrace:
    """A run answered without its data is followed to its response URL, if it named one."""
    if answer.response is None or answer.response.status == 200:
        return RunTrace(exit_payload, answer)
    url = response_url_of(answer, body_first=False)
    if url is None:
        return RunTrace(exit_payload, answer)
    polls = await client.poll_response_url(url, deadline, due_in_seconds=due_in)
    return RunTrace(exit_payload, answer, url, tuple(polls))


def _unique_exit(kind: str, **extra: Any) -> dict[str, Any]:
    """An exit payload no other run can produce (never shaped like the status/body convention)."""
    return {"conformance_probe": kind, "token": uuid.uuid4().hex, **extra}
