"""Simultaneous-request limit (WH-CONC-*), run only with --include-limit-test.

"There are also limits on the number of these requests that can be run simultaneously. In the
cases where these limits are exceeded, a response of `HTTP/1.1 201 Created` will be returned,
rather than a `200` status code, and the story will continue to run. More information is included
in the `X-Tines-Status` and `X-Tines-Limit-Reached` HTTP headers." The burst itself runs in the
background (`conformance/long_waits.py`); every check here reports how many of each status it saw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

import tines_spec
from conformance.exchange import Exchange
from conformance.long_waits import (
    BURST,
    BurstOutcome,
    OutcomeSource,
    account_burst,
    burst_outcome,
)
from conformance.profile import Profile
from conformance.result import CheckFailure
from conformance.verify import expect_header, expect_valid, precondition

# The operations every check of this module calls, for the dry-run plan.
HEADERS = tines_spec.metadata_headers()

pytestmark = pytest.mark.operations(
    "POST /webhook/{path}/{secret}", "GET /webhook/{path}/{secret}/{response_id}"
)


ABSOLUTE_URL = ("limit-body.schema.json", "/$defs/absoluteUrl")
RecordProperty = Callable[[str, object], None]


def burst(
    background: OutcomeSource,
    profile: Profile,
    record_property: RecordProperty,
    ids: Sequence[str],
) -> BurstOutcome:
    """The burst's outcome, its status counts recorded on the test (and printed)."""
    outcome = burst_outcome(background, profile, ids)
    if outcome is None:
        pytest.skip("the profile sets no limits.concurrency")
    counts = ", ".join(f"{status}: {n}" for status, n in outcome.status_counts().items())
    record_property("burst_status_counts", counts)
    line = f"concurrency burst of {outcome.sent} requests: {counts}"
    if outcome.clamped:
        note = f"burst clamped from {outcome.requested} to {outcome.sent} by safety.max_in_flight"
        record_property("burst_clamped", note)
        line += f" ({note})"
    print(line)
    return outcome


LIMIT_201 = "WH-CONC-001"


def answers_201(outcome: BurstOutcome, ids: Sequence[str]) -> list[Exchange]:
    """The 201 answers, which every other check of the limit needs at least one of: without one,
    WH-CONC-001 failed and the others are blocked by it (nothing was answered 201 to judge)."""
    created = [run.answer for run in outcome.runs if run.status == 201]
    if not created:
        unanswered = next((run.answer for run in outcome.runs if run.status is None), None)
        why = "" if unanswered is None else f"; no answer: {unanswered.error}"
        with precondition():
            raise CheckFailure(
                [LIMIT_201],
                f"at least one 201 among {outcome.sent} simultaneous requests",
                f"statuses {outcome.status_counts()}{why}",
                unanswered or (outcome.runs[0].answer if outcome.runs else None),
            )
    return created


@pytest.mark.probe(BURST)
@pytest.mark.requirement("WH-CONC-001", max_requests=0)
def test_requests_beyond_the_limit_get_201(
    background: OutcomeSource, profile: Profile, record_property: RecordProperty
) -> None:
    ids = ["WH-CONC-001"]
    answers_201(burst(background, profile, record_property, ids), ids)


@pytest.mark.probe(BURST)
@pytest.mark.requirement("WH-CONC-003", max_requests=0)
def test_201_carries_status_and_limit_reached(
    background: OutcomeSource, profile: Profile, record_property: RecordProperty
) -> None:
    ids = ["WH-CONC-003"]
    for answer in answers_201(burst(background, profile, record_property, ids), ids):
        expect_header(answer, HEADERS.status, ids)
        expect_header(answer, HEADERS.limit_reached, ids)


@pytest.mark.probe(BURST)
@pytest.mark.requirement("WH-CONC-004", max_requests=0)
def test_201_carries_an_absolute_response_location(
    background: OutcomeSource, profile: Profile, record_property: RecordProperty
) -> None:
    ids = ["WH-CONC-004"]
    for answer in answers_201(burst(background, profile, record_property, ids), ids):
        location = expect_header(answer, HEADERS.response_location, ids)
        expect_valid(answer, location, ABSOLUTE_URL[0], ids, ABSOLUTE_URL[1])


@pytest.mark.probe(BURST)
@pytest.mark.requirement("WH-CONC-002", max_requests=0)
def test_every_run_of_the_burst_delivers_its_own_data(
    background: OutcomeSource, profile: Profile, record_property: RecordProperty
) -> None:
    """Each request, answered 200, 201 or 504, gets its own payload back once: from its body or
    from its response URL. None missing, duplicated or mixed up."""
    ids = ["WH-CONC-002"]
    outcome = burst(background, profile, record_property, ids)
    answers_201(outcome, ids)
    account = account_burst(outcome.runs)
    if account.complete:
        return
    culprits = [*account.missing, *(run for run, _ in account.duplicated)]
    culprits += [mix.run for mix in account.mixed_up]
    evidence = [run.delivery or (run.polls[-1] if run.polls else run.answer) for run in culprits]
    raise CheckFailure(
        ids,
        f"each of the {outcome.sent} payloads retrieved once, by its own request",
        account.describe(outcome.runs) + f" (statuses {outcome.status_counts()})",
        evidence[0],
        extra_exchanges=evidence[1:4],
    )
