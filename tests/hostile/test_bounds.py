"""The bounds of one request (size, time, origin) and the redaction of every form of a secret,
each against a small hostile server or text, without a whole run of the suite."""

from __future__ import annotations

import base64
import html
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from conformance import redaction
from conformance.errors import ProfileError
from conformance.http import AsyncTargetClient, TargetClient
from conformance.profile import load_profile
from tests.hostile.servers import HostileTarget, serving
from tests.hostile.test_hostile_targets import API_KEY_ENV, leaks, write_profile
from tests.support.suite_process import run_suite_command


@pytest.fixture
def clean_redaction() -> Iterator[None]:
    redaction.clear()
    yield
    redaction.clear()


def _client_for(tmp_path: Path, base_url: str, **safety: Any) -> TargetClient:
    path = write_profile(tmp_path, base_url, "secret" + secrets.token_hex(12))
    profile = load_profile(path)
    if safety:
        import dataclasses

        profile = dataclasses.replace(profile, safety=dataclasses.replace(profile.safety, **safety))
    return TargetClient(profile, "run")


def test_a_huge_answer_is_cut_at_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_redaction: None
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "key-" + secrets.token_hex(16))
    with serving(HostileTarget("huge", door=False)) as target:
        client = _client_for(tmp_path, target.base_url, max_response_bytes=1024 * 1024)
        with client:
            undeclared = client.get_story(1)  # until close
            declared = client.probe({"x": 1})  # Content-Length: 3 GB
    for exchange in (undeclared, declared):
        assert exchange.response is None
        assert exchange.error is not None
        assert exchange.error.startswith("answer larger than 1048576 bytes (HTTP 200)")


def test_a_trickle_of_headers_ends_within_the_answer_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_redaction: None
) -> None:
    """A status line a byte every half second: each read returns in time, so only a budget for
    the whole answer ends it (sync and async clients alike)."""
    monkeypatch.setenv(API_KEY_ENV, "key-" + secrets.token_hex(16))
    with serving(HostileTarget("trickle", door=False)) as target:
        client = _client_for(tmp_path, target.base_url)
        started = time.monotonic()
        with client:
            exchange = client.get_story(1)
        took = time.monotonic() - started
        assert exchange.error is not None
        assert exchange.error.startswith("no complete answer within 1 s of its first byte")
        # 1 s after the first byte, plus a read's worth of slack on a loaded machine.
        assert took < 4

        async def one() -> str | None:
            async_client = AsyncTargetClient(client.profile, "run")
            try:
                return (await async_client.get_story(1)).error
            finally:
                await async_client.aclose()

        import asyncio

        error = asyncio.run(one())
    assert error is not None
    assert error.startswith("no complete answer within 3 s")


def test_a_url_on_another_origin_is_not_fetched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_redaction: None
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "key-" + secrets.token_hex(16))
    with (
        serving(HostileTarget("echo", door=False)) as elsewhere,
        serving(HostileTarget("foreign", foreign_url=elsewhere.base_url, door=False)) as target,
    ):
        client = _client_for(tmp_path, target.base_url)
        with client:
            redirected = client.get_story(1)
            polls = client.poll_response_url(f"{elsewhere.base_url}/r/1", deadline_seconds=30)
        host = urlsplit(elsewhere.base_url).netloc
        allowed = _client_for(tmp_path, target.base_url, allowed_hosts=(host,))
        with allowed:
            fetched = allowed.request("GET", f"{elsewhere.base_url}/r/1")
    # A redirect is the answer: its Location is not followed.
    assert redirected.response is not None
    assert redirected.response.status == 302
    # The poll gives up at once, with the reason, and sends nothing.
    assert len(polls) == 1
    assert polls[0].error is not None
    assert "outside the target's origin" in polls[0].error
    assert elsewhere.requests == 1  # the allowed host's request, and only it
    assert fetched.response is not None


def _encodings(value: str) -> list[str]:
    raw = value.encode()
    return [
        value,
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
    ]


def test_every_form_of_a_secret_is_masked(clean_redaction: None) -> None:
    key = "key/+" + secrets.token_urlsafe(18) + '&"x'
    redaction.register_api_key(key)
    carriers = [key, f"Bearer {key}", f"Authorization: Bearer {key}\r\nHost: h"]
    for prefix in ("", "a", "ab"):
        for carrier in carriers:
            for form in _encodings(prefix + carrier):
                text = f"echo: {form} end"
                cleaned = redaction.redact(text)
                assert not leaks(cleaned.encode(), {key}), (prefix, carrier, form)
    assert redaction.redact(f"<p>{html.escape(key)}</p>") == "<p>***</p>"


def test_a_short_secret_never_eats_a_word(clean_redaction: None) -> None:
    redaction.register_webhook_url("https://t.example/webhook/probe/wrong")
    title = "A missing or wrong API key answers 401"
    assert redaction.redact(title) == title
    assert redaction.redact("POST https://t.example/webhook/probe/wrong?x=1") == (
        "POST https://t.example/webhook/probe/***?x=1"
    )
    assert redaction.redact_headers([("X-Secret", "wrong"), ("X-Note", "wrong way")]) == [
        ("X-Secret", "***"),
        ("X-Note", "wrong way"),
    ]


def test_a_short_api_key_is_refused_naming_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_redaction: None
) -> None:
    monkeypatch.setenv(API_KEY_ENV, "wrong")
    profile = load_profile(write_profile(tmp_path, "http://127.0.0.1:9", "secret" + "0" * 24))
    with pytest.raises(ProfileError) as caught:
        profile.api_key()
    assert API_KEY_ENV in str(caught.value)
    assert "too short" in str(caught.value)
    # Registered at load all the same, it masks no word of prose.
    assert redaction.redact("a wrong key") == "a wrong key"


def test_conformance_run_with_a_short_key_exits_2_in_one_line(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "http://127.0.0.1:9", "secret" + "0" * 24)
    done = run_suite_command(
        "run", "--profile", str(profile), env={**os.environ, API_KEY_ENV: "wrong"}
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1
    assert f"{API_KEY_ENV} holds 5 characters" in done.stderr
