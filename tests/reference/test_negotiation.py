"""negotiation.py: the convention, Accept, CSV/plain/binary rendering and header sanitising."""

from __future__ import annotations

import base64

import pytest

from reference_impl.negotiation import (
    choose_media_type,
    convention_parts,
    negotiate_response,
    sanitise_headers,
)


def headers_of(rendered_headers: list[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in rendered_headers}


@pytest.mark.parametrize(
    ("status", "expected"),
    [(202, 202), ("202", 202), (202.0, 202), (599, 599), ("404", 404)],
)
def test_valid_statuses_follow_the_convention(status: object, expected: int) -> None:
    assert convention_parts({"status": status, "body": 1}) == (expected, 1, None)


@pytest.mark.parametrize("status", [199, 600, "20", "2022", " 202", "+202", "202.0", True, None])
def test_invalid_status_returns_the_whole_payload(status: object) -> None:
    payload = {"status": status, "body": {"a": 1}}
    rendered = negotiate_response(payload, None)
    assert rendered.status == 200
    assert rendered.body.startswith(b'{"status":')


def test_payload_without_body_is_returned_whole() -> None:
    rendered = negotiate_response({"status": 201, "other": 1}, None)
    assert (rendered.status, rendered.body) == (200, b'{"status":201,"other":1}')


def test_seed_convention_example() -> None:
    payload = {
        "status": "202",
        "headers": {"X-Tines-Story": "My Story", "X-Tines-Change-Control-Test": True},
        "body": {"random_number": "The generated random number is 4"},
        "ignored": "key",
    }
    rendered = negotiate_response(payload, None)
    assert rendered.status == 202
    assert rendered.body == b'{"random_number":"The generated random number is 4"}'
    assert headers_of(rendered.headers) == {
        "x-tines-story": "My Story",
        "x-tines-change-control-test": "true",
        "content-type": "application/json",
    }


def test_header_sanitising_drops_what_could_split_a_response() -> None:
    kept = sanitise_headers(
        {
            "X-Ok": "v",
            "X-Num": 3,
            "X-Bool": False,
            "Bad Name": "v",
            "X-Split\r\nInjected": "v",
            "X-Value": "a\r\nInjected: 1",
            "X-Nul": "a\x00b",
            "X-Ctl": "a\x01b",
            "X-Null": None,
            "X-List": [1],
            "Content-Length": "5",
            "transfer-encoding": "chunked",
        }
    )
    assert kept == [("X-Ok", "v"), ("X-Num", "3"), ("X-Bool", "false")]


def test_headers_that_are_not_an_object_are_ignored() -> None:
    assert sanitise_headers(["X-A", "1"]) == []
    rendered = negotiate_response({"status": 200, "body": "x", "headers": "X-A: 1"}, None)
    assert rendered.status == 200
    assert headers_of(rendered.headers) == {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/*", "application/json"),
        ("application/xml", "application/json"),
        ("text/csv", "text/csv"),
        ("text/plain", "text/plain"),
        ("text/csv;q=0.5, text/plain;q=0.9", "text/plain"),
        ("text/csv;q=0.9, application/json;q=0.5", "text/csv"),
        ("text/csv;q=0.5, application/json;q=0.5", "application/json"),
        # Equal q, but text/csv is named and */* only a wildcard: the named type fits better.
        ("text/csv, */*", "text/csv"),
        ("text/csv;q=0", "application/json"),
        ("garbage/a/b", "application/json"),
    ],
)
def test_accept_negotiation(accept: str | None, expected: str) -> None:
    assert choose_media_type(accept) == expected


def test_seed_csv_example() -> None:
    rendered = negotiate_response([["1", "2", "3"], ["4", "5", "6"]], "text/csv")
    assert rendered.body == b"1,2,3\r\n4,5,6\r\n"
    assert headers_of(rendered.headers)["content-type"] == "text/csv; charset=utf-8"


def test_csv_of_objects_quotes_and_cells() -> None:
    data = [
        {"a": "x,y", "b": None},
        {"b": True, "c": [1, 2], "a": 'say "hi"'},
        {"d": "line\nbreak"},
    ]
    rendered = negotiate_response(data, "text/csv")
    assert rendered.body.decode() == (
        'a,b,c,d\r\n"x,y",,,\r\n"say ""hi""",true,"[1,2]",\r\n,,,"line\nbreak"\r\n'
    )


def test_csv_of_non_array_data_is_json() -> None:
    rendered = negotiate_response({"a": 1}, "text/csv")
    assert headers_of(rendered.headers)["content-type"] == "application/json"
    mixed = negotiate_response([[1], {"a": 1}], "text/csv")
    assert mixed.body == b'[[1],{"a":1}]'


def test_plain_text() -> None:
    assert negotiate_response("héllo", "text/plain").body == "héllo".encode()
    assert negotiate_response({"a": 1}, "text/plain").body == b'{"a":1}'


def test_payload_content_type_wins_and_binary_is_decoded() -> None:
    pdf = b"%PDF-1.4 binary \x00\xff"
    payload = {
        "status": "202",
        "headers": {
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename=report.pdf",
        },
        "body": base64.b64encode(pdf).decode(),
    }
    rendered = negotiate_response(payload, "application/json")
    assert rendered.body == pdf
    assert headers_of(rendered.headers) == {
        "content-type": "application/pdf",
        "content-disposition": "attachment; filename=report.pdf",
    }


def test_binary_body_that_is_not_base64_is_sent_as_utf8() -> None:
    payload = {"status": 200, "headers": {"Content-Type": "image/png"}, "body": "not base64!"}
    assert negotiate_response(payload, None).body == b"not base64!"


def test_payload_content_type_json_text_and_csv() -> None:
    def render(content_type: str, body: object) -> bytes:
        payload = {"status": 200, "headers": {"Content-Type": content_type}, "body": body}
        return negotiate_response(payload, "text/plain").body

    assert render("application/vnd.api+json", "s") == b'"s"'
    assert render("text/html", "<b>x</b>") == b"<b>x</b>"
    assert render("text/csv", [["a", "b"]]) == b"a,b\r\n"


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(status: int) -> None:
    rendered = negotiate_response({"status": status, "body": {"a": 1}}, None)
    assert (rendered.status, rendered.body) == (status, b"")
