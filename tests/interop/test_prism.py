"""Stoplight Prism, proxy and mock, on the bundled spec.

Proxy: Prism sits between a client and the reference and reports, in an `sl-violations` header,
every way an answer departs from the document. Every reference answer must pass with none; a story
with a wrong type, a missing field and a bad timestamp must get all three. The bad story comes
from a small forwarding server in front of the reference that breaks one story ID only.

Mock: Prism answers from the document alone; its story is the Get document's sample, valid
against the spec's own schema.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import tines_spec
from tests.reference.conftest import ServerProcess
from tines_spec.bundle import bundled_openapi_path

from .conftest import AUTH, WEBHOOK_CASES, story_queries
from .prism import PrismProcess, prism_executable

BROKEN_STORY_ID = 424242
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "host"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def broken_story(reference: ServerProcess) -> bytes:
    url = f"{reference.base_url}/api/v1/stories/7981"
    story = httpx.get(url, headers=AUTH, timeout=10).json()
    story["id"] = "abc"
    del story["name"]
    story["created_at"] = "yesterday"
    return json.dumps(story).encode()


@pytest.fixture(scope="module")
def upstream(reference: ServerProcess) -> Iterator[str]:
    """The reference, except that story BROKEN_STORY_ID is answered broken."""
    broken = broken_story(reference)
    client = httpx.Client(base_url=reference.base_url, timeout=15)

    class Forward(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            if self.path.startswith(f"/api/v1/stories/{BROKEN_STORY_ID}"):
                status, headers, body = 200, [("content-type", "application/json")], broken
            else:
                length = int(self.headers.get("content-length") or 0)
                sent = client.request(
                    self.command,
                    self.path,
                    content=self.rfile.read(length) if length else None,
                    headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
                )
                status, body = sent.status_code, sent.content
                headers = [(k, v) for k, v in sent.headers.items() if k not in _HOP_BY_HOP]
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    client.close()


@pytest.fixture(scope="module")
def proxy(upstream: str) -> Iterator[PrismProcess]:
    prism_executable()  # skips (or, under CI, fails) with the reason when Prism is absent
    prism = PrismProcess("proxy", bundled_openapi_path(), upstream, free_port())
    yield prism
    prism.stop()


def violations(response: httpx.Response) -> list[dict[str, Any]]:
    """What Prism found wrong with the answer. Its findings on the request are left out: the
    401 test sends no key on purpose, which Prism rightly reports as the client's fault."""
    raw = response.headers.get("sl-violations")
    found: list[dict[str, Any]] = json.loads(raw) if raw else []
    return [v for v in found if v["location"][:1] == ["response"]]


def test_prism_proxy_reports_a_broken_story(proxy: PrismProcess) -> None:
    url = f"{proxy.base_url}/api/v1/stories/{BROKEN_STORY_ID}"
    found = violations(httpx.get(url, headers=AUTH, timeout=15))
    where = {".".join(map(str, v["location"])): v["code"] for v in found}
    assert where == {
        "response.body.id": "type",
        "response.body": "required",
        "response.body.created_at": "format",
    }, found


def test_prism_proxy_passes_every_story_answer(
    reference: ServerProcess, proxy: PrismProcess
) -> None:
    for story_id, params in story_queries(reference.profile):
        url = f"{proxy.base_url}/api/v1/stories/{story_id}"
        response = httpx.get(url, params=params, headers=AUTH, timeout=15)
        assert response.status_code == 200, (story_id, params)
        assert violations(response) == [], (story_id, params)
    for path, headers in (("/api/v1/stories/7981", {}), ("/api/v1/stories/9003", AUTH)):
        response = httpx.get(proxy.base_url + path, headers=headers, timeout=15)
        assert response.status_code in (401, 404)
        assert violations(response) == [], path


@pytest.mark.parametrize(("label", "method", "accept", "body"), WEBHOOK_CASES)
def test_prism_proxy_passes_every_webhook_answer(
    reference: ServerProcess,
    proxy: PrismProcess,
    label: str,
    method: str,
    accept: str | None,
    body: Any,
) -> None:
    url = proxy.base_url + urlsplit(reference.probe_url).path
    headers = {"Accept": accept} if accept else {}
    if body is None:
        response = httpx.get(url, params={"exit": "q"}, timeout=15)
    else:
        response = httpx.request(method, url, json=body, headers=headers, timeout=15)
    assert violations(response) == [], (label, response.status_code)
    location = response.headers.get("x-tines-response-location")
    if location:
        later = httpx.get(proxy.base_url + urlsplit(location).path, timeout=15)
        assert later.status_code in (200, 202, 410), label
        assert violations(later) == [], (label, later.status_code)


def test_prism_proxy_passes_the_webhook_refusals(
    reference: ServerProcess, proxy: PrismProcess
) -> None:
    """(A body that is not JSON is left out: Prism's proxy never forwards it, and never answers.)"""
    probe = urlsplit(reference.probe_url).path
    for method, path, status in (
        ("PUT", "/webhook/nope/nope", 404),
        ("POST", "/webhook/nope/nope", 404),
        ("GET", probe + "/0123abcd", 404),
    ):
        response = httpx.request(method, proxy.base_url + path, json={"exit": 1}, timeout=15)
        if method == "GET":
            response = httpx.get(proxy.base_url + path, timeout=15)
        assert response.status_code == status, path
        assert violations(response) == [], path


def test_prism_mock_answers_the_documents_sample_story() -> None:
    prism_executable()
    mock = PrismProcess("mock", bundled_openapi_path(), None, free_port())
    try:
        story = httpx.get(f"{mock.base_url}/api/v1/stories/7981", headers=AUTH, timeout=15)
        data = httpx.post(
            f"{mock.base_url}/webhook/p/s",
            json={"exit": 1},
            headers={"Accept": "application/json"},
            timeout=15,
        )
    finally:
        mock.stop()
    assert story.status_code == 200
    assert violations(story) == []
    assert tines_spec.validator("story.schema.json").is_valid(story.json())
    assert story.json()["name"] == "Simple story"
    assert (data.status_code, data.headers.get("x-tines-status")) == (200, "data_received")
    assert violations(data) == []
