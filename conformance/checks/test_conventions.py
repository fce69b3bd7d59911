"""The response body, status and headers of a webhook run ("Workflows as APIs", "Response body,
status, and headers"), driven through the probe story with generated exit payloads."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given

import tines_spec
from conformance.exchange import Exchange
from conformance.http import TargetClient
from conformance.profile import Profile
from conformance.strategies import (
    CHECK_SETTINGS,
    NO_CONTENT_STATUSES,
    default_payloads,
    extra_keys,
    header_maps,
    header_scalar_values,
    header_text_values,
    header_value_text,
    invalid_statuses,
    json_values,
    status_code,
    valid_numeric_strings,
    valid_statuses,
)
from conformance.verify import (
    expect_differs,
    expect_header,
    expect_header_equals,
    expect_json_body,
    expect_json_data,
    expect_no_body,
    expect_response,
    expect_status,
    expect_status_not,
    precondition,
    response_of,
)

HEADERS = tines_spec.metadata_headers()

# The operations every check of this module calls, for the dry-run plan.
pytestmark = pytest.mark.operations("POST /webhook/{path}/{secret}")


# The race story's delays: long enough apart that the first exit is unambiguous, short enough
# to keep the check quick.
_EARLY, _LATE = 0.0, 1.5


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _expect_convention_body(exchange: Exchange, status: int, body: Any, requirement: str) -> None:
    """The convention's `body` is the response body, except where HTTP forbids content."""
    if status in NO_CONTENT_STATUSES:
        expect_no_body(exchange, requirement)
    else:
        expect_json_data(exchange, body, requirement)


@pytest.mark.requirement("WH-ENTRY-001", "WH-BODY-001", "WH-BODY-002", max_requests=1)
@CHECK_SETTINGS
@given(payload=default_payloads())
def test_default_body_is_the_exit_payload(target: TargetClient, payload: Any) -> None:
    """ "By default, the payload of the exit action is returned in the webhook HTTP response
    body" and "The endpoint will return the event data emitted by the exit action"."""
    exchange = target.probe(payload)
    with precondition(blocks=("WH-BODY-001",)):
        expect_response(exchange, "WH-ENTRY-001")
        # No such webhook (404, 405, 410): no run was started at all.
        expect_status_not(exchange, [404, 405, 410], "WH-ENTRY-001")
        expect_status(exchange, 200, "WH-BODY-002")
    expect_json_data(exchange, payload, "WH-BODY-001")


@pytest.mark.requirement("WH-CONV-001", "WH-CONV-002", max_requests=1)
@CHECK_SETTINGS
@given(status=valid_statuses().filter(lambda s: not isinstance(s, str)), body=json_values())
def test_integer_status_sets_status_line_and_body(
    target: TargetClient, status: int | float, body: Any
) -> None:
    """ "the `status` field will be used to set the HTTP status line and the `body` field will be
    used as the HTTP response body"."""
    exchange = target.probe({"status": status, "body": body})
    expect_status(exchange, status_code(status), "WH-CONV-001")
    _expect_convention_body(exchange, status_code(status), body, "WH-CONV-002")


@pytest.mark.requirement("WH-CONV-003", "WH-CONV-002", max_requests=1)
@CHECK_SETTINGS
@given(status=valid_numeric_strings(), body=json_values())
def test_numeric_string_status_is_valid(target: TargetClient, status: str, body: Any) -> None:
    """The document's own example: `"status": "202"` gives `HTTP/1.1 202 Accepted`."""
    exchange = target.probe({"status": status, "body": body})
    expect_status(exchange, status_code(status), "WH-CONV-003")
    _expect_convention_body(exchange, status_code(status), body, "WH-CONV-002")


@pytest.mark.requirement("WH-CONV-005", max_requests=1)
@CHECK_SETTINGS
@given(headers=header_maps(header_text_values()), body=json_values())
def test_headers_object_becomes_response_headers(
    target: TargetClient, headers: dict[str, str], body: Any
) -> None:
    """ "you can include a `headers` object to include custom HTTP response headers"."""
    exchange = target.probe({"status": 200, "headers": headers, "body": body})
    for name, value in headers.items():
        expect_header_equals(exchange, name, value, "WH-CONV-005")


@pytest.mark.requirement("WH-CONV-006", max_requests=1)
@CHECK_SETTINGS
@given(headers=header_maps(header_scalar_values()))
def test_number_and_boolean_header_values_are_json_text(
    target: TargetClient, headers: dict[str, int | float | bool]
) -> None:
    """ "X-Tines-Change-Control-Test: true": a JSON scalar header value is sent as its JSON text."""
    exchange = target.probe({"status": 200, "headers": headers, "body": "ok"})
    for name, value in headers.items():
        with precondition():  # a header not sent at all is WH-CONV-005's failure
            expect_header(exchange, name, "WH-CONV-005")
        expect_header_equals(exchange, name, header_value_text(value), "WH-CONV-006")


def _expect_returned_whole(exchange: Exchange, payload: Any) -> None:
    """The convention not applied: a data answer, so 200 (another status is WH-BODY-002's
    failure, which blocks the check), whose body is the whole payload (WH-CONV-004)."""
    with precondition():
        expect_status(exchange, 200, "WH-BODY-002")
    expect_json_data(exchange, payload, "WH-CONV-004")


@pytest.mark.requirement("WH-CONV-004", max_requests=1)
@CHECK_SETTINGS
@given(status=invalid_statuses(), body=json_values(), headers=header_maps(min_size=0))
def test_invalid_status_returns_the_payload_whole(
    target: TargetClient, status: Any, body: Any, headers: dict[str, Any]
) -> None:
    """The convention applies only "if ... the `status` field is a valid HTTP response code";
    otherwise the default holds: the whole payload is the body, with 200."""
    payload = {"status": status, "body": body, "headers": headers}
    _expect_returned_whole(target.probe(payload), payload)


@pytest.mark.requirement("WH-CONV-004", max_requests=1)
@CHECK_SETTINGS
@given(status=valid_statuses(), headers=header_maps(min_size=0))
def test_payload_without_body_is_returned_whole(
    target: TargetClient, status: Any, headers: dict[str, Any]
) -> None:
    """The convention needs both "the `status` and `body` keys": with no `body`, the whole
    payload is the body, with 200."""
    payload = {"status": status, "headers": headers}
    _expect_returned_whole(target.probe(payload), payload)


@pytest.mark.requirement("WH-CONV-007", max_requests=1)
@CHECK_SETTINGS
@given(extra=extra_keys(), body=json_values())
def test_extra_keys_do_not_reach_the_body(
    target: TargetClient, extra: dict[str, Any], body: Any
) -> None:
    """Only `status`, `body` and `headers` have a meaning; "the `body` field will be used as the
    HTTP response body", and nothing else."""
    payload = {**extra, "status": 200, "body": body}
    exchange = target.probe(payload)
    response = response_of(exchange, "WH-CONV-007")
    answered = _json_or_none(response)
    leaked = isinstance(answered, dict) and any(key in answered for key in extra)
    if response.media_type == "application/json" and not leaked:
        with precondition():  # no extra key in it: a wrong body is the convention's failure
            expect_json_body(exchange, body, "WH-CONV-002")
    expect_json_data(exchange, body, "WH-CONV-007")


@pytest.mark.race_story
@pytest.mark.requirement("WH-BODY-003", "WH-META-007", max_requests=2)
def test_first_exit_to_execute_is_returned(target: TargetClient, profile: Profile) -> None:
    """ "In the case where there are multiple exit actions, the event data from first exit action
    to execute will be returned": swapping the delays swaps the answer and its exit action ID."""
    if profile.webhooks.race_url is None:
        pytest.skip("profile has no webhooks.race_url")
    first_token, second_token = uuid.uuid4().hex, uuid.uuid4().hex
    first_wins = target.race(first_token, _EARLY, _LATE)
    second_wins = target.race(second_token, _LATE, _EARLY)
    for exchange, winner, token in (
        (first_wins, "first", first_token),
        (second_wins, "second", second_token),
    ):
        with precondition():
            expect_status(exchange, 200, "WH-BODY-002")
        expect_json_data(exchange, {"exit": winner, "token": token}, "WH-BODY-003")
    first_id = expect_header(first_wins, HEADERS.exit_action_id, "WH-META-007")
    second_id = expect_header(second_wins, HEADERS.exit_action_id, "WH-META-007")
    expect_differs(
        HEADERS.exit_action_id, first_id, second_id, "WH-META-007", [first_wins, second_wins]
    )
