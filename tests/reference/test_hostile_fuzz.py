"""Hypothesis against a real reference: webhook bodies and Stories API queries drawn to be hostile.

Whatever is sent: no 5xx the exit payload did not ask for, every JSON answer is JSON, no
traceback in the log; afterwards a normal probe and a story GET answer and SIGTERM stops it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import ServerProcess
from .hostile import (
    AUTH,
    asked_for,
    assert_json_error,
    assert_no_traceback,
    assert_sigterm_stops,
    assert_still_serving,
)

# Derandomised: the corpus is the same on every run, so a failure here is not a flake.
_FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("fuzz")
    proc = ServerProcess(
        tmp, str(tmp / "db.sqlite3"), "--exit-timeout", "3", "--max-body-bytes", "65536"
    )
    proc.client.timeout = 10
    yield proc
    try:
        assert_still_serving(proc)
    finally:
        assert_sigterm_stops(proc)  # it kills the server when SIGTERM does not stop it


# ------------------------------------------------------------------ values
# Any text, with lone surrogates (category Cs, which st.characters() rarely draws) mixed in:
# json.dumps escapes them as \udXXX, valid JSON that no UTF-8 text can hold.
_TEXT = st.one_of(
    st.text(st.characters(), max_size=12),
    st.lists(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=6).map("".join),
)
_NUMBERS = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**4299, -(10**4299), 2**63, 1e308, 5e-324]),
)
_SCALARS = st.one_of(st.none(), st.booleans(), _NUMBERS, _TEXT)
_JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=12,
)
# Convention payloads, with statuses and headers meant to break the response.
_CONVENTION = st.fixed_dictionaries(
    {
        "status": st.one_of(st.integers(-10, 1000), _TEXT, st.sampled_from(["200", 200.0])),
        "body": _JSON_VALUES,
    },
    optional={"headers": st.dictionaries(_TEXT, _JSON_VALUES, max_size=3)},
)
_MEDIA_TYPES = st.sampled_from(
    [
        "application/json",
        "application/vnd.x+json",
        "text/plain",
        "text/plain; charset=utf-16",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
        "multipart/form-data",
        "",
        "garbage",
        "application/json; charset=\u00ff",
    ]
)
_ACCEPTS = st.one_of(
    st.sampled_from(["text/csv", "text/plain", "*/*", "text/csv;q=1e999", "a/b;q=nan", ";;,"]),
    # A field value has no edge white space (h11, the client's HTTP layer, refuses to send it).
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30).map(str.strip),
)


def _dumps(value: Any) -> bytes:
    """JSON as a hostile client writes it: NaN and Infinity as bare words, surrogates escaped."""
    return json.dumps(value, allow_nan=True).encode("ascii")


def _bodies() -> st.SearchStrategy[bytes]:
    probe = st.fixed_dictionaries(
        {"exit": st.one_of(_JSON_VALUES, _CONVENTION)},
        optional={"delay_seconds": st.sampled_from([0, 0.0, -0.0, 1e-300])},
    ).map(_dumps)
    multipart = st.binary(max_size=64).map(
        lambda b: (
            b'--b\r\nContent-Disposition: form-data; name="f"; filename="\xed\xa0\x80"\r\n'
            b"\r\n" + b + b"\r\n--b--\r\n"
        )
    )
    return st.one_of(probe, _JSON_VALUES.map(_dumps), st.binary(max_size=200), multipart)


def _sent_exit(body: bytes) -> Any:
    """The exit payload this body asks for, as the reference reads it (None when it is not JSON)."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return parsed.get("exit") if isinstance(parsed, dict) else None


def _assert_answer_is_sound(response: httpx.Response, body: bytes) -> None:
    status = response.status_code
    assert status < 500 or asked_for(_sent_exit(body), status), (status, response.text[:300])
    assert "Traceback" not in response.text
    if response.headers.get("content-type", "").startswith("application/json") and (
        response.content
    ):
        # Strict JSON: no NaN, no Infinity (json.loads would accept both).
        json.loads(response.content, parse_constant=_not_json)
    if status >= 400 and not asked_for(_sent_exit(body), status):
        assert_json_error(response, 400, 499)


def _not_json(name: str) -> Any:
    raise AssertionError(f"{name} in a JSON answer")


@_FUZZ
@given(body=_bodies(), media_type=_MEDIA_TYPES, accept=_ACCEPTS)
def test_fuzzed_webhook_bodies(
    fuzzed: ServerProcess, body: bytes, media_type: str, accept: str
) -> None:
    headers: dict[bytes, bytes] = {b"accept": accept.encode("latin-1")} if accept else {}
    if media_type:
        headers[b"content-type"] = media_type.encode("latin-1")
    response = fuzzed.client.post(fuzzed.probe_url, content=body, headers=headers)
    _assert_answer_is_sound(response, body)


@_FUZZ
@given(query=st.lists(st.tuples(_TEXT, _TEXT), max_size=5))
def test_fuzzed_webhook_get_queries(fuzzed: ServerProcess, query: list[tuple[str, str]]) -> None:
    """GET: the query string is the event (percent-encoded as bytes, surrogates as their UTF-8)."""
    encoded = "&".join(f"{_q(k)}={_q(v)}" for k, v in query)
    response = fuzzed.client.get(f"{fuzzed.probe_url}?{encoded}")
    assert response.status_code < 500, response.text[:300]
    assert "Traceback" not in response.text


def _q(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


_QUERY_NAMES = st.one_of(
    st.sampled_from(["story_mode", "draft_id", "include_live_activity"]), _TEXT
)
_QUERY_VALUES = st.one_of(
    _TEXT,
    st.sampled_from(["TEST", "LIVE", "true", "false", "", "1" * 5000, "-0", "1e999", "nan"]),
    st.integers().map(str),
)
_STORY_IDS = st.one_of(
    st.sampled_from(["7981", "1" * 5000, "-1", "0", "007981", "7981.0", "", "%00"]),
    st.integers().map(str),
    _TEXT,
)


@_FUZZ
@given(story_id=_STORY_IDS, query=st.lists(st.tuples(_QUERY_NAMES, _QUERY_VALUES), max_size=4))
def test_fuzzed_story_queries(
    fuzzed: ServerProcess, story_id: str, query: list[tuple[str, str]]
) -> None:
    encoded = "&".join(f"{_q(k)}={_q(v)}" for k, v in query)
    url = f"/api/v1/stories/{_q(story_id)}?{encoded}"
    response = fuzzed.client.get(url, headers=AUTH)
    assert response.status_code < 500, (url[:200], response.text[:300])
    assert response.headers["content-type"] == "application/json"
    json.loads(response.content, parse_constant=_not_json)
    if response.status_code >= 400:
        assert_json_error(response)


_ACTION_NAMES = st.one_of(st.sampled_from(["page", "per_page", "story_id"]), _TEXT)


@_FUZZ
@given(query=st.lists(st.tuples(_ACTION_NAMES, _QUERY_VALUES), max_size=4))
def test_fuzzed_action_list_queries(fuzzed: ServerProcess, query: list[tuple[str, str]]) -> None:
    encoded = "&".join(f"{_q(k)}={_q(v)}" for k, v in query)
    response = fuzzed.client.get(f"/api/v1/actions?{encoded}", headers=AUTH)
    assert response.status_code < 500, (encoded[:200], response.text[:300])
    json.loads(response.content, parse_constant=_not_json)
    if response.status_code >= 400:
        assert_json_error(response)


def test_the_fuzzed_server_logged_no_traceback(fuzzed: ServerProcess) -> None:
    """Last in the module; the fixture's teardown then asks that SIGTERM stops the server."""
    assert_no_traceback(fuzzed)
