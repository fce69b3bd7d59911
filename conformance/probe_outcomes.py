"""What the slow probes saw: one frozen dataclass per probe, and the pure reading of a burst.

A probe never judges: it records every exchange in these outcomes so that a check can fail with
the evidence. `account_burst`, the one piece of judgement, is pure so that it can be tested on
hand-built exchanges. `conformance.long_waits` (the probes themselves) re-exports all of it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from conformance.exchange import Exchange

__all__ = [
    "BurstAccount",
    "BurstOutcome",
    "JustUnderOutcome",
    "Mixup",
    "RunTrace",
    "TimeoutOutcome",
    "account_burst",
    "payload_of",
    "response_url_of",
]


@dataclass(frozen=True)
class RunTrace:
    """One probe request and everything the suite later learned of its run."""

    exit: dict[str, Any]
    answer: Exchange
    response_url: str | None = None
    polls: tuple[Exchange, ...] = ()

    @property
    def status(self) -> int | None:
        return None if self.answer.response is None else self.answer.response.status

    @property
    def delivery(self) -> Exchange | None:
        """The exchange that carried the data: a 200 answer, or a 200 from the response URL."""
        if self.status == 200:
            return self.answer
        last = self.polls[-1] if self.polls else None
        if last is not None and last.response is not None and last.response.status == 200:
            return last
        return None


@dataclass(frozen=True)
class TimeoutOutcome:
    """A run asked to outlive the exit timeout: its 504, the early poll, and the later polls."""

    run: RunTrace
    delay_seconds: float
    first_poll: Exchange | None
    # True when the first poll's answer came back before the run's exit could have been due, so
    # that a 200 then can only be wrong (WH-RURL-003); False leaves that check inconclusive.
    first_poll_before_due: bool
    poll_deadline_seconds: float


@dataclass(frozen=True)
class JustUnderOutcome:
    """A run whose exit emits a margin below the exit timeout (WH-TIME-001)."""

    exit: dict[str, Any]
    delay_seconds: float
    answer: Exchange


@dataclass(frozen=True)
class BurstOutcome:
    """Simultaneous delayed probe requests beyond the concurrency limit, each run followed up."""

    requested: int
    sent: int
    delay_seconds: float
    runs: tuple[RunTrace, ...]

    @property
    def clamped(self) -> bool:
        return self.sent < self.requested

    def status_counts(self) -> dict[str, int]:
        """How many answers of each status were seen ('none' for no answer), for the report."""
        counts = Counter("none" if r.status is None else str(r.status) for r in self.runs)
        return dict(sorted(counts.items()))


@dataclass(frozen=True)
class Mixup:
    """A run whose retrieved data is not its own payload."""

    run: RunTrace
    received: Any
    owner: int | None  # the index of the run whose payload it is, None when it is nobody's


@dataclass(frozen=True)
class BurstAccount:
    """Every run of a burst reconciled with its data: what is missing, duplicated or mixed up."""

    missing: tuple[RunTrace, ...]
    duplicated: tuple[tuple[RunTrace, int], ...]  # a run's payload and how often it came back
    mixed_up: tuple[Mixup, ...]

    @property
    def complete(self) -> bool:
        return not (self.missing or self.duplicated or self.mixed_up)

    def describe(self, runs: Sequence[RunTrace]) -> str:
        index = {id(run): n for n, run in enumerate(runs)}
        parts: list[str] = []
        for run in self.missing:
            parts.append(f"request {index[id(run)]} ({_answer_summary(run)}): its data never came")
        for run, times in self.duplicated:
            parts.append(f"request {index[id(run)]}'s payload came back {times} times")
        for mix in self.mixed_up:
            whose = "no request's" if mix.owner is None else f"request {mix.owner}'s"
            parts.append(f"request {index[id(mix.run)]} got {whose} data")
        return "; ".join(parts) or "every payload retrieved once, by its own request"


def payload_of(exchange: Exchange) -> tuple[bool, Any]:
    """(True, the JSON body) when the exchange is a 200 with a JSON body, else (False, None)."""
    response = exchange.response
    if response is None or response.status != 200:
        return False, None
    try:
        return True, response.json()
    except ValueError:
        return False, None


def account_burst(runs: Sequence[RunTrace]) -> BurstAccount:
    """Reconcile each run's sent payload with the data retrieved for it (WH-CONC-002).

    A payload nobody retrieved is missing; one retrieved by several runs is duplicated; a run that
    retrieved something other than its own payload is mixed up (with whose payload it got).
    """
    tokens = [run.exit for run in runs]
    received_by: list[int] = [0] * len(runs)
    mixed: list[Mixup] = []
    for run in runs:
        delivery = run.delivery
        if delivery is None:
            continue
        ok, data = payload_of(delivery)
        owner = next((n for n, sent in enumerate(tokens) if ok and _same_json(sent, data)), None)
        if owner is not None:
            received_by[owner] += 1
        if owner is None or runs[owner] is not run:
            mixed.append(Mixup(run=run, received=data, owner=owner))
    return BurstAccount(
        missing=tuple(run for run, times in zip(runs, received_by, strict=True) if times == 0),
        duplicated=tuple(
            (run, times) for run, times in zip(runs, received_by, strict=True) if times > 1
        ),
        mixed_up=tuple(mixed),
    )


def response_url_of(exchange: Exchange, *, body_first: bool) -> str | None:
    """Where the run's data will be: the body's `response_url` or the response location header."""
    from_header, from_body = exchange.response_urls()
    return (from_body or from_header) if body_first else (from_header or from_body)


def _same_json(a: Any, b: Any) -> bool:
    """Equality as JSON means it: `True` is not `1` (Python's == says it is)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _answer_summary(run: RunTrace) -> str:
    if run.answer.response is None:
        return f"no answer: {run.answer.error}"
    where = f", response URL polled {len(run.polls)} times" if run.polls else ""
    if run.status != 200 and run.response_url is None:
        where = ", no response URL"
    return f"answered {run.status}{where}"
