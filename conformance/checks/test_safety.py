"""Safety of the target: a `headers` object taken from event data must not let that data write
the response (RFC 9110 section 5.5; response splitting)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.http import TargetClient
from conformance.strategies import CHECK_SETTINGS, header_names, header_text_values, json_values
from conformance.verify import (
    expect_header_absent,
    expect_json_data,
    expect_response,
    expect_status,
    precondition,
)

# The operations every check of this module calls, for the dry-run plan.
pytestmark = pytest.mark.operations("POST /webhook/{path}/{secret}")


_INJECTED = "X-Injected"
# What an attacker appends: a header of its own, or a whole second response after a blank line.
_INJECTIONS = (
    f"\r\n{_INJECTED}: 1",
    f"\n{_INJECTED}: 1",
    f"\r{_INJECTED}: 1",
    f"\r\n\r\nHTTP/1.1 200 OK\r\n{_INJECTED}: 1\r\nContent-Length: 0\r\n\r\n",
    f"\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n{_INJECTED}: 1\r\n\r\n",
)


def _injected_text() -> st.SearchStrategy[str]:
    """Harmless text with an injection spliced in at a generated place."""
    return st.tuples(header_text_values(), st.sampled_from(_INJECTIONS), header_text_values()).map(
        "".join
    )


def _injected_headers() -> st.SearchStrategy[dict[str, Any]]:
    """A payload header whose value, or whose name, carries CR/LF."""
    in_value = st.dictionaries(header_names(), _injected_text(), min_size=1, max_size=2)
    in_name = st.builds(lambda name, value: {name: value}, _injected_text(), header_text_values())
    return st.one_of(in_value, in_name)


@pytest.mark.requirement("WH-SAFE-001", max_requests=1)
@CHECK_SETTINGS
@given(headers=_injected_headers(), body=json_values())
def test_crlf_in_payload_headers_never_splits_the_response(
    target: TargetClient, headers: dict[str, Any], body: Any
) -> None:
    """Payload header names or values carrying CR/LF never split the response or add headers:
    the answer parses, has no injected header, and carries the payload's status and body."""
    exchange = target.probe({"status": 200, "headers": headers, "body": body})
    expect_response(exchange, "WH-SAFE-001")
    expect_header_absent(exchange, _INJECTED, "WH-SAFE-001")
    # Whether the payload's headers were applied at all: a target that ignores the convention
    # shows nothing about splitting (its status and body are the convention's requirements).
    with precondition():
        expect_status(exchange, 200, "WH-CONV-001")
        expect_json_data(exchange, body, "WH-CONV-002")
