"""The request budget: a check is held to the share the plan printed for it, and only that."""

from __future__ import annotations

import pytest

from conformance.request_budget import REPLAYS, OverBudget, RequestBudget, check_bound
from conformance.result import NoEvidence


def test_the_bound_counts_examples_replays_and_retries() -> None:
    assert check_bound(3, per_example=False, max_examples=10, retries=0) == 3
    assert check_bound(3, per_example=False, max_examples=10, retries=1) == 6
    assert check_bound(2, per_example=True, max_examples=10, retries=1) == 2 * (10 + REPLAYS) * 2


def test_a_check_stops_at_its_share_and_others_go_on() -> None:
    budget = RequestBudget(shares={"a": 2, "b": 1})
    budget.charge("a")
    budget.charge("a")
    with pytest.raises(OverBudget) as stopped:
        budget.charge("a")
    # A skip, not a failure: the check's requirements are untested, with the reason.
    assert isinstance(stopped.value, NoEvidence)
    assert "request budget: 2 requests" in stopped.value.reason
    budget.charge("b")
    budget.charge(None)  # a background probe's request: held to the run's limit alone
    budget.charge("undeclared")
    assert budget.sent == {"a": 2, "b": 1, "undeclared": 1}
    assert budget.total == 5


def test_the_runs_limit_stops_every_request_past_it() -> None:
    """`safety.max_requests` counts what was sent before the shares were known (the set-up
    check's), every check's and the probes', and stops whichever request would pass it."""
    budget = RequestBudget(limit=4)
    budget.charge("set-up")
    budget.charge("set-up")
    budget.shares = {"a": 10}
    budget.charge("a")
    budget.charge(None)
    for check in ("a", None, "undeclared"):
        with pytest.raises(OverBudget) as stopped:
            budget.charge(check)
        assert "4 requests, the profile's safety.max_requests" in stopped.value.reason
    assert budget.total == 4
    assert budget.sent == {"set-up": 2, "a": 1}
