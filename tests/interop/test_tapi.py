"""`tapi` (PyPI, a third-party Python wrapper of the Tines REST API) against the reference.

tapi builds `https://{domain}.tines.com/...` itself and has no base-URL option; it sends every
request through `httpx.request`, imported by name into `tapi.client.client` (the REST API) and
`tapi.api.tenant` (its webhook helper). The tests replace those two names with a function that
swaps tapi's scheme and host for the reference's and checks that tapi aimed at its own
`{domain}.tines.com`; everything else (path, query, headers, body) is tapi's own request.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from tapi import TenantAPI

from tests.reference.conftest import API_KEY, ServerProcess

from .conftest import AUTH, webhook_parts

DOMAIN = "conformance-reference"
LIVE_FIELDS = ("pending_action_runs_count", "concurrent_runs_count", "tokens_used_percentage")


@pytest.fixture
def sent(reference: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """tapi pointed at the reference; yields the URLs it sent, queries included."""
    urls: list[str] = []

    def local(method: str, url: str, **kwargs: Any) -> httpx.Response:
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname) == ("https", f"{DOMAIN}.tines.com"), url
        kwargs.pop("verify", None)
        local_url = reference.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        response = httpx.request(method, local_url, timeout=10, **kwargs)
        urls.append(str(response.request.url))  # with the query tapi passed as `params`
        return response

    # By module name: tapi's packages re-export classes under their modules' names.
    monkeypatch.setattr(sys.modules["tapi.client.client"], "request", local)
    monkeypatch.setattr(sys.modules["tapi.api.tenant"], "request", local)
    return urls


@pytest.fixture
def tenant(sent: list[str]) -> TenantAPI:
    return TenantAPI(DOMAIN, API_KEY)


def direct(reference: ServerProcess, story_id: int, **params: str) -> Any:
    url = f"{reference.base_url}/api/v1/stories/{story_id}"
    return httpx.get(url, params=params, headers=AUTH, timeout=10).json()


def queries(sent: list[str]) -> list[list[tuple[str, str]]]:
    return [parse_qsl(urlsplit(u).query, keep_blank_values=True) for u in sent]


def test_default_get_sends_an_empty_story_mode_and_succeeds(
    reference: ServerProcess, tenant: TenantAPI, sent: list[str]
) -> None:
    answer = tenant.stories.get(7981)
    assert queries(sent) == [[("story_mode", "")]]  # tapi's default call, as STORY-PARAM-002 says
    assert answer["status_code"] == 200, answer["body"]
    assert answer["body"] == direct(reference, 7981)


def test_every_story_through_tapi(reference: ServerProcess, tenant: TenantAPI) -> None:
    for story_id in reference.profile["stories"]["ids"]:
        answer = tenant.stories.get(story_id)
        assert answer["status_code"] == 200, (story_id, answer["body"])
        assert answer["body"]["id"] == story_id


@pytest.mark.parametrize("mode", ["LIVE", "TEST"])
def test_story_mode_through_tapi(tenant: TenantAPI, sent: list[str], mode: str) -> None:
    answer = tenant.stories.get(7981, story_mode=mode)
    assert queries(sent) == [[("story_mode", mode)]]
    assert (answer["status_code"], answer["body"]["mode"]) == (200, mode)


def test_draft_through_tapi(reference: ServerProcess, tenant: TenantAPI, sent: list[str]) -> None:
    draft = reference.profile["stories"]["draft"]
    answer = tenant.stories.get(draft["story_id"], draft_id=draft["draft_id"])
    assert ("draft_id", str(draft["draft_id"])) in queries(sent)[0]
    assert answer["status_code"] == 200, answer["body"]
    assert answer["body"]["draft_id"] == draft["draft_id"]


@pytest.mark.parametrize("live", [True, False])
def test_include_live_activity_through_tapi(tenant: TenantAPI, sent: list[str], live: bool) -> None:
    answer = tenant.stories.get(7981, include_live_activity=live)
    assert ("include_live_activity", str(live).lower()) in queries(sent)[0]
    assert answer["status_code"] == 200, answer["body"]
    assert all((name in answer["body"]) is live for name in LIVE_FIELDS)


def test_missing_story_and_wrong_key_through_tapi(
    reference: ServerProcess, sent: list[str]
) -> None:
    missing = TenantAPI(DOMAIN, API_KEY).stories.get(reference.profile["stories"]["missing_id"])
    assert missing["status_code"] == 404
    assert "errors" in missing["body"]
    refused = TenantAPI(DOMAIN, "not-the-key").stories.get(7981)
    assert refused["status_code"] == 401


def test_trigger_webhook_through_tapi(reference: ServerProcess, tenant: TenantAPI) -> None:
    """tapi's webhook helper always decodes the answer as JSON: a JSON exit payload works."""
    path, secret = webhook_parts(reference.probe_url)
    trigger: Callable[..., Any] = tenant.trigger_webhook
    answer = trigger(path, secret, method="POST", json={"exit": {"via": "tapi"}})
    assert answer == {"via": "tapi"}
