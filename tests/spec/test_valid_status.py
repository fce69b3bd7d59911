"""exit-payload.schema.json#/$defs/validStatus: what counts as "a valid HTTP response code".

The document's own example writes the status as the string "202", so numeric strings count; the
schema's description fixes the rest (no 1xx, nothing above 599, no signs, spaces or fractions).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tines_spec

EXIT_PAYLOAD = "exit-payload.schema.json"


def valid_status(value: Any) -> bool:
    return tines_spec.validator(EXIT_PAYLOAD, "/$defs/validStatus").is_valid(value)


def convention(value: Any) -> bool:
    payload = {"status": value, "body": {"ok": True}}
    return tines_spec.validator(EXIT_PAYLOAD, "/$defs/conventionPayload").is_valid(payload)


codes = st.integers(min_value=200, max_value=599)


@given(code=codes)
def test_a_final_status_code_is_valid_as_an_integer(code: int) -> None:
    assert valid_status(code)
    assert convention(code)


@given(code=codes)
def test_a_final_status_code_is_valid_as_a_three_digit_string(code: int) -> None:
    assert valid_status(str(code))
    assert convention(str(code))


@given(code=st.integers(min_value=100, max_value=199))
def test_an_informational_code_is_not_valid(code: int) -> None:
    assert not valid_status(code)
    assert not valid_status(str(code))
    assert not convention(code)


@given(code=st.integers(min_value=600) | st.integers(max_value=99))
def test_a_number_outside_the_status_range_is_not_valid(code: int) -> None:
    assert not valid_status(code)
    assert not valid_status(str(code))


@given(
    code=codes,
    dress=st.sampled_from(
        ["{} ", " {}", "+{}", "0{}", "{}.0", "{}0", "\n{}", "{}a", "-{}", "{}.5"]
    ),
)
def test_a_dressed_up_numeric_string_is_not_valid(code: int, dress: str) -> None:
    assert not valid_status(dress.format(code))


@pytest.mark.parametrize(
    "value",
    [True, False, None, "2020", " 202", "20a", 202.5, "202.0", "", [202], {"code": 202}],
    ids=repr,
)
def test_named_invalid_statuses(value: Any) -> None:
    assert not valid_status(value)
    assert not convention(value)


def test_an_integral_float_is_an_integer_in_json_schema() -> None:
    """202.0 is the integer 202 in JSON Schema 2020-12, so it is a valid code."""
    assert valid_status(202.0)
    assert convention(202.0)


@given(code=codes, extra=st.dictionaries(st.text(max_size=6), st.integers(), max_size=3))
def test_a_payload_without_body_is_not_a_convention_payload(
    code: int, extra: dict[str, int]
) -> None:
    """Both keys are needed: `status` alone leaves the payload to be returned whole."""
    payload = {key: value for key, value in extra.items() if key != "body"} | {"status": code}
    assert not tines_spec.validator(EXIT_PAYLOAD, "/$defs/conventionPayload").is_valid(payload)
