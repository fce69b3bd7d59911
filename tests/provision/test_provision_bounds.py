"""What a tenant controls is bounded: answer size, redirects, a malformed webhook action."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conformance.cli import main

Answer = Callable[[BaseHTTPRequestHandler], None]


@pytest.fixture
def fake_tenant() -> Iterator[tuple[str, list[Answer]]]:
    """A server on 127.0.0.1 that answers every request with the answer the test put first."""
    answers: list[Answer] = []

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            answers[0](self)

        do_GET = do_POST = do_DELETE = handle_one

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answers
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    for name, value in {"Content-Length": str(len(body)), **headers}.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


def _provision(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("TINES_API_KEY", "fake-key-0123456789")
    out = tmp_path / "p.yaml"
    return main(["provision", "--tenant", url, "--team-id", "1", "--profile-out", str(out)])


def test_an_oversized_answer_is_refused(
    fake_tenant: tuple[str, list[Answer]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, answers = fake_tenant
    answers.append(lambda h: _send(h, 201, b" " * (5 * 1024 * 1024)))
    assert _provision(url, tmp_path, monkeypatch) == 1
    assert "the answer passed" in capsys.readouterr().err


def test_a_redirect_is_not_followed(
    fake_tenant: tuple[str, list[Answer]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, answers = fake_tenant
    answers.append(lambda h: _send(h, 302, b"", Location="http://127.0.0.1:9/elsewhere"))
    assert _provision(url, tmp_path, monkeypatch) == 1
    assert "POST /api/v1/stories/import: answered 302" in capsys.readouterr().err


def test_a_webhook_whose_secret_would_change_the_url_is_refused(
    fake_tenant: tuple[str, list[Answer]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A target hands back the URL's parts: one holding a `/` would point the suite elsewhere."""
    url, answers = fake_tenant
    story = {"id": 5, "name": "Conformance probe", "guid": "a" * 32, "api_enabled": True}
    hook = {"type": "Agents::WebhookAgent", "options": {"path": "p", "secret": "../../x"}}

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "POST":
            _send(handler, 201, json.dumps(story).encode())
        else:
            _send(handler, 200, json.dumps({"agents": [hook]}).encode())

    answers.append(answer)
    assert _provision(url, tmp_path, monkeypatch) == 1
    err = capsys.readouterr().err
    assert "holds a '/'" in err
    assert 'already imported, and not in a profile: story 5 "Conformance probe"' in err
