"""What every hostile-input test asks of the reference afterwards, and the raw-socket client.

After any input: no 5xx the payload did not ask for, no traceback in the server's log, and the
server still answers a normal probe and a story GET. At the end: SIGTERM stops it quickly.
"""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

import tines_spec

from .conftest import API_KEY, ServerProcess

AUTH = {"Authorization": f"Bearer {API_KEY}"}
# How long SIGTERM may take with nothing in flight ("within a few seconds").
SIGTERM_SECONDS = 5.0


def asked_for(payload: Any, status: int) -> bool:
    """Whether an exit payload asks for this status (the status/body/headers convention)."""
    if not isinstance(payload, dict) or "status" not in payload or "body" not in payload:
        return False
    valid = tines_spec.validator("exit-payload.schema.json", "/$defs/validStatus")
    return bool(valid.is_valid(payload["status"])) and int(payload["status"]) == status


def assert_json_error(response: httpx.Response, low: int = 400, high: int = 499) -> None:
    """A 4xx (by default) with the spec's JSON error body."""
    assert low <= response.status_code <= high, (response.status_code, response.text[:200])
    assert response.headers["content-type"] == "application/json"
    assert tines_spec.validator("error.schema.json").is_valid(response.json())


def assert_still_serving(server: ServerProcess) -> None:
    """A normal probe and a story GET answer as usual, and the log holds no traceback."""
    probe = server.client.post(server.probe_url, json={"exit": {"still": "here"}}, timeout=10)
    assert (probe.status_code, probe.json()) == (200, {"still": "here"})
    story_id = server.profile["stories"]["ids"][0]
    story = server.client.get(f"/api/v1/stories/{story_id}", headers=AUTH, timeout=10)
    assert story.status_code == 200
    assert story.json()["id"] == story_id
    assert_no_traceback(server)


def assert_no_traceback(server: ServerProcess) -> None:
    log = server.stderr_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def assert_sigterm_stops(server: ServerProcess) -> None:
    started = time.monotonic()
    code = server.stop(timeout=SIGTERM_SECONDS)
    took = time.monotonic() - started
    assert code == 0, f"exit code {code} after {took:.1f} s (-9 means SIGTERM did not stop it)"
    assert took < SIGTERM_SECONDS


def raw_exchange(server: ServerProcess, data: bytes, wait: float) -> tuple[float, bytes, bool]:
    """Send raw bytes, read until the server closes: (seconds, bytes read, closed by the server).

    `closed` is False when `wait` passed with the connection still open: the server held it.
    """
    parts = urlsplit(server.base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    started = time.monotonic()
    received = b""
    with socket.create_connection((host, port), timeout=wait) as conn:
        conn.sendall(data)
        ends = started + wait
        while True:
            conn.settimeout(max(0.01, ends - time.monotonic()))
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                return time.monotonic() - started, received, False
            except ConnectionResetError:
                return time.monotonic() - started, received, True
            if not chunk:
                return time.monotonic() - started, received, True
            received += chunk


def status_of(raw: bytes) -> int:
    """The status code of the first response in raw bytes."""
    line = raw.split(b"\r\n", 1)[0].split(b" ")
    assert line[0].startswith(b"HTTP/1."), raw[:100]
    return int(line[1])


def body_of(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[1]
