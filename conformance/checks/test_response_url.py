"""Response URL (WH-RURL-*, and the response location of the 504).

"If/when an Exit Action produces an event for this story run, the `response_url` returned in body
of the timeout response can be visited to access the event data. The response URL can also be
found in the `X-Tines-Response-Location` header." These checks read the timeout probe's run
(`conformance/long_waits.py`): its 504, a poll made before the exit was due, and the later polls.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

import tines_spec
from conformance.exchange import RESPONSE_LOCATION, Exchange
from conformance.http import TargetClient
from conformance.long_waits import (
    TIMEOUT,
    OutcomeSource,
    the_504,
    timeout_outcome,
)
from conformance.profile import Profile
from conformance.result import CheckFailure
from conformance.verify import (
    expect_header,
    expect_header_not,
    expect_json_body,
    expect_media_type,
    expect_status,
    expect_status_not,
    expect_string,
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


# The spec's definition of an absolute URL (the shape of every `response_url`).
ABSOLUTE_URL = ("limit-body.schema.json", "/$defs/absoluteUrl")
LOCATION = RESPONSE_LOCATION


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-META-010", max_requests=0)
def test_timeout_carries_an_absolute_response_location(
    background: OutcomeSource, profile: Profile
) -> None:
    ids = ["WH-META-010"]
    answer = the_504(timeout_outcome(background, profile, ids))
    location = expect_header(answer, LOCATION, ids)
    expect_valid(answer, location, ABSOLUTE_URL[0], ids, ABSOLUTE_URL[1])


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-RURL-002", max_requests=0)
def test_response_location_equals_the_body_response_url(
    background: OutcomeSource, profile: Profile
) -> None:
    ids = ["WH-RURL-002"]
    answer = the_504(timeout_outcome(background, profile, ids))
    with precondition():  # the header is WH-META-010's, the body's URL WH-TIME-003's
        location = expect_header(answer, LOCATION, "WH-META-010")
        body = json_body(answer, RESPONSE_URL)
        from_body = body.get("response_url") if isinstance(body, dict) else None
        expect_string(answer, "the 504 body's response_url", from_body, RESPONSE_URL)
    if location != from_body:
        raise CheckFailure(
            ids,
            f"{LOCATION} equal to the body's response_url {from_body!r}",
            f"{LOCATION}: {location}" if location is not None else f"no {LOCATION} header",
            answer,
        )


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-RURL-003", max_requests=0)
def test_response_url_before_the_data_is_not_taken_for_it(
    background: OutcomeSource, profile: Profile
) -> None:
    """Polled right after the 504, before the exit can have emitted: not a 200, and not
    `X-Tines-Status: data_received`."""
    ids = ["WH-RURL-003"]
    outcome = timeout_outcome(background, profile, ids)
    answer = the_504(outcome)
    first = outcome.first_poll
    _expect_absolute(outcome.run.response_url, answer)
    if first is None:
        no_response_url(answer, RESPONSE_URL)
    if not outcome.first_poll_before_due:
        looks_like_data = _claims_data(first)
        if looks_like_data:
            pytest.skip(
                "the 504 came too late to poll before the exit was due (is the profile's "
                "exit_timeout_seconds shorter than the target's?); the 200 seen then is legitimate"
            )
    expect_status_not(first, [200], ids)
    expect_header_not(first, HEADERS.status, "data_received", ids)


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-RURL-001", max_requests=0)
def test_response_url_returns_exactly_this_runs_payload(
    background: OutcomeSource, profile: Profile
) -> None:
    """Once the exit emitted, the response URL returns this run's payload (its unique token) as
    JSON, and never another run's."""
    ids = ["WH-RURL-001"]
    outcome = timeout_outcome(background, profile, ids)
    answer = the_504(outcome)
    run = outcome.run
    _expect_absolute(run.response_url, answer)
    if run.response_url is None:
        no_response_url(answer, RESPONSE_URL)
    if not run.polls:
        raise CheckFailure(ids, "an answer from the response URL", "it was never polled", answer)
    last = run.polls[-1]
    expect_status(last, 200, ids)
    expect_media_type(last, "application/json", ids)
    expect_json_body(last, run.exit, ids)


@pytest.mark.probe(TIMEOUT)
@pytest.mark.requirement("WH-RURL-004", max_requests=1)
def test_unknown_response_id_is_not_found(
    background: OutcomeSource, profile: Profile, target: TargetClient
) -> None:
    """The run's own response URL with its last segment replaced by an ID no run has."""
    ids = ["WH-RURL-004"]
    outcome = timeout_outcome(background, profile, ids)
    # A 404 from a target that hands out no response URL at all shows nothing about them.
    answer = the_504(outcome)
    known = outcome.run.response_url
    if known is None:
        no_response_url(answer, RESPONSE_URL)
    _expect_absolute(known, answer)
    exchange = target.request("GET", with_last_segment(known, uuid.uuid4().hex))
    expect_status(exchange, 404, ids)


def _expect_absolute(url: str | None, answer: Exchange) -> None:
    """A response URL the checks can follow: a relative one is WH-TIME-003's failure."""
    if url is not None and urlsplit(url).scheme.lower() not in ("http", "https"):
        with precondition():
            raise CheckFailure(
                [RESPONSE_URL], "an absolute response URL", f"response URL {url!r}", answer
            )


def with_last_segment(url: str, segment: str) -> str:
    parts = urlsplit(url)
    head, _, _ = parts.path.rstrip("/").rpartition("/")
    return urlunsplit(parts._replace(path=f"{head}/{segment}"))


def _claims_data(exchange: Exchange) -> bool:
    response = exchange.response
    return response is not None and (
        response.status == 200 or response.header(HEADERS.status) == "data_received"
    )
