"""The reference over real HTTP: a uvicorn subprocess on a free port (see conftest.py)."""

from __future__ import annotations

import socket
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import tines_spec

from .conftest import API_KEY, ServerProcess, wait_until

JSON = {"content-type": "application/json"}
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def valid(schema: str, instance: Any, pointer: str = "") -> bool:
    return bool(tines_spec.validator(schema, pointer).is_valid(instance))


def assert_error(response: httpx.Response, status: int, *, webhook: bool) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert valid("error.schema.json", body)
    assert "Traceback" not in response.text
    if webhook:
        assert response.headers["x-tines-status"] == "error"
    return body


def poll_data(client: httpx.Client, url: str, deadline: float = 10) -> httpx.Response:
    return wait_until(lambda: client.get(url), lambda r: r.status_code != 202, deadline=deadline)


# ---------------------------------------------------------------------------- the seed's examples
def test_seed_convention_example_from_the_templating_story(server: ServerProcess) -> None:
    db = Path(server.profile_path.parent / "db.sqlite3")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        secret = conn.execute(
            "SELECT value FROM settings WHERE key = 'webhook_secret:8003'"
        ).fetchone()[0]
    response = server.client.post(f"/webhook/2b4d6f8a0c1e43a5b7c9d1e3f5a7b9c1/{secret}", json={})
    assert response.status_code == 202
    assert response.reason_phrase == "Accepted"
    assert response.headers["x-tines-story"] == "My Story"
    assert response.headers["x-tines-change-control-test"] == "true"
    assert response.json() == {"random_number": "The generated random number is 4"}
    assert response.headers["x-tines-status"] == "data_received"
    assert response.headers["x-tines-exit-action-id"] == "80033"


def test_seed_convention_example_through_the_probe(server: ServerProcess) -> None:
    payload = {
        "status": "202",
        "headers": {"X-Tines-Story": "My Story", "X-Tines-Change-Control-Test": True},
        "body": {"random_number": "The generated random number is 4"},
    }
    response = server.probe(payload)
    assert response.status_code == 202
    assert response.headers["x-tines-story"] == "My Story"
    assert response.headers["x-tines-change-control-test"] == "true"
    assert response.json() == payload["body"]
    assert "x-tines-limit-reached" not in response.headers


def test_seed_csv_example(server: ServerProcess) -> None:
    data = [["1", "2", "3"], ["4", "5", "6"]]
    as_json = server.probe(data, headers={"Accept": "application/json"})
    assert as_json.json() == data
    as_csv = server.probe(data, headers={"Accept": "text/csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.content == b"1,2,3\r\n4,5,6\r\n"


def test_seed_timeout_example_and_the_response_url(server: ServerProcess) -> None:
    payload = {"status": 201, "body": {"late": True}}
    # A client's X-Forwarded-* does not choose the response URL's origin (`--public-url` does).
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    response = server.probe(payload, delay=3.3, headers=forwarded)
    assert response.status_code == 504
    body = response.json()
    assert body["limit_reached"] == "time"
    assert valid("timeout-body.schema.json", body)
    assert response.headers["x-tines-status"] == "ok"
    assert response.headers["x-tines-limit-reached"] == "time"
    assert response.headers["x-tines-response-location"] == body["response_url"]
    assert body["response_url"].startswith(server.probe_url + "/")

    before = server.client.get(body["response_url"])
    assert before.status_code == 202
    assert before.headers["x-tines-status"] == "ok"
    assert before.headers["retry-after"] == "1"
    assert before.json() == {"status": "pending", "response_url": body["response_url"]}
    assert valid("pending-body.schema.json", before.json())

    after = poll_data(server.client, body["response_url"])
    assert after.status_code == 200
    assert after.json() == payload  # the whole payload: the convention shapes live answers only
    assert after.headers["x-tines-status"] == "data_received"
    assert after.headers["x-tines-exit-action-id"] == "80013"
    assert after.headers["x-tines-event-id"]

    # The same response ID under another secret or another story names no run.
    url = body["response_url"]
    assert_error(server.client.get(server.probe_url + "/0123abcd"), 404, webhook=True)
    wrong_secret = url.replace(urlsplit(server.probe_url).path.split("/")[3], "0" * 32)
    assert_error(server.client.get(wrong_secret), 404, webhook=True)
    other_story = f"{urlsplit(server.race_url).path}/{url.rsplit('/', 1)[1]}"
    assert_error(server.client.get(other_story), 404, webhook=True)


@pytest.mark.parametrize("delay", [-5, "x"])
def test_a_failed_run_ends_at_once_and_its_response_url_agrees(
    server: ServerProcess, delay: Any
) -> None:
    response = server.client.post(server.probe_url, json={"exit": 1, "delay_seconds": delay})
    # Answered before the 3 s exit timeout could have passed: the run is over, not pending.
    assert response.elapsed.total_seconds() < 2
    body = assert_error(response, 422, webhook=True)
    assert "delay" in body["errors"][0]["message"]
    url = response.headers["x-tines-response-location"]
    assert url.startswith(server.probe_url + "/")
    later = server.client.get(url)
    assert later.status_code == 410
    assert later.headers["x-tines-status"] == "error"
    assert "retry-after" not in later.headers
    assert later.json() == {"status": "failed", "response_url": url}
    assert valid("pending-body.schema.json", later.json())


# ---------------------------------------------------------------------------- webhook behaviour
def test_data_response_metadata(server: ServerProcess) -> None:
    first, second = server.probe({"n": 1}), server.probe({"n": 2})
    for response in (first, second):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-tines-status"] == "data_received"
        assert response.headers["x-tines-exit-action-id"] == "80013"
        assert "x-tines-limit-reached" not in response.headers
    assert first.headers["x-tines-event-id"] != second.headers["x-tines-event-id"]


def test_race_first_exit_wins_and_swaps(server: ServerProcess) -> None:
    def race(first: float, second: float) -> httpx.Response:
        body = {"token": "tok", "first_delay_seconds": first, "second_delay_seconds": second}
        return server.client.post(server.race_url, json=body)

    early_first, early_second = race(0, 0.3), race(0.3, 0)
    assert early_first.json() == {"exit": "first", "token": "tok"}
    assert early_second.json() == {"exit": "second", "token": "tok"}
    assert early_first.headers["x-tines-exit-action-id"] == "80023"
    assert early_second.headers["x-tines-exit-action-id"] == "80025"


def test_form_text_and_query_bodies_become_the_event(server: ServerProcess) -> None:
    form = server.client.post(server.probe_url, data={"exit": "from a form"})
    assert form.json() == "from a form"
    query = server.client.get(server.probe_url, params={"exit": "from a query"})
    assert query.json() == "from a query"
    text = server.client.post(
        server.probe_url, content=b"plain words", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 200
    assert text.json() is None  # the body is a string, so `webhook.body.exit` names nothing


def test_payload_headers_cannot_split_the_response(server: ServerProcess) -> None:
    payload = {
        "status": 200,
        "headers": {
            "X-Kept": "yes",
            "X-Evil": "a\r\nInjected: 1",
            "X-Evil-Name\r\nInjected": "1",
            "Content-Length": "1",
            "X-Tines-Status": "forged",
        },
        "body": {"ok": True},
    }
    response = server.probe(payload)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["x-kept"] == "yes"
    assert response.headers["x-tines-status"] == "data_received"
    assert "injected" not in response.headers
    assert "x-evil" not in response.headers

    # The raw bytes, as a client without header parsing sees them.
    import json

    host, port = urlsplit(server.base_url).hostname, urlsplit(server.base_url).port
    body = json.dumps({"exit": payload}).encode()
    request = (
        f"POST {urlsplit(server.probe_url).path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert not any(line.lower().startswith(b"injected") for line in lines)
    assert [line for line in lines if line.lower().startswith(b"content-length")] == [
        b"content-length: 11"
    ]
    assert rest == b'{"ok":true}'


def test_binary_body_and_content_disposition(server: ServerProcess) -> None:
    payload = {
        "status": "202",
        "headers": {
            "Content-Type": "application/pdf",
            "Content-Disposition": "attachment; filename=report.pdf",
        },
        "body": "JVBERi0xLjQK",
    }
    response = server.probe(payload, headers={"Accept": "text/plain"})
    assert response.status_code == 202
    assert response.content == b"%PDF-1.4\n"
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == "attachment; filename=report.pdf"


@pytest.mark.parametrize("status", [204, 304])
def test_no_content_statuses_send_no_body(server: ServerProcess, status: int) -> None:
    response = server.probe({"status": status, "headers": {"X-Kept": "1"}, "body": {"a": 1}})
    assert response.status_code == status
    assert response.content == b""
    assert response.headers["x-kept"] == "1"
    assert response.headers["x-tines-status"] == "data_received"


# ---------------------------------------------------------------------------- bad input
def test_malformed_input_gets_a_json_4xx(server: ServerProcess) -> None:
    client = server.client
    bad_json = client.post(server.probe_url, content=b'{"exit": ', headers=JSON)
    assert_error(bad_json, 400, webhook=True)
    nan = client.post(server.probe_url, content=b'{"exit": NaN}', headers=JSON)
    assert_error(nan, 400, webhook=True)
    huge = client.post(server.probe_url, content=b"x" * 70_000, headers=JSON)
    assert_error(huge, 413, webhook=True)

    def chunks() -> Any:
        for _ in range(20):
            yield b" " * 8192

    streamed = client.post(server.probe_url, content=chunks(), headers=JSON)
    assert_error(streamed, 413, webhook=True)
    assert_error(client.get("/no/such/route"), 404, webhook=False)
    assert_error(client.delete(server.probe_url), 405, webhook=True)
    assert_error(client.post("/api/v1/stories/7981", headers=AUTH), 405, webhook=False)
    wrong_secret = server.probe_url.rsplit("/", 1)[0] + "/" + "f" * 32
    assert_error(client.post(wrong_secret, json={"exit": 1}), 404, webhook=True)
    unknown_path = f"/webhook/{'a' * 32}/{'b' * 32}"
    assert_error(client.post(unknown_path, json={"exit": 1}), 404, webhook=True)
    binary = client.post(
        server.probe_url, content=b"\xff\xfe", headers={"content-type": "application/x-thing"}
    )
    assert_error(binary, 415, webhook=True)


# ---------------------------------------------------------------------------- concurrency
def test_burst_beyond_the_limit_gets_201_and_no_run_is_lost(server: ServerProcess) -> None:
    exits = [{"burst": i} for i in range(7)]
    with ThreadPoolExecutor(len(exits)) as pool:
        responses = list(pool.map(lambda e: server.probe(e, delay=0.6), exits))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 201}, statuses  # 0.6 s runs: none reaches the 3 s timeout
    assert statuses.count(201) >= len(exits) - 2 - 1, statuses  # 2 slots; one may free in time
    received = [r.json() for r in responses if r.status_code == 200]
    for response in responses:
        if response.status_code == 201:
            body = response.json()
            assert body["limit_reached"] == "concurrency"
            assert valid("limit-body.schema.json", body)
            assert response.headers["x-tines-status"] == "ok"
            assert response.headers["x-tines-limit-reached"] == "concurrency"
            assert response.headers["x-tines-response-location"] == body["response_url"]
            data = poll_data(server.client, body["response_url"])
            assert data.status_code == 200
            received.append(data.json())
    assert sorted(r["burst"] for r in received) == list(range(len(exits)))


# ---------------------------------------------------------------------------- Stories API
def test_auth(server: ServerProcess) -> None:
    client = server.client
    assert client.get("/api/v1/stories/7981", headers=AUTH).status_code == 200
    assert client.get("/api/v1/stories/7981", headers={"X-User-Token": API_KEY}).status_code == 200
    assert_error(client.get("/api/v1/stories/7981"), 401, webhook=False)
    wrong = {"Authorization": "Bearer not-the-key"}
    assert_error(client.get("/api/v1/stories/7981", headers=wrong), 401, webhook=False)
    assert_error(
        client.get("/api/v1/stories/7981", headers={"X-User-Token": "nope"}), 401, webhook=False
    )


def test_sample_story_and_its_versions(server: ServerProcess) -> None:
    def get(params: dict[str, str] | None = None) -> httpx.Response:
        return server.client.get("/api/v1/stories/7981", params=params, headers=AUTH)

    plain = get().json()
    assert valid("story.schema.json", plain, "/$defs/plain")
    assert (plain["name"], plain["guid"], plain["mode"]) == (
        "Simple story",
        "df1e838a18d20696120b41516497b017",
        "LIVE",
    )
    assert plain["tags"] == ["Tag 1", "Tag 2"]
    assert plain["recipients"] == [{"address": "test@example.com"}]
    test_mode = get({"story_mode": "TEST"}).json()
    assert test_mode["mode"] == "TEST"
    assert valid("story.schema.json", test_mode, "/$defs/plain")
    assert get({"story_mode": "LIVE"}).json()["mode"] == "LIVE"
    # An empty value is no value (STORY-PARAM-002): tapi's default call.
    assert get({"story_mode": "", "draft_id": "", "include_live_activity": ""}).json() == plain
    draft = get({"draft_id": "1234"}).json()
    assert (draft["draft_id"], draft["draft_name"]) == (1234, "Initial Draft")
    assert valid("story.schema.json", draft, "/$defs/plain")


@pytest.mark.parametrize(
    ("query", "status", "parameter"),
    [
        ({"story_mode": "live"}, 400, "story_mode"),
        ({"draft_id": "abc"}, 400, "draft_id"),
        ({"draft_id": "1.5"}, 400, "draft_id"),
        ({"draft_id": "999"}, 404, "draft_id"),
        ({"include_live_activity": "yes"}, 400, "include_live_activity"),
        ({"include_live_activity": "True"}, 400, "include_live_activity"),
    ],
)
def test_bad_parameters_name_the_parameter(
    server: ServerProcess, query: dict[str, str], status: int, parameter: str
) -> None:
    response = server.client.get("/api/v1/stories/7981", params=query, headers=AUTH)
    body = assert_error(response, status, webhook=False)
    assert body["errors"][0]["parameter"] == parameter


@pytest.mark.parametrize("story_id", ["99999", "abc", "-1", "7981.0"])
def test_unknown_story_is_404(server: ServerProcess, story_id: str) -> None:
    response = server.client.get(f"/api/v1/stories/{story_id}", headers=AUTH)
    assert_error(response, 404, webhook=False)


def test_every_story_validates(server: ServerProcess) -> None:
    for story_id in server.profile["stories"]["ids"]:
        response = server.client.get(f"/api/v1/stories/{story_id}", headers=AUTH)
        assert response.status_code == 200
        assert valid("story.schema.json", response.json(), "/$defs/plain")
        assert valid("story.schema.json", response.json(), "/$defs/stsEnabledHasReferrers")
    probe = server.client.get("/api/v1/stories/8001", headers=AUTH).json()
    assert (probe["api_enabled"], probe["api_entry_actions"], probe["api_exit_actions"]) == (
        True,
        [80011],
        [80013],
    )
    specific = server.client.get("/api/v1/stories/8002", headers=AUTH).json()
    assert specific["send_to_story_access"] == "SPECIFIC_TEAMS"
    assert specific["shared_team_slugs"]


def test_live_activity_reflects_runs_in_flight(server: ServerProcess) -> None:
    url = "/api/v1/stories/8001"
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(server.probe, "slow", 1.5)
        # Both at once: the run holds a slot, and its delay action is waiting.
        busy = wait_until(
            lambda: server.client.get(url, params={"include_live_activity": "true"}, headers=AUTH),
            lambda r: (
                r.json()["concurrent_runs_count"] >= 1
                and r.json()["pending_action_runs_count"] >= 1
            ),
            deadline=5,
        ).json()
        assert busy["tokens_used_percentage"] == 0.0
        assert valid("story.schema.json", busy, "/$defs/withLiveActivity")
        assert in_flight.result().status_code == 200
    idle = wait_until(
        lambda: server.client.get(url, params={"include_live_activity": "true"}, headers=AUTH),
        lambda r: r.json()["concurrent_runs_count"] == 0,
        deadline=5,
    ).json()
    assert idle["pending_action_runs_count"] == 0
    for params in ({}, {"include_live_activity": "false"}):
        plain = server.client.get(url, params=params, headers=AUTH).json()
        assert valid("story.schema.json", plain, "/$defs/plain")
        assert "concurrent_runs_count" not in plain


def test_the_written_profile_points_at_this_server(server: ServerProcess) -> None:
    profile = server.profile
    assert valid("profile.schema.json", profile)
    assert profile["target"] == {"base_url": server.base_url, "api_key_env": "TINES_API_KEY"}
    assert profile["webhooks"]["exit_timeout_seconds"] == 3
    assert profile["limits"]["concurrency"]["burst"] == 2 + 3
    assert profile["limits"]["concurrency"]["expected_limit"] == 2
    assert profile["stories"]["ids"][0] == 7981
    missing = server.client.get(f"/api/v1/stories/{profile['stories']['missing_id']}", headers=AUTH)
    assert missing.status_code == 404
    sts_id = profile["stories"]["send_to_story_enabled_id"]
    sts = server.client.get(f"/api/v1/stories/{sts_id}", headers=AUTH).json()
    assert sts["send_to_story_enabled"] is True
    assert sts["send_to_story_referring_story_ids"]
    assert server.profile_path.stat().st_mode & 0o077 == 0  # it holds webhook secrets
