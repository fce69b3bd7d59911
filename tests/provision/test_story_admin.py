"""The reference's story import, actions and delete routes, in process (no subprocess to start)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import tines_spec
from reference_impl.app import build_app, build_runtime, shutdown
from reference_impl.config import ServerConfig
from reference_impl.fixtures import builtin_fixtures

KEY = "admin-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


class AppClient:
    """Blocking calls into the app over httpx's ASGI transport, on a loop of the test's own:
    the engine's runs go on in that loop while a call waits for its answer."""

    def __init__(self) -> None:
        config = ServerConfig(db=":memory:", api_key=KEY, exit_timeout=5, max_body_bytes=64 * 1024)
        self.runtime = build_runtime(config, builtin_fixtures())
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(app=build_app(self.runtime))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://reference.test")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(shutdown(self.runtime))
        self.loop.close()


@pytest.fixture
def client() -> Iterator[AppClient]:
    test_client = AppClient()
    try:
        yield test_client
    finally:
        test_client.close()


def _export(name: str = "probe", path: str = "p" * 32, secret: str = "s" * 32) -> dict[str, Any]:
    data = tines_spec.story_export(name)
    data["agents"][0]["options"].update(path=path, secret=secret)
    return data


def _import(client: AppClient, data: Any, **extra: Any) -> Any:
    body = {"new_name": "Imported probe", "data": data, "team_id": 1, "mode": "new", **extra}
    return client.post("/api/v1/stories/import", json=body, headers=AUTH)


def test_import_answers_the_new_story_and_its_webhook_runs(client: AppClient) -> None:
    answer = _import(client, _export())
    assert answer.status_code == 201
    story = answer.json()
    assert tines_spec.validator("story.schema.json", "/$defs/plain").is_valid(story)
    assert (story["name"], story["team_id"], story["api_enabled"]) == ("Imported probe", 1, True)
    got = client.get(f"/api/v1/stories/{story['id']}", headers=AUTH).json()
    assert got == story
    actions = client.get("/api/v1/actions", params={"story_id": story["id"]}, headers=AUTH).json()
    names = [(a["name"], a["type"]) for a in actions["agents"]]
    assert names == [
        ("webhook", "Agents::WebhookAgent"),
        ("wait", "Agents::EventTransformationAgent"),
        ("exit", "Agents::EventTransformationAgent"),
    ]
    webhook = actions["agents"][0]
    assert (webhook["options"]["path"], webhook["options"]["secret"]) == ("p" * 32, "s" * 32)
    assert webhook["guid"] == tines_spec.story_export("probe")["agents"][0]["guid"]
    assert story["api_exit_actions"] == [actions["agents"][2]["id"]]
    run = client.post(f"/webhook/{'p' * 32}/{'s' * 32}", json={"exit": [1, {"a": None}]})
    assert run.status_code == 200
    assert run.json() == [1, {"a": None}]


def test_delete_forgets_the_story_and_its_webhook(client: AppClient) -> None:
    story = _import(client, _export()).json()
    assert client.delete(f"/api/v1/stories/{story['id']}", headers=AUTH).status_code == 204
    assert client.get(f"/api/v1/stories/{story['id']}", headers=AUTH).status_code == 404
    assert client.post(f"/webhook/{'p' * 32}/{'s' * 32}", json={"exit": 1}).status_code == 404
    again = client.delete(f"/api/v1/stories/{story['id']}", headers=AUTH)
    assert again.status_code == 404
    # The path is free again.
    assert _import(client, _export()).status_code == 201


def test_a_built_in_story_cannot_be_deleted(client: AppClient) -> None:
    answer = client.delete("/api/v1/stories/8001", headers=AUTH)
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["message"].startswith("a built-in story")
    assert client.get("/api/v1/stories/8001", headers=AUTH).status_code == 200


def test_the_built_in_probe_reads_back_as_its_export_file(client: AppClient) -> None:
    agents = client.get("/api/v1/actions", params={"story_id": 8001}, headers=AUTH).json()["agents"]
    exported = tines_spec.story_export("probe")["agents"]
    assert [a["guid"] for a in agents] == [a["guid"] for a in exported]
    assert [a["options"] for a in agents[1:]] == [a["options"] for a in exported[1:]]
    # The webhook's secret is this database's, never the file's public placeholder.
    assert agents[0]["options"]["secret"] != exported[0]["options"]["secret"]


def test_a_second_import_keeps_guids_unique(client: AppClient) -> None:
    first = _import(client, _export(path="a" * 32)).json()
    second = _import(client, _export(path="b" * 32)).json()
    assert first["id"] != second["id"]
    assert first["guid"] != second["guid"]


def test_actions_are_paged(client: AppClient) -> None:
    everything = client.get("/api/v1/actions", params={"per_page": 500}, headers=AUTH).json()
    page = client.get("/api/v1/actions", params={"per_page": 2, "page": 2}, headers=AUTH).json()
    assert page["agents"] == everything["agents"][2:4]
    assert page["meta"]["count"] == everything["meta"]["count"]
    assert page["meta"]["previous_page"] == 1


def _broken_probe() -> dict[str, Any]:
    data = copy.deepcopy(_export())
    data["agents"][2]["options"]["mode"] = "explode"
    return data


@pytest.mark.parametrize(
    ("request_body", "status", "text"),
    [
        ({"data": _export(), "team_id": 1, "mode": "versionReplace"}, 400, "mode new only"),
        ({"data": _export(), "team_id": 1, "mode": "sideways"}, 400, "mode must be"),
        ({"data": "x", "team_id": 1}, 400, "data must be"),
        ({"data": _export(), "team_id": "one"}, 400, "team_id must be"),
        ({"data": _export(), "team_id": 1, "new_name": " "}, 400, "new_name must be"),
        ({"data": _broken_probe(), "team_id": 1}, 400, 'agents[2] "exit"'),
        ({"data": _export(path="4f2d9a1c7e3b48a6b0c5d8e1f2a3b4c5"), "team_id": 1}, 409, "path"),
        (["not", "an", "object"], 400, "JSON object"),
    ],
)
def test_a_bad_import_is_a_4xx_that_says_why(
    client: AppClient, request_body: Any, status: int, text: str
) -> None:
    answer = client.post("/api/v1/stories/import", json=request_body, headers=AUTH)
    assert answer.status_code == status
    assert text in answer.json()["errors"][0]["message"]


def test_bad_bodies_and_keys(client: AppClient) -> None:
    no_key = client.post("/api/v1/stories/import", json={"data": _export(), "team_id": 1})
    assert no_key.status_code == 401
    assert client.get("/api/v1/actions").status_code == 401
    assert client.delete("/api/v1/stories/8001").status_code == 401
    not_json = client.post("/api/v1/stories/import", content=b"{", headers=AUTH)
    assert not_json.status_code == 400
    huge = client.post("/api/v1/stories/import", content=b" " * (65 * 1024), headers=AUTH)
    assert huge.status_code == 413
    bad_page = client.get("/api/v1/actions", params={"per_page": 501}, headers=AUTH)
    assert bad_page.status_code == 400
    assert bad_page.json()["errors"][0]["parameter"] == "per_page"
