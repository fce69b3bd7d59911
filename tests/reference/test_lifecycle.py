"""Start-up, restart, SIGTERM and crash: what the reference keeps across processes."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from reference_impl.app import build_app, build_runtime, shutdown
from reference_impl.cli import main
from reference_impl.config import ServerConfig
from reference_impl.fixtures import builtin_fixtures

from .conftest import API_KEY, ServerProcess, in_memory_runtime, wait_until


def test_restart_sigterm_and_crash_keep_every_response_url(tmp_path: Path) -> None:
    db = str(tmp_path / "data" / "runs.sqlite3")
    first = ServerProcess(tmp_path, db, "--exit-timeout", "1")
    finished = first.probe({"kept": True}, delay=1.2)
    assert finished.status_code == 504
    finished_url = finished.json()["response_url"]
    assert wait_until(
        lambda: first.client.get(finished_url), lambda r: r.status_code == 200, deadline=10
    ).json() == {"kept": True}
    in_flight = first.probe({"never": True}, delay=30)
    assert in_flight.status_code == 504
    in_flight_url = in_flight.json()["response_url"]
    assert first.client.get(in_flight_url).status_code == 202
    assert first.stop() == 0  # SIGTERM: a clean exit

    # The same port: the response URLs the first process handed out name it.
    port = urlsplit(first.base_url).port
    second = ServerProcess(tmp_path, db, "--exit-timeout", "1", "--port", str(port), api_key=None)
    try:
        assert (
            second.probe_url == first.probe_url
        )  # the secret is the database's, not the process's
        kept = second.client.get(finished_url)
        assert (kept.status_code, kept.json()) == (200, {"kept": True})
        assert kept.headers["x-tines-status"] == "data_received"
        abandoned = second.client.get(in_flight_url)
        assert abandoned.status_code == 410
        assert abandoned.headers["x-tines-status"] == "error"
        assert abandoned.json() == {"status": "abandoned", "response_url": in_flight_url}
        # Without a key the Stories API refuses everyone, and says so at start-up.
        assert second.client.get("/api/v1/stories/7981").status_code == 401
        crashed = second.probe({"crash": True}, delay=30)
        assert crashed.status_code == 504
        crashed_url = crashed.json()["response_url"]
    finally:
        second.process.send_signal(signal.SIGKILL)
        second.stop()
    assert "no API key configured" in second.stderr_path.read_text()

    # A third start, in-process (a subprocess costs seconds of imports): the crashed run is
    # found unfinished and marked abandoned; the finished one still answers.
    runtime = build_runtime(ServerConfig(db=db, api_key=API_KEY), builtin_fixtures())

    async def after_the_crash() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=build_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url=first.base_url) as client:
            crashed_status = (await client.get(urlsplit(crashed_url).path)).status_code
            finished_status = (await client.get(urlsplit(finished_url).path)).status_code
        await shutdown(runtime)
        return crashed_status, finished_status

    assert asyncio.run(after_the_crash()) == (410, 200)
    for log in tmp_path.glob("stderr-*.log"):
        text = log.read_text()
        assert API_KEY not in text
        assert first.probe_url.rsplit("/", 1)[1] not in text  # no webhook secret in the logs
        assert "Traceback" not in text


def test_malformed_fixture_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixtures = tmp_path / "stories.yaml"
    fixtures.write_text("stories:\n  - get: {id: 5}\n    webhook: {path: 'a b'}\n")
    code = main(["serve", "--fixtures", str(fixtures), "--db", ":memory:"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert str(fixtures) in lines[0]
    assert "stories[0].webhook.path" in lines[0]


async def poll_async(client: httpx.AsyncClient, url: str, deadline: float) -> httpx.Response:
    ends = time.monotonic() + deadline
    while (response := await client.get(url)).status_code == 202:
        assert time.monotonic() < ends, "no data within the deadline"
        await asyncio.sleep(0.05)
    return response


def test_in_memory_database_through_the_asgi_app() -> None:
    runtime, probe = in_memory_runtime(exit_timeout=2, api_key=API_KEY)
    url = runtime.webhook_url(probe, "http://testserver")

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=build_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post(url, json={"exit": {"a": 1}})
            assert (response.status_code, response.json()) == (200, {"a": 1})
            timed_out = await client.post(url, json={"exit": 2, "delay_seconds": 2.2})
            assert timed_out.status_code == 504
            response_url = timed_out.json()["response_url"]
            assert response_url.startswith(url + "/")
            assert (await poll_async(client, response_url, 5)).json() == 2
            story = await client.get("/api/v1/stories/8001", headers={"X-User-Token": API_KEY})
            assert story.json()["id"] == 8001
        await shutdown(runtime)

    asyncio.run(scenario())


def test_public_url_sets_the_absolute_urls() -> None:
    runtime, probe = in_memory_runtime(exit_timeout=0.2, public_url="https://tines.example")

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=build_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            url = runtime.webhook_url(probe, "http://testserver")
            response = await client.post(url, json={"exit": 1, "delay_seconds": 0.5})
            assert response.status_code == 504
            public = runtime.webhook_url(probe, "https://tines.example")
            assert response.json()["response_url"].startswith(public + "/")
        await shutdown(runtime)

    asyncio.run(scenario())


def test_an_unexpected_fault_is_a_json_500_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, probe = in_memory_runtime(exit_timeout=1, api_key=API_KEY)

    def broken_submit(story_id: int, event: object, loop: object = None) -> None:
        raise RuntimeError("engine fault with a detail the client must not see")

    monkeypatch.setattr(runtime.engine, "submit", broken_submit)

    async def scenario() -> httpx.Response:
        transport = httpx.ASGITransport(app=build_app(runtime), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post(
                runtime.webhook_url(probe, "http://testserver"), json={"exit": 1}
            )
        await shutdown(runtime)
        return response

    response = asyncio.run(scenario())
    assert response.status_code == 500
    assert response.json() == {"errors": [{"message": "internal server error"}]}
    assert response.headers["x-tines-status"] == "error"
    assert "detail" not in response.text
    # The fault the test made, not one of its own making (a submit that takes other arguments).
    assert [r.getMessage().split(" on ")[0] for r in caplog.records if r.levelname == "ERROR"] == [
        "unhandled RuntimeError"
    ]
