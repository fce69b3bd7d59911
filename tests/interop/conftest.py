"""One reference server for the interop tests, and the story answers they all look at.

The clients and tools here are third-party software (tapi, openapi-core, schemathesis's CLI,
Stoplight Prism); each is pointed at this server over HTTP, as a user would point it at a tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.reference.conftest import API_KEY, ServerProcess

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="package")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Exit timeout 1 s: the interop tests look at a 504 and its response URL, not at timing."""
    tmp = tmp_path_factory.mktemp("interop")
    proc = ServerProcess(tmp, ":memory:", "--exit-timeout", "1")
    yield proc
    assert proc.stop() == 0


def webhook_parts(url: str) -> tuple[str, str]:
    """(path, secret) of a webhook URL."""
    _, _, path, secret = urlsplit(url).path.split("/")
    return path, secret


def story_queries(profile: dict[str, Any]) -> list[tuple[int, dict[str, str]]]:
    """Every Get the reference can answer differently: each story plain, live, in each mode,
    with every parameter empty (tapi's default call), and the draft."""
    stories = profile["stories"]
    queries: list[tuple[int, dict[str, str]]] = []
    for story_id in stories["ids"]:
        queries += [
            (story_id, {}),
            (story_id, {"include_live_activity": "true"}),
            (story_id, {"include_live_activity": "false"}),
            (story_id, {"story_mode": "LIVE"}),
            (story_id, {"story_mode": "TEST"}),
            (story_id, {"story_mode": "", "draft_id": "", "include_live_activity": ""}),
        ]
    draft = stories["draft"]
    queries.append((draft["story_id"], {"draft_id": str(draft["draft_id"])}))
    return queries


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


# A 1x1 PNG, Base64 as a payload carries it (WH-CT-008).
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6"
    "kgAAAABJRU5ErkJggg=="
)

# (label, method, accept, probe request body): the webhook answers of every kind the contract
# has, each as the probe story gives it. `None` as body: a GET, whose query is the event.
WEBHOOK_CASES: list[tuple[str, str, str | None, Any]] = [
    ("json", "POST", None, {"exit": {"message": "hi", "n": [1, 2]}}),
    ("csv", "POST", "text/csv", {"exit": [{"a": 1, "b": "x,y"}, {"a": 2}]}),
    ("text", "POST", "text/plain", {"exit": "plain words"}),
    (
        "png",
        "POST",
        None,
        {"exit": {"status": 200, "headers": {"Content-Type": "image/png"}, "body": PNG}},
    ),
    (
        "pdf attachment",
        "POST",
        None,
        {
            "exit": {
                "status": 200,
                "headers": {
                    "Content-Type": "application/pdf",
                    "Content-Disposition": 'attachment; filename="a.pdf"',
                },
                "body": "JVBERi0xLjQK",
            }
        },
    ),
    ("convention 418", "POST", None, {"exit": {"status": 418, "body": {"teapot": True}}}),
    ("convention 201 text", "PUT", "text/plain", {"exit": {"status": 201, "body": "made"}}),
    ("failed run", "POST", None, {"exit": 1, "delay_seconds": -5}),
    ("timeout", "POST", None, {"exit": 1, "delay_seconds": 1.5}),
    ("query event", "GET", None, None),
]
