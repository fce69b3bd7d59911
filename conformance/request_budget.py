"""The run's request budget: each check's share of the bound the dry run prints, enforced.

"Safe to point at production" must hold on a failing target most of all, where hypothesis replays
a failing example and pytest-rerunfailures runs the check again. So the bound a check may send is
counted with both: its declared requests (per example, times the examples, plus the replays of
a failing example), times one more for each retry. The plan prints that bound; the client charges
every request to the check that sends it (`recording.current_check`) before it goes out, and a
check that would pass its share stops there: its requirements are `untested`, with the reason.
Shrinking (`--shrink`) is not counted in the bound: under it a check simply stops at its share.

A profile's `safety.max_requests` caps the whole run besides: every request counts against it,
the set-up check's and the background probes' included, and the one that would pass it is not
sent, whichever check or probe it belongs to.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from conformance.result import NoEvidence

__all__ = ["REPLAYS", "OverBudget", "RequestBudget", "check_bound"]

# Hypothesis runs a failing example once more to report it, once per distinct failure it found;
# two covers a check whose examples fail in two ways.
REPLAYS = 2


def check_bound(declared: int, *, per_example: bool, max_examples: int, retries: int) -> int:
    """The most a check may send: what its marker declares, for every example and replay, for
    every attempt."""
    per_attempt = declared * (max_examples + REPLAYS) if per_example else declared
    return per_attempt * (1 + retries)


_SHARE_REASON = "as the plan counts them (its examples, their replays and its retries)"
_LIMIT_REASON = "the profile's safety.max_requests, for the whole run"


class OverBudget(NoEvidence):
    """A check (or a background probe, `check` None) stopped at its share of the request budget
    or at the run's limit, before sending one more."""

    def __init__(self, check: str | None, share: int, why: str = _SHARE_REASON) -> None:
        self.check = check
        self.share = share
        super().__init__(None, f"stopped at its request budget: {share} requests, {why}")


@dataclass
class RequestBudget:
    """The shares by check (node ID), known once the selection is, and what each has sent; the
    run's limit, if any, and what the run has sent in all. A check with no share (one that
    declares no bound) and the requests of no check (the background probes) are held to the
    limit alone."""

    limit: int | None = None
    shares: Mapping[str, int] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def charge(self, check: str | None) -> None:
        """Count one request of `check`, or raise `OverBudget` if it would pass its share or the
        run's limit."""
        with self._lock:
            if self.limit is not None and self.total >= self.limit:
                raise OverBudget(check, self.limit, _LIMIT_REASON)
            share = self.shares.get(check) if check is not None else None
            sent = self.sent.get(check, 0) if check is not None else 0
            if share is not None and sent >= share:
                raise OverBudget(check, share)
            self.total += 1
            if check is not None:
                self.sent[check] = sent + 1
