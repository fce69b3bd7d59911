"""openapi-core validates a sample of the reference's real answers against the bundled spec.

openapi-core is the reference validator of the Python OpenAPI ecosystem; it reads
spec/openapi.bundled.json as a user's tool would, and judges each answer (status, headers,
media type, body) against the operation it belongs to. Binary answers (image/png,
application/pdf) included: they are what the `*/*` media range is there for.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.testing import MockRequest, MockResponse

from tests.reference.conftest import ServerProcess
from tines_spec.bundle import bundled_openapi_path

from .conftest import AUTH, WEBHOOK_CASES, story_queries

TIMEOUT = 10


@cache
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(bundled_openapi_path()))


def validate(response: requests.Response) -> None:
    openapi().validate_response(
        RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
    )


def test_every_story_answer_validates(reference: ServerProcess) -> None:
    queries = story_queries(reference.profile)
    for story_id, params in queries:
        url = f"{reference.base_url}/api/v1/stories/{story_id}"
        response = requests.get(url, params=params, headers=AUTH, timeout=TIMEOUT)
        assert response.status_code == 200, (story_id, params)
        validate(response)


@pytest.mark.parametrize(
    ("path", "params", "headers", "status"),
    [
        ("/api/v1/stories/7981", {}, {}, 401),
        ("/api/v1/stories/9003", {}, AUTH, 404),
        ("/api/v1/stories/7981", {"story_mode": "SANDBOX"}, AUTH, 400),
        ("/api/v1/stories/7981", {"include_live_activity": "maybe"}, AUTH, 400),
    ],
)
def test_story_errors_validate(
    reference: ServerProcess, path: str, params: dict[str, str], headers: Any, status: int
) -> None:
    url = reference.base_url + path
    response = requests.get(url, params=params, headers=headers, timeout=TIMEOUT)
    assert response.status_code == status
    validate(response)


@pytest.mark.parametrize(("label", "method", "accept", "body"), WEBHOOK_CASES)
def test_webhook_answers_validate(
    reference: ServerProcess, label: str, method: str, accept: str | None, body: Any
) -> None:
    headers = {"Accept": accept} if accept else {}
    if body is None:
        response = requests.get(reference.probe_url, params={"exit": "q"}, timeout=TIMEOUT)
    else:
        response = requests.request(
            method, reference.probe_url, json=body, headers=headers, timeout=TIMEOUT
        )
    validate(response)
    location = response.headers.get("x-tines-response-location")
    if location:  # the 504 and the failed run: their response URL's answer too
        validate(requests.get(location, timeout=TIMEOUT))


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("PUT", "/webhook/nope/nope", {"json": {"exit": 1}}, 404),
        ("POST", "/webhook/nope/nope", {"json": {"exit": 1}}, 404),
        ("POST", None, {"data": b"{bad", "headers": {"Content-Type": "application/json"}}, 400),
        ("POST", None, {"data": b"\xff\xfe", "headers": {"Content-Type": "text/plain"}}, 415),
    ],
)
def test_webhook_refusals_validate(
    reference: ServerProcess, method: str, path: str | None, kwargs: Any, status: int
) -> None:
    url = reference.probe_url if path is None else reference.base_url + path
    response = requests.request(method, url, timeout=TIMEOUT, **kwargs)
    assert response.status_code == status
    validate(response)


def test_an_unknown_response_id_validates(reference: ServerProcess) -> None:
    response = requests.get(reference.probe_url + "/0123abcd", timeout=TIMEOUT)
    assert response.status_code == 404
    validate(response)


def test_openapi_core_rejects_a_story_the_spec_forbids(reference: ServerProcess) -> None:
    """The validations above must be able to fail: the same story with a wrong type, a missing
    field and a bad timestamp is refused."""
    url = f"{reference.base_url}/api/v1/stories/7981"
    story = requests.get(url, headers=AUTH, timeout=TIMEOUT).json()
    story["id"] = "abc"
    del story["name"]
    story["created_at"] = "yesterday"
    request = MockRequest(reference.base_url, "get", "/api/v1/stories/7981", headers=AUTH)
    response = MockResponse(json.dumps(story).encode(), content_type="application/json")
    with pytest.raises(Exception, match="valid") as caught:
        openapi().validate_response(request, response)
    details = " ".join(str(e) for e in getattr(caught.value.__cause__, "schema_errors", []))
    for expected in ("'abc' is not of type 'integer'", "'name' is a required property"):
        assert expected in details
