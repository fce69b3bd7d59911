"""The shared verifiers pass on conforming exchanges and fail, naming the requirement, on others."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance import verify
from conformance.exchange import Exchange, ReceivedResponse, SentRequest
from conformance.result import CheckFailure

REQ = "WH-BODY-001"


def exchange(
    status: int = 200,
    body: bytes | Any = b"",
    headers: tuple[tuple[str, str], ...] = (),
) -> Exchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Exchange(
        request=SentRequest("POST", "http://127.0.0.1:1/webhook/p/s", (), b'{"exit": 1}'),
        response=ReceivedResponse(status, "", headers, raw),
    )


def no_response() -> Exchange:
    return Exchange(
        request=SentRequest("GET", "http://127.0.0.1:1/x"), response=None, error="refused"
    )


def fails(requirement: str, call: Any, *args: Any, **kwargs: Any) -> CheckFailure:
    with pytest.raises(CheckFailure) as caught:
        call(*args, **kwargs)
    assert requirement in caught.value.requirement_ids
    assert "reproduce: curl" in str(caught.value) or caught.value.exchange is None
    return caught.value


def test_json_body_compares_json_values_not_python_ones() -> None:
    verify.expect_json_body(exchange(body={"a": 1.0}), {"a": 1}, REQ)
    fails(REQ, verify.expect_json_body, exchange(body={"a": 1}), {"a": True}, REQ)
    fails(REQ, verify.expect_json_body, exchange(body=b"nope"), "nope", REQ)


def test_no_response_is_a_failure_of_every_verifier() -> None:
    failure = fails(REQ, verify.expect_status, no_response(), 200, REQ)
    assert "refused" in failure.actual
    fails(REQ, verify.expect_response, no_response(), REQ)


def test_expect_equal_and_one_of() -> None:
    verify.expect_equal(None, "mode", "LIVE", "LIVE", "STORY-MODE-001")
    fails(
        "STORY-MODE-001", verify.expect_equal, exchange(), "mode", "TEST", "LIVE", "STORY-MODE-001"
    )
    fails("STORY-GET-001", verify.expect_equal, None, "id", True, 1, "STORY-GET-001")
    verify.expect_one_of(None, "X-Tines-Status", "ok", ["ok", "error"], "WH-META-005")
    fails("WH-META-005", verify.expect_one_of, None, "s", "other", ["ok"], "WH-META-005")


def test_status_range() -> None:
    verify.expect_status_in_range(exchange(status=404), 400, 599, "WH-META-004")
    fails(
        "WH-META-004", verify.expect_status_in_range, exchange(status=200), 400, 599, "WH-META-004"
    )


def test_differs_names_both_exchanges() -> None:
    first, second = exchange(), exchange(status=201)
    verify.expect_differs("X-Tines-Event-ID", "a", "b", "WH-META-006", [first, second])
    failure = fails(
        "WH-META-006", verify.expect_differs, "id", "a", "a", "WH-META-006", [first, second]
    )
    assert "also sent (1)" in str(failure)


def test_no_body() -> None:
    verify.expect_no_body(exchange(status=204), "WH-CONV-002")
    fails("WH-CONV-002", verify.expect_no_body, exchange(status=204, body=b"x"), "WH-CONV-002")


def test_text_is_compared_as_utf8_bytes() -> None:
    verify.expect_text(exchange(body="é".encode()), "é", "WH-CT-004")
    fails("WH-CT-004", verify.expect_text, exchange(body=b'"\\u00e9"'), "é", "WH-CT-004")


def test_csv_records_read_quoted_fields_and_crlf() -> None:
    body = b'a,"b,c"\r\n"q""uote","line\r\nbreak"\r\n'
    verify.expect_csv_records(
        exchange(body=body), [["a", "b,c"], ['q"uote', "line\r\nbreak"]], "WH-CT-002"
    )
    fails("WH-CT-002", verify.expect_csv_records, exchange(body=b"a,b\r\n"), [["a,b"]], "WH-CT-002")
    fails("WH-CT-002", verify.csv_records, exchange(body=b'"open'), "WH-CT-002")
    fails("WH-CT-002", verify.csv_records, exchange(body=b"\xff\xfe"), "WH-CT-002")


def test_names_parameter() -> None:
    body = {"errors": [{"message": "invalid", "parameter": "story_mode"}]}
    verify.expect_names_parameter(exchange(status=400, body=body), "story_mode", "STORY-PARAM-001")
    fails(
        "STORY-PARAM-001",
        verify.expect_names_parameter,
        exchange(status=400, body={"errors": [{"message": "bad request"}]}),
        "story_mode",
        "STORY-PARAM-001",
    )


def test_no_findings_names_every_requirement_of_every_finding() -> None:
    verify.expect_no_findings(exchange(), [])
    failure = fails(
        "STORY-AUTH-003",
        verify.expect_no_findings,
        exchange(),
        [(["STORY-GET-001"], "schema"), (["STORY-AUTH-003"], "auth ignored")],
    )
    assert failure.requirement_ids == ("STORY-GET-001", "STORY-AUTH-003")
    assert "auth ignored" in failure.actual


def test_headers() -> None:
    ex = exchange(headers=(("X-Tines-Status", "data_received"),))
    verify.expect_header_equals(ex, "x-tines-status", "data_received", "WH-META-002")
    verify.expect_header_absent(ex, "X-Injected", "WH-SAFE-001")
    fails("WH-SAFE-001", verify.expect_header_absent, ex, "X-Tines-Status", "WH-SAFE-001")


def test_valid_lists_the_violations() -> None:
    failure = fails(
        "STORY-AUTH-003",
        verify.expect_valid,
        exchange(),
        {"nothing": 1},
        "error.schema.json",
        "STORY-AUTH-003",
    )
    assert "error.schema.json" in failure.expected
    verify.expect_valid(exchange(), {"message": "no"}, "error.schema.json", "STORY-AUTH-003")


def test_string() -> None:
    verify.expect_string(None, "draft_name", "Draft", "STORY-DRAFT-001")
    fails(
        "STORY-DRAFT-001", verify.expect_string, exchange(), "draft_name", None, "STORY-DRAFT-001"
    )
