"""Slow and stalled clients: the header and body timeouts close what they would hold, and what
is not HTTP gets the JSON error body. Raw sockets: httpx sends whole requests. Every test runs
on both protocols the server can serve: httptools, and h11 where httptools does not import."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

import tines_spec

from .conftest import ServerProcess
from .hostile import (
    AUTH,
    assert_no_traceback,
    assert_sigterm_stops,
    assert_still_serving,
    body_of,
    raw_exchange,
    status_of,
)

TIMEOUT = 1.0
# The longest a timed-out connection may stay open: the timeout and a loaded machine's slack.
# Without the timeouts the server holds these connections for ever, so any bound tells.
HELD = TIMEOUT + 4


@pytest.fixture(scope="module", params=["httptools", "h11"])
def slow(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("timeouts")
    env: dict[str, str] = {}
    if request.param == "h11":
        # An httptools that does not import, first on the path: the server falls back to h11.
        hidden = tmp / "no-httptools" / "httptools"
        hidden.mkdir(parents=True)
        (hidden / "__init__.py").write_text("raise ImportError('hidden for the h11 tests')\n")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(hidden.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
    proc = ServerProcess(
        tmp,
        str(tmp / "db.sqlite3"),
        "--exit-timeout",
        "3",
        "--header-timeout",
        str(TIMEOUT),
        "--body-timeout",
        str(TIMEOUT),
        env_extra=env,
    )
    assert f"parser {request.param}" in proc.stderr_path.read_text()
    yield proc
    try:
        assert_no_traceback(proc)
    finally:
        assert_sigterm_stops(proc)  # it kills the server when SIGTERM does not stop it


def _path(proc: ServerProcess) -> bytes:
    return urlsplit(proc.probe_url).path.encode()


def _assert_json_error(raw: bytes, status: int) -> None:
    assert status_of(raw) == status, raw[:200]
    assert b"content-type: application/json" in raw.lower()
    assert tines_spec.validator("error.schema.json").is_valid(json.loads(body_of(raw)))


def test_slow_headers_get_408_and_the_connection_closed(slow: ServerProcess) -> None:
    head = b"POST " + _path(slow) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    took, raw, closed = raw_exchange(slow, head, wait=HELD + 5)
    assert closed, f"still open after {took:.1f} s"
    assert took < HELD
    _assert_json_error(raw, 408)
    assert_still_serving(slow)


def test_a_connection_that_sends_nothing_is_closed(slow: ServerProcess) -> None:
    took, raw, closed = raw_exchange(slow, b"", wait=HELD + 5)
    assert closed, f"still open after {took:.1f} s"
    assert took < HELD
    _assert_json_error(raw, 408)


def test_a_body_shorter_than_its_content_length_gets_408(slow: ServerProcess) -> None:
    request = (
        b"POST " + _path(slow) + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n" + b'{"exit": '
    )
    took, raw, closed = raw_exchange(slow, request, wait=HELD + 5)
    assert closed, f"still open after {took:.1f} s"
    assert took < HELD
    _assert_json_error(raw, 408)
    assert b"x-tines-status: error" in raw.lower()
    assert_still_serving(slow)


@pytest.mark.parametrize("route", ["webhook", "story import"])
def test_a_client_that_leaves_mid_body_is_forgotten_without_an_error(
    slow: ServerProcess, route: str
) -> None:
    """The webhook reads its body itself, the import through Starlette: neither logs the leave."""
    target = _path(slow) if route == "webhook" else b"/api/v1/stories/import"
    request = (
        b"POST " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: " + AUTH["Authorization"].encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n" + b'{"exit": '
    )
    before = slow.stderr_path.read_text()
    parts = urlsplit(slow.base_url)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80)) as conn:
        conn.sendall(request)
    # The close reaches the one event loop before this probe's connection, whose answer takes
    # several turns of the loop more (a run, a commit) than the disconnect's handling.
    assert_still_serving(slow)
    after = slow.stderr_path.read_text()[len(before) :]
    assert " ERROR " not in after, after
    assert " WARNING " not in after, after


def test_an_unread_short_body_does_not_hold_the_connection(slow: ServerProcess) -> None:
    """The Stories API answers without reading a body; the rest of it has a deadline too."""
    request = (
        b"GET /api/v1/stories/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\npartial"
    )
    took, raw, closed = raw_exchange(slow, request, wait=HELD + 5)
    assert closed, f"still open after {took:.1f} s"
    assert took < HELD
    _assert_json_error(raw, 401)


def test_a_later_request_on_a_kept_alive_connection_has_a_header_deadline(
    slow: ServerProcess,
) -> None:
    first = b"GET /api/v1/stories/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    took, raw, closed = raw_exchange(slow, first + b"GET /api/v1/sto", wait=HELD + 5)
    assert closed, f"still open after {took:.1f} s"
    assert took < HELD
    assert status_of(raw) == 401
    assert b"HTTP/1.1 408 " in raw


NOT_HTTP = {
    "garbage": b"GARBAGE\r\n\r\n",
    "binary": bytes(range(256)) + b"\r\n\r\n",
    "content-length past the int-string limit": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n"
    ),
    "two content-lengths": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
    ),
    # Unfinished: h11 applies its size limit (--max-header-bytes) to a head still arriving.
    "head past the size limit": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000,
    "bad chunk size": (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
}


@pytest.mark.parametrize("request_bytes", NOT_HTTP.values(), ids=NOT_HTTP.keys())
def test_what_is_not_http_gets_400_with_the_json_error_body(
    slow: ServerProcess, request_bytes: bytes
) -> None:
    _, raw, closed = raw_exchange(slow, request_bytes, wait=HELD + 5)
    assert closed
    _assert_json_error(raw, 400)
    assert_still_serving(slow)
