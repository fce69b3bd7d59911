"""Content types of a webhook response ("Workflows as APIs", "Content types"): the Accept header
chooses among JSON, CSV and plain text, and a payload's own Content-Type wins."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.exchange import Exchange
from conformance.http import TargetClient
from conformance.strategies import (
    BINARY_MEDIA_TYPES,
    CHECK_SETTINGS,
    binary_bodies,
    csv_matrices,
    default_payloads,
    object_records,
    plain_texts,
)
from conformance.verify import (
    expect_body_bytes,
    expect_csv_records,
    expect_evidence,
    expect_header,
    expect_header_equals,
    expect_json_body,
    expect_media_type,
    expect_status,
    expect_text,
    precondition,
    response_of,
)

# The operations every check of this module calls, for the dry-run plan.
pytestmark = pytest.mark.operations("POST /webhook/{path}/{secret}")


_JSON, _CSV, _TEXT = "application/json", "text/csv", "text/plain"
_WILDCARDS = ("*/*", "application/*", "*/*;q=0.8")
_CSV_FIRST = "text/csv;q=1, application/json;q=0.5"
_JSON_FIRST = "text/csv;q=0.5, application/json;q=1"


def _header_record(records: list[dict[str, str]]) -> list[str]:
    """The keys in order of first appearance (spec/openapi.yaml, text/csv of ExitData)."""
    return list(dict.fromkeys(key for record in records for key in record))


# Every kind of data the negotiation could treat differently: CSV can carry arrays of arrays and
# of objects, plain text a string, and Base64 text looks like a binary body. Without Accept, each
# is JSON all the same.
_DATA_SHAPES: dict[str, st.SearchStrategy[Any]] = {
    "any": default_payloads(),
    "array-of-arrays": csv_matrices(),
    "array-of-objects": object_records(),
    "string": plain_texts(),
    "base64-text": st.binary(min_size=1, max_size=64).map(lambda b: base64.b64encode(b).decode()),
}


def _expect_json_of(exchange: Exchange, payload: Any, requirement: str) -> None:
    """The answer is labelled JSON, `requirement`'s rule; that its body is the payload is
    WH-BODY-001's, a precondition of the check."""
    expect_media_type(exchange, _JSON, requirement)
    with precondition():
        expect_json_body(exchange, payload, "WH-BODY-001")


@pytest.mark.requirement("WH-CT-001", max_requests=1)
@pytest.mark.parametrize("shape", list(_DATA_SHAPES))
@CHECK_SETTINGS
@given(data=st.data())
def test_json_is_the_default(target: TargetClient, shape: str, data: st.DataObject) -> None:
    """ "`application/json` - the default format", whatever the data's shape."""
    payload = data.draw(_DATA_SHAPES[shape], label="payload")
    exchange = target.probe(payload)
    _expect_json_of(exchange, payload, "WH-CT-001")


@pytest.mark.requirement("WH-CT-002", max_requests=1)
@CHECK_SETTINGS
@given(matrix=csv_matrices())
def test_csv_returns_array_data_as_records(target: TargetClient, matrix: list[list[str]]) -> None:
    """ "`text/csv` - you can receive your array data in CSV format": one record per inner array,
    read back by Python's csv module whatever the cells hold."""
    exchange = target.probe(matrix, accept=_CSV)
    expect_media_type(exchange, _CSV, "WH-CT-002")
    expect_csv_records(exchange, matrix, "WH-CT-002")


# Hypothesis runs inside the check: its bound is per example (`per_example`), as for a @given check.
@pytest.mark.requirement("WH-CT-003", max_requests=1, per_example=True)
def test_csv_of_objects_has_a_header_record(target: TargetClient) -> None:
    """An array of objects as CSV: a header record of the keys, then one record per object with
    a missing key as an empty field. A MAY: it applies only when the answer is CSV, and a target
    that never answers an array of objects in CSV leaves it untested, not passed."""
    as_csv: list[int] = []

    @CHECK_SETTINGS
    @given(records=object_records())
    def each(records: list[dict[str, str]]) -> None:
        exchange = target.probe(records, accept=_CSV)
        if response_of(exchange, "WH-CT-003").media_type != _CSV:
            return
        as_csv.append(1)
        header = _header_record(records)
        expected = [header, *([record.get(key, "") for key in header] for record in records)]
        expect_csv_records(exchange, expected, "WH-CT-003")

    each()
    expect_evidence(len(as_csv), "answer in text/csv to an array of objects")


@pytest.mark.requirement("WH-CT-004", max_requests=1)
@CHECK_SETTINGS
@given(text=plain_texts())
def test_plain_text_is_the_bare_string(target: TargetClient, text: str) -> None:
    """ "`text/plain` - for data that doesn't need any fancy formatting": a JSON string is sent as
    its text, without quotes or escapes."""
    exchange = target.probe(text, accept=_TEXT)
    expect_media_type(exchange, _TEXT, "WH-CT-004")
    expect_text(exchange, text, "WH-CT-004")


@pytest.mark.requirement("WH-CT-005", max_requests=1)
@pytest.mark.parametrize("accept", _WILDCARDS)
@CHECK_SETTINGS
@given(data=st.one_of(csv_matrices(), object_records(), plain_texts()))
def test_wildcards_default_to_json(target: TargetClient, accept: str, data: Any) -> None:
    """ "We also support wildcards and will default to JSON": for the data CSV or plain text
    could carry as well (arrays of arrays or of objects, strings)."""
    exchange = target.probe(data, accept=accept)
    _expect_json_of(exchange, data, "WH-CT-005")


@pytest.mark.requirement("WH-CT-006", max_requests=2)
@CHECK_SETTINGS
@given(matrix=csv_matrices())
def test_q_values_choose_the_type(target: TargetClient, matrix: list[list[str]]) -> None:
    """ "you can use the HTTP `accept` header to specify the content type you want to receive",
    and RFC 9110 ranks its choices by q-value."""
    csv_first = target.probe(matrix, accept=_CSV_FIRST)
    expect_media_type(csv_first, _CSV, "WH-CT-006")
    with precondition():  # the records themselves are how CSV is written: WH-CT-002's rule
        expect_csv_records(csv_first, matrix, "WH-CT-002")
    json_first = target.probe(matrix, accept=_JSON_FIRST)
    expect_media_type(json_first, _JSON, "WH-CT-006")
    expect_json_body(json_first, matrix, "WH-CT-006")


@pytest.mark.requirement("WH-CT-007", max_requests=1)
@CHECK_SETTINGS
@given(
    media_type=st.sampled_from(BINARY_MEDIA_TYPES),
    accept=st.sampled_from((_JSON, _CSV, _TEXT, "*/*")),
)
def test_payload_content_type_wins_over_accept(
    target: TargetClient, media_type: str, accept: str
) -> None:
    """ "You can hard code a specific content type ... in your response action": the payload's
    Content-Type is sent whatever Accept asks for."""
    body = base64.b64encode(b"%PDF-1.4 conformance").decode()
    payload = {"status": 200, "headers": {"Content-Type": media_type}, "body": body}
    exchange = target.probe(payload, accept=accept)
    expect_header_equals(exchange, "Content-Type", media_type, "WH-CT-007")


@pytest.mark.requirement("WH-CT-008", max_requests=1)
@CHECK_SETTINGS
@given(pair=binary_bodies())
def test_base64_body_is_sent_as_bytes(target: TargetClient, pair: tuple[str, bytes]) -> None:
    """ "if you return binary or Base64 encoded files. you can specify the format to support
    many, many more data types like `image/png`, `application/pdf` or `audio/aac`"."""
    media_type, data = pair
    payload = {
        "status": "202",
        "headers": {"Content-Type": media_type},
        "body": base64.b64encode(data).decode(),
    }
    exchange = target.probe(payload)
    with precondition():  # the convention's numeric-string status, and its Content-Type
        expect_status(exchange, 202, "WH-CONV-003")
        expect_media_type(exchange, media_type, "WH-CT-007")
    expect_body_bytes(exchange, data, "WH-CT-008")


@pytest.mark.requirement("WH-CT-009", max_requests=1)
@CHECK_SETTINGS
@given(
    name=st.from_regex(r"\A[A-Za-z0-9_-]{1,20}\Z"), extension=st.sampled_from(["pdf", "png", "csv"])
)
def test_content_disposition_is_passed_through(
    target: TargetClient, name: str, extension: str
) -> None:
    """ "a content disposition of `attachment; filename=report.pdf`, so the file downloads with
    the name `report.pdf`"."""
    disposition = f"attachment; filename={name}.{extension}"
    payload = {
        "status": "202",
        "headers": {"Content-Type": "application/pdf", "Content-Disposition": disposition},
        "body": base64.b64encode(b"%PDF-1.4").decode(),
    }
    exchange = target.probe(payload)
    with precondition():  # the payload's headers not sent at all is WH-CONV-005's failure
        expect_status(exchange, 202, "WH-CONV-003")
        expect_header(exchange, "Content-Disposition", "WH-CONV-005")
    expect_header_equals(exchange, "Content-Disposition", disposition, "WH-CT-009")
