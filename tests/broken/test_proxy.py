"""The broken-variant proxy against a tiny fake upstream: it forwards faithfully, rewrites the
upstream's URLs to its own, and each port applies its own variant's mutation only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import tines_spec

from .proxy import BrokenProxy, TargetPaths, bound_socket, serving, unchanged
from .variants import VARIANTS

PROBE = "/webhook/probe/secret"
KEY = "fake-key"


def fake_upstream(origin: str) -> Starlette:
    """Answers like the reference in miniature: the probe echoes its exit (504 when it waits),
    the response URL delivers, the Stories API echoes its query and checks the key."""

    async def probe(request: Request) -> JSONResponse:
        sent = await request.json()
        if sent.get("delay_seconds", 0) >= 1:
            url = f"{origin}{PROBE}/run-1"
            body = {"limit_reached": "time", "response_url": url}
            headers = {"X-Tines-Status": "ok", "X-Tines-Response-Location": url}
            return JSONResponse(body, status_code=504, headers=headers)
        headers = {"X-Tines-Status": "data_received", "X-Tines-Event-ID": uuid.uuid4().hex}
        exit_payload = sent["exit"]
        custom = exit_payload.get("headers") if isinstance(exit_payload, dict) else None
        for name, value in (custom or {}).items():
            if "\n" not in name + str(value):
                headers[name] = json.dumps(value) if not isinstance(value, str) else value
        return JSONResponse(sent["exit"], headers=headers)

    async def response_url(request: Request) -> JSONResponse:
        return JSONResponse({"run": request.path_params["rid"]}, headers={"X-Tines-Status": "ok"})

    async def story(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        return JSONResponse(
            {"id": int(request.path_params["sid"]), "query": dict(request.query_params)}
        )

    return Starlette(
        routes=[
            Route(PROBE, probe, methods=["POST"]),
            Route(PROBE + "/{rid}", response_url),
            Route("/api/v1/stories/{sid:int}", story),
        ]
    )


@pytest.fixture(scope="module")
def origins() -> Iterator[dict[str, str]]:
    upstream_socket = bound_socket()
    host, port = upstream_socket.getsockname()
    upstream = f"http://{host}:{port}"
    proxy = BrokenProxy(upstream, TargetPaths(PROBE, None), KEY, exit_timeout_seconds=1)
    names = ["control", *VARIANTS]
    found = {
        name: proxy.listen(name, VARIANTS[name].mutation if name in VARIANTS else unchanged)
        for name in names
    }
    with serving(fake_upstream(upstream), [upstream_socket]), serving(proxy, proxy.sockets):
        yield {"upstream": upstream, **found}


def post_probe(origin: str, exit_payload: object, delay: float = 0) -> httpx.Response:
    return httpx.post(
        origin + PROBE, json={"exit": exit_payload, "delay_seconds": delay}, timeout=10
    )


def test_control_forwards_the_answer_unchanged(origins: dict[str, str]) -> None:
    payload = {"status": 201, "body": ["a", 1]}
    direct = post_probe(origins["upstream"], payload)
    proxied = post_probe(origins["control"], payload)
    assert (proxied.status_code, proxied.json()) == (direct.status_code, direct.json())
    assert proxied.headers["x-tines-status"] == "data_received"


def test_urls_of_the_upstream_are_rewritten_to_the_variants_origin(origins: dict[str, str]) -> None:
    proxied = post_probe(origins["control"], {"late": True}, delay=1)
    assert proxied.status_code == 504
    url = proxied.json()["response_url"]
    assert url == f"{origins['control']}{PROBE}/run-1"
    assert proxied.headers["x-tines-response-location"] == url
    assert httpx.get(url, timeout=10).json() == {"run": "run-1"}


def test_each_port_applies_its_own_variant_only(origins: dict[str, str]) -> None:
    wrapped = post_probe(origins["WH-BODY-001:body_wrapped_in_data"], [1, 2])
    assert wrapped.json() == {"data": [1, 2]}
    assert post_probe(origins["control"], [1, 2]).json() == [1, 2]


def test_a_variant_keeps_its_memory_between_requests(origins: dict[str, str]) -> None:
    origin = origins["WH-META-006:event_id_repeated"]
    ids = {post_probe(origin, {"n": n}).headers["x-tines-event-id"] for n in range(3)}
    assert len(ids) == 1
    control_ids = {
        post_probe(origins["control"], {"n": n}).headers["x-tines-event-id"] for n in range(3)
    }
    assert len(control_ids) == 3


def test_a_request_mutation_changes_what_reaches_the_upstream(origins: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    story = httpx.get(
        origins["STORY-LIVE-002:live_activity_by_default"] + "/api/v1/stories/7", headers=headers
    )
    assert story.json() == {"id": 7, "query": {"include_live_activity": "true"}}


def test_auth_not_enforced_answers_200_without_a_key(origins: dict[str, str]) -> None:
    assert httpx.get(origins["control"] + "/api/v1/stories/7").status_code == 401
    story = httpx.get(origins["STORY-AUTH-003:auth_not_enforced"] + "/api/v1/stories/7")
    assert (story.status_code, story.json()["id"]) == (200, 7)


def test_header_injection_is_emitted_as_a_header_of_its_own(origins: dict[str, str]) -> None:
    payload = {"status": 200, "body": "x", "headers": {"X-A": "1\r\nX-Injected: yes"}}
    assert "x-injected" not in post_probe(origins["control"], payload).headers
    assert (
        post_probe(origins["WH-SAFE-001:header_injection_split"], payload).headers["x-injected"]
        == "yes"
    )


def test_every_variant_names_a_black_box_requirement_in_its_docstring() -> None:
    catalogue = tines_spec.catalogue()
    for variant in VARIANTS.values():
        assert variant.requirement in catalogue, variant.name
        assert catalogue[variant.requirement].verification == "black-box", variant.name
        assert variant.how.startswith(variant.requirement + ":"), variant.name
