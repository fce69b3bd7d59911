"""What a tenant controls is bounded: answer size, redirects, a malformed webhook action."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conformance.cli import main

Answer = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class FakeTenant:
    """A server on 127.0.0.1 that answers every request with the answer the test put first, and
    `conformance provision` run in-process against it."""

    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    url: str = ""
    answers: list[Answer] = field(default_factory=list)

    def provision(self) -> tuple[int, str]:
        """The exit code and what it printed to stderr."""
        self.monkeypatch.setenv("TINES_API_KEY", "fake-key-0123456789")
        out = self.tmp_path / "p.yaml"
        code = main(
            ["provision", "--tenant", self.url, "--team-id", "1", "--profile-out", str(out)]
        )
        return code, self.capsys.readouterr().err


@pytest.fixture
def fake_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[FakeTenant]:
    tenant = FakeTenant(tmp_path, monkeypatch, capsys)
    answers = tenant.answers

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
        tenant.url = f"http://127.0.0.1:{server.server_address[1]}"
        yield tenant
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


def test_an_oversized_answer_is_refused(fake_tenant: FakeTenant) -> None:
    answers = fake_tenant.answers
    answers.append(lambda h: _send(h, 201, b" " * (5 * 1024 * 1024)))
    code, err = fake_tenant.provision()
    assert code == 1
    assert "the answer passed" in err


def test_a_redirect_is_not_followed(fake_tenant: FakeTenant) -> None:
    answers = fake_tenant.answers
    answers.append(lambda h: _send(h, 302, b"", Location="http://127.0.0.1:9/elsewhere"))
    code, err = fake_tenant.provision()
    assert code == 1
    assert "POST /api/v1/stories/import: answered 302" in err


def test_a_webhook_whose_secret_would_change_the_url_is_refused(fake_tenant: FakeTenant) -> None:
    """A target hands back the URL's parts: one holding a `/` would point the suite elsewhere."""
    answers = fake_tenant.answers
    story = {"id": 5, "name": "Conformance probe", "guid": "a" * 32, "api_enabled": True}
    hook = {"type": "Agents::WebhookAgent", "options": {"path": "p", "secret": "../../x"}}

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "POST":
            _send(handler, 201, json.dumps(story).encode())
        else:
            _send(handler, 200, json.dumps({"agents": [hook]}).encode())

    answers.append(answer)
    code, err = fake_tenant.provision()
    assert code == 1
    assert "holds a '/'" in err
    assert 'already imported, and not in a profile: story 5 "Conformance probe"' in err
