"""Exit timeout (WH-TIME-*, and the metadata of the 504).

"An Exit Action must generate an event within 30 seconds of the request being made in order to
return event data in the response. Otherwise, a `HTTP/1.1 504 Gateway Timeout` response will be
returned." The waits run in the background (`conformance/long_waits.py`); these checks read what
the timeout and just-under probes saw.
"""

from __future__ import annotations

import pytest

import tines_spec
from conformance.long_waits import (
    JUST_UNDER,
    TIMEOUT,
    OutcomeSource,
    just_under_outcome,
    the_504,
    timeout_outcome,
)
from conformance.profile import Profile
from conformance.result import CheckFailure
from conformance.verify import (
    expect_header,
    expect_header_equals,
    expect_json_body,
    expect_status,
    expect_valid,
    json_body,
    no_response_url,
    precondition,
)

# The 504 body names the response URL; every check that follows the run needs it.
RESPONSE_URL = "WH-TIME-003"

# The operations every check of this module calls, for the dry-run plan.
HEADERS = tines_spec.metadata_headers()

pytestmark = pytest.mark.operations(
    "POST /webhook/{path}/{secret}", "GET /webhook/{path}/{secret}/{response_id}"
)


TIMEOUT_BODY = "timeout-body.schema.json"


@pytest.mark.probe(JUST_UNDER)
@pytest.mark.requirement("WH-TIME-001", max_requests=0)
def test_just_under_the_timeout_returns_the_data(
    background: OutcomeSource, profile: Profile
) -> None:
    """A run that emits a margin before the exit timeout answers 200 with its data, so the
    target's timeout is not shorter than the profile says."""
    ids = ["WH-TIME-001"]
    outcome = just_under_outcome(background, profile, ids)
    expect_status(outcome.answer, 200, ids)
    with precondition():  # that the body is the payload is WH-BODY-001's rule
        expect_json_body(outcome.answer, outcome.exit, "WH-BODY-001")


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-TIME-002", max_requests=0)
def test_past_the_timeout_answers_504(background: OutcomeSource, profile: Profile) -> None:
    ids = ["WH-TIME-002"]
    the_504(timeout_outcome(background, profile, ids))


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-TIME-003", max_requests=0)
def test_timeout_body_names_time_and_an_absolute_response_url(
    background: OutcomeSource, profile: Profile
) -> None:
    ids = ["WH-TIME-003"]
    answer = the_504(timeout_outcome(background, profile, ids))
    expect_valid(answer, json_body(answer, ids), TIMEOUT_BODY, ids)


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-META-003", max_requests=0)
def test_timeout_status_header_is_ok(background: OutcomeSource, profile: Profile) -> None:
    """`ok`: the story is executing but did not return data in time."""
    ids = ["WH-META-003"]
    answer = the_504(timeout_outcome(background, profile, ids))
    expect_header_equals(answer, HEADERS.status, "ok", ids)


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-META-008", max_requests=0)
def test_timeout_names_the_limit_reached(background: OutcomeSource, profile: Profile) -> None:
    ids = ["WH-META-008"]
    answer = the_504(timeout_outcome(background, profile, ids))
    expect_header(answer, HEADERS.limit_reached, ids)


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-TIME-005", max_requests=0)
def test_timeout_limit_header_agrees_with_the_body(
    background: OutcomeSource, profile: Profile
) -> None:
    """The header names the same limit as the body, whose value the timeout schema fixes."""
    ids = ["WH-TIME-005"]
    answer = the_504(timeout_outcome(background, profile, ids))
    limit = tines_spec.schema(TIMEOUT_BODY)["properties"]["limit_reached"]["const"]
    with precondition():  # the header's presence is WH-META-008's rule
        expect_header(answer, HEADERS.limit_reached, "WH-META-008")
    expect_header_equals(answer, HEADERS.limit_reached, limit, ids)


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-TIME-004", max_requests=0)
def test_run_continues_after_the_timeout(background: OutcomeSource, profile: Profile) -> None:
    """The run goes on after the 504: its exit event appears at the response URL in time."""
    ids = ["WH-TIME-004"]
    outcome = timeout_outcome(background, profile, ids)
    answer = the_504(outcome)
    run = outcome.run
    if run.response_url is not None and not run.response_url.lower().startswith(
        ("http://", "https://")
    ):
        with precondition():  # a relative URL cannot be followed: WH-TIME-003's failure
            raise CheckFailure(
                [RESPONSE_URL], "an absolute response URL", repr(run.response_url), answer
            )
    if run.response_url is None:
        no_response_url(answer, RESPONSE_URL)
    if run.delivery is None:
        last = run.polls[-1] if run.polls else outcome.first_poll
        raise CheckFailure(
            ids,
            f"the exit event at the response URL within {outcome.poll_deadline_seconds:g} s "
            "of its being due",
            f"no 200 after {len(run.polls)} polls",
            last,
            extra_exchanges=[answer],
        )
