"""The hostile-input corpus: requests meant to break the reference, each answered 4xx with the JSON
error body (or as a normal answer), after which the server still serves and SIGTERM stops it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import tines_spec

from .conftest import ServerProcess
from .hostile import (
    AUTH,
    assert_json_error,
    assert_no_traceback,
    assert_sigterm_stops,
    assert_still_serving,
)

JSON = {"content-type": "application/json"}
_DIGITS_PAST_LIMIT = "1" * 5000  # Python's int-string limit is 4,300 digits


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the corpus; its teardown is the corpus's last assertion: SIGTERM stops it."""
    tmp = tmp_path_factory.mktemp("hostile")
    proc = ServerProcess(tmp, str(tmp / "db.sqlite3"), "--exit-timeout", "3")
    proc.client.timeout = 10  # a wedged server fails the test in seconds, not the default 20
    yield proc
    try:
        assert_no_traceback(proc)
    finally:
        assert_sigterm_stops(proc)  # it kills the server when SIGTERM does not stop it


# ------------------------------------------------------------------ webhook bodies
# Each is valid JSON by RFC 8259 but has no answer: a lone surrogate is no Unicode text (UTF-8
# cannot encode it, nor SQLite store it) and 1e999 overflows to a float JSON has no text for.
UNSTORABLE_BODIES = {
    "lone surrogate in exit": b'{"exit": "\\ud800", "delay_seconds": 0}',
    "lone low surrogate": b'{"exit": "a\\udfffb"}',
    "lone surrogate as a key": b'{"exit": {"\\udbff": 1}}',
    "lone surrogate in delay": b'{"exit": 1, "delay_seconds": "\\ud800"}',
    "overflowing float": b'{"exit": 1e999}',
    "overflowing negative float": b'{"exit": [-1e999]}',
    "overflowing delay": b'{"exit": 1, "delay_seconds": 1e400}',
    "NaN literal": b'{"exit": NaN}',
    "Infinity literal": b'{"exit": -Infinity}',
    "int past the int-string limit": b'{"exit": ' + _DIGITS_PAST_LIMIT.encode() + b"}",
    "deep nesting": b'{"exit": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
}


@pytest.mark.parametrize("body", UNSTORABLE_BODIES.values(), ids=UNSTORABLE_BODIES.keys())
def test_unstorable_webhook_bodies_are_client_errors(hostile: ServerProcess, body: bytes) -> None:
    response = hostile.client.post(hostile.probe_url, content=body, headers=JSON)
    assert_json_error(response)
    assert response.headers["x-tines-status"] == "error"
    assert_still_serving(hostile)


ANSWERABLE_BODIES: dict[str, tuple[bytes, Any]] = {
    "a surrogate pair is one character": (b'{"exit": "\\ud83d\\ude00"}', "\U0001f600"),
    "int at the int-string limit": (b'{"exit": ' + b"9" * 4300 + b"}", int("9" * 4300)),
    "largest float": (b'{"exit": 1.7976931348623157e308}', 1.7976931348623157e308),
    "float underflow is zero": (b'{"exit": 1e-999}', 0.0),
    "NUL in a string": (b'{"exit": "a\\u0000b"}', "a\x00b"),
}


@pytest.mark.parametrize(
    ("body", "expected"), ANSWERABLE_BODIES.values(), ids=ANSWERABLE_BODIES.keys()
)
def test_edge_values_that_have_an_answer_get_it(
    hostile: ServerProcess, body: bytes, expected: Any
) -> None:
    response = hostile.client.post(hostile.probe_url, content=body, headers=JSON)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected
    assert_still_serving(hostile)


def test_a_lone_surrogate_does_not_wedge_the_webhook_nor_sigterm(tmp_path: Path) -> None:
    """The case that once killed the store's writer: afterwards every webhook hung and SIGTERM
    no longer stopped the server. Its own server, so that the SIGTERM is the one after it."""
    proc = ServerProcess(tmp_path, str(tmp_path / "db.sqlite3"), "--exit-timeout", "3")
    try:
        proc.client.timeout = 10
        response = proc.client.post(
            proc.probe_url, content=b'{"exit": "\\ud800", "delay_seconds": 0}', headers=JSON
        )
        assert_json_error(response, 400, 400)
        assert_still_serving(proc)
    finally:
        assert_sigterm_stops(proc)
    assert_no_traceback(proc)


# ------------------------------------------------------------------ the Stories API
STORY_PATHS = {
    "story_id past the int-string limit": "/api/v1/stories/" + _DIGITS_PAST_LIMIT,
    "negative story_id past the limit": "/api/v1/stories/-" + _DIGITS_PAST_LIMIT,
    "story_id of non-ASCII digits": "/api/v1/stories/%D9%A7%D9%A9%D9%A8%D9%A1",
    "story_id of fullwidth digits": "/api/v1/stories/%EF%BC%97%EF%BC%99",
    "story_id with a lone surrogate's UTF-8": "/api/v1/stories/%ED%A0%80",
}


@pytest.mark.parametrize("path", STORY_PATHS.values(), ids=STORY_PATHS.keys())
def test_story_ids_no_story_can_have_are_not_found(hostile: ServerProcess, path: str) -> None:
    response = hostile.client.get(path, headers=AUTH)
    assert_json_error(response, 404, 404)
    assert_still_serving(hostile)


DRAFT_IDS = {
    "draft_id past the int-string limit": (_DIGITS_PAST_LIMIT, 404),
    "negative draft_id past the limit": ("-" + _DIGITS_PAST_LIMIT, 404),
    "draft_id of non-ASCII digits": ("\u0667\u0669", 400),
    "draft_id as a float": ("1e999", 400),
}


@pytest.mark.parametrize(("draft_id", "status"), DRAFT_IDS.values(), ids=DRAFT_IDS.keys())
def test_draft_ids_are_bounded(hostile: ServerProcess, draft_id: str, status: int) -> None:
    story_id = hostile.profile["stories"]["draft"]["story_id"]
    response = hostile.client.get(
        f"/api/v1/stories/{story_id}", params={"draft_id": draft_id}, headers=AUTH
    )
    assert_json_error(response, status, status)
    assert response.json()["errors"][0]["parameter"] == "draft_id"
    assert_still_serving(hostile)


# ------------------------------------------------------------------ HEAD
def _runs(proc: ServerProcess) -> int:
    db = proc.profile_path.parent / "db.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        count: int = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    return count


def test_head_on_a_webhook_starts_no_run(hostile: ServerProcess) -> None:
    """HEAD is safe (RFC 9110 section 9.2.1); the reference refuses it rather than run a story."""
    before = _runs(hostile)
    response = hostile.client.head(hostile.probe_url, params={"exit": "x"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST, PUT"
    assert response.headers["x-tines-status"] == "error"
    assert response.content == b""
    assert _runs(hostile) == before
    assert_still_serving(hostile)


# ------------------------------------------------------------------ CSV formula cells
FORMULA_CELLS = ["=1+1", "+1", "-1", "@SUM(A1)", '=HYPERLINK("http://x")', "\t=1", "\r=1"]


def test_csv_formula_cells_follow_the_stated_policy(hostile: ServerProcess) -> None:
    """The spec states the policy (formula-looking cells are data, sent as they are) and the
    reference follows it: the CSV reads back as exactly the exit data."""
    openapi = yaml.safe_load(tines_spec.openapi_path().read_text(encoding="utf-8"))
    csv_text = openapi["components"]["responses"]["ExitData"]["content"]["text/csv"]
    description = csv_text["schema"]["description"]
    assert "formula" in description
    assert "implementation-defined" in description
    matrix = [[cell, "plain"] for cell in FORMULA_CELLS]
    response = hostile.probe(matrix, headers={"accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.text, newline=""))) == matrix


# ------------------------------------------------------------------ the story admin routes
ADMIN_REQUESTS = {
    "delete a story_id past the int-string limit": ("DELETE", "/api/v1/stories/" + "1" * 5000),
    "delete a story_id of superscript digits": ("DELETE", "/api/v1/stories/%C2%B2"),
    "actions page past the int-string limit": ("GET", "/api/v1/actions?page=" + "1" * 5000),
    "actions per_page of superscript digits": ("GET", "/api/v1/actions?per_page=%C2%B2"),
    "actions story_id of fullwidth digits": ("GET", "/api/v1/actions?story_id=%EF%BC%97"),
}


@pytest.mark.parametrize(("method", "url"), ADMIN_REQUESTS.values(), ids=ADMIN_REQUESTS.keys())
def test_admin_ids_are_bounded(hostile: ServerProcess, method: str, url: str) -> None:
    response = hostile.client.request(method, url, headers=AUTH)
    assert_json_error(response)
    assert_still_serving(hostile)


def _import_body(**changes: Any) -> bytes:
    data = tines_spec.story_export("probe")
    data["agents"][0]["options"].update(path="q" * 32, secret="t" * 32)
    body = {"new_name": "Imported", "data": data, "team_id": 1, "mode": "new", **changes}
    return json.dumps(body).encode()


UNSTORABLE_IMPORTS = {
    "a lone surrogate in the name": _import_body(new_name="\ud800"),
    "an overflowing float": _import_body(team_id=1, data_extra=1e999).replace(
        b'"data_extra": Infinity', b'"data_extra": 1e999'
    ),
}


@pytest.mark.parametrize("body", UNSTORABLE_IMPORTS.values(), ids=UNSTORABLE_IMPORTS.keys())
def test_an_import_no_answer_can_carry_is_a_client_error(
    hostile: ServerProcess, body: bytes
) -> None:
    response = hostile.client.post("/api/v1/stories/import", content=body, headers=AUTH | JSON)
    assert_json_error(response)
    assert_still_serving(hostile)
