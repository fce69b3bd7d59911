"""The metadata headers of a webhook response ("Workflows as APIs", "Metadata"): present on a data
response, with values the document lists and consistent with the status line."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tines_spec
from conformance.http import TargetClient
from conformance.profile import Profile
from conformance.strategies import (
    CHECK_SETTINGS,
    default_payloads,
    invalid_statuses,
    json_values,
    valid_statuses,
)
from conformance.verify import (
    expect_data_response,
    expect_differs,
    expect_evidence,
    expect_header,
    expect_header_absent,
    expect_header_equals,
    expect_one_of,
    expect_status_in_range,
    precondition,
)

HEADERS = tines_spec.metadata_headers()

# The operations every check of this module calls, for the dry-run plan.
pytestmark = pytest.mark.operations("POST /webhook/{path}/{secret}")


_STATUS = HEADERS.status


@cache
def _documented_statuses() -> tuple[str, ...]:
    """The X-Tines-Status values the document lists, as the spec records them (its `examples`)."""
    document = tines_spec.openapi()
    header = document["components"]["headers"][_STATUS]
    return tuple(header["schema"]["examples"])


@cache
def _error_status() -> str:
    """The documented value for "there was an error processing the request" (looked up, so that
    a spec without it fails loudly here rather than making the check vacuous)."""
    return next(value for value in _documented_statuses() if value == "error")


def _any_exit_payload() -> st.SearchStrategy[Any]:
    """Exit payloads of every kind: defaults, and convention payloads with valid and invalid
    statuses (so that the target answers 2xx to 5xx status lines)."""
    convention = st.fixed_dictionaries(
        {"status": st.one_of(valid_statuses(), invalid_statuses()), "body": json_values()}
    )
    return st.one_of(default_payloads(), convention)


@pytest.mark.requirement("WH-META-001", "WH-META-002", max_requests=1)
@CHECK_SETTINGS
@given(payload=default_payloads())
def test_data_response_says_data_received(target: TargetClient, payload: Any) -> None:
    """ "`data_received` - the story executed and data is included in the response"."""
    exchange = target.probe(payload)
    expect_data_response(exchange, payload, "WH-BODY-002", "WH-BODY-001")
    with precondition(blocks=("WH-META-002",)):
        expect_header(exchange, _STATUS, "WH-META-001")
    expect_header_equals(exchange, _STATUS, "data_received", "WH-META-002")


@pytest.mark.requirement("WH-META-006", max_requests=2)
def test_event_id_is_present_and_differs_between_runs(target: TargetClient) -> None:
    """ "`X-Tines-Event-ID`: The ID of the event containing the data that was returned": two runs
    emit two events."""
    first = target.probe({"run": 1})
    second = target.probe({"run": 2})
    expect_data_response(first, {"run": 1}, "WH-BODY-002", "WH-BODY-001")
    expect_data_response(second, {"run": 2}, "WH-BODY-002", "WH-BODY-001")
    first_id = expect_header(first, HEADERS.event_id, "WH-META-006")
    second_id = expect_header(second, HEADERS.event_id, "WH-META-006")
    expect_differs(HEADERS.event_id, first_id, second_id, "WH-META-006", [first, second])


@pytest.mark.requirement("WH-META-007", max_requests=1)
@CHECK_SETTINGS
@given(payload=default_payloads())
def test_exit_action_id_is_present(target: TargetClient, payload: Any) -> None:
    """ "`X-Tines-Exit-Action-ID`: The ID of the exit action that produced the event"."""
    exchange = target.probe(payload)
    expect_data_response(exchange, payload, "WH-BODY-002", "WH-BODY-001")
    expect_header(exchange, HEADERS.exit_action_id, "WH-META-007")


@pytest.mark.requirement("WH-META-009", max_requests=1)
@CHECK_SETTINGS
@given(payload=default_payloads())
def test_data_response_names_no_limit(target: TargetClient, payload: Any) -> None:
    """ "If the request reached a limit, the limit that was reached will be included here": a
    request that got its data reached none."""
    exchange = target.probe(payload)
    expect_data_response(exchange, payload, "WH-BODY-002", "WH-BODY-001")
    expect_header_absent(exchange, HEADERS.limit_reached, "WH-META-009")


@pytest.mark.requirement("WH-META-001", "WH-META-005", max_requests=1)
@CHECK_SETTINGS
@given(payload=_any_exit_payload())
def test_status_header_takes_a_documented_value(target: TargetClient, payload: Any) -> None:
    """ "`X-Tines-Status`: The status of the request, values include:" data_received, ok, error."""
    exchange = target.probe(payload)
    with precondition(blocks=("WH-META-005",)):
        value = expect_header(exchange, _STATUS, "WH-META-001")
    expect_one_of(exchange, _STATUS, value, _documented_statuses(), "WH-META-005")


# Hypothesis runs inside the check: its bound is per example (`per_example`), as for a @given check.
@pytest.mark.requirement("WH-META-004", max_requests=1, per_example=True)
def test_error_status_comes_with_an_error_code(target: TargetClient) -> None:
    """ "`error` - there was an error processing the request": in HTTP, a 4xx or 5xx answer.
    The rule applies to the answers that say `error`: with none among them, it is untested."""
    said_error: list[int] = []

    @CHECK_SETTINGS
    @given(payload=_any_exit_payload())
    def each(payload: Any) -> None:
        exchange = target.probe(payload)
        if exchange.response is not None and exchange.response.header(_STATUS) == _error_status():
            said_error.append(exchange.response.status)
            expect_status_in_range(exchange, 400, 599, "WH-META-004")

    each()
    expect_evidence(len(said_error), f"answer saying {_STATUS}: {_error_status()}")


@pytest.mark.requirement("WH-META-004", max_requests=1)
def test_unknown_webhook_error_comes_with_an_error_code(
    target: TargetClient, profile: Profile
) -> None:
    """A request to a webhook whose secret is wrong cannot be processed; if the target says
    `error`, the status line says so too."""
    url = profile.webhooks.probe_url.rstrip("/") + "-not-the-secret"
    exchange = target.request("POST", url, json={"exit": "never"})
    said = exchange.response is not None and exchange.response.header(_STATUS) == _error_status()
    if said:
        expect_status_in_range(exchange, 400, 599, "WH-META-004")
    expect_evidence(int(said), f"{_STATUS}: {_error_status()} on the answer to a wrong secret")
