"""The Stories API's story GET, answered from the ASGI scope in front of Starlette.

`StoriesApi` serves `GET /api/v1/stories/{story_id}` from a cache of serialised stories, with
the live-activity fields from the engine's state; `authorised` and `integer_id` are shared with
the story admin routes.
"""

from __future__ import annotations

import hmac
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

import tines_spec
from reference_impl.error_answers import error_bytes
from reference_impl.fixtures import Story
from reference_impl.negotiation import render_json
from reference_impl.runtime import Runtime

__all__ = ["StoriesApi", "authorised", "integer_id"]

_DIGITS = re.compile(r"-?[0-9]+")


def authorised(headers: list[tuple[bytes, bytes]], api_key: bytes | None) -> bool:
    """Bearer or X-User-Token, compared in constant time; no key configured refuses everyone."""
    if api_key is None:
        return False
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), api_key):
                return True
        elif name == b"x-user-token" and hmac.compare_digest(value, api_key):
            return True
    return False


def _story_modes() -> list[str]:
    modes: list[str] = tines_spec.schema("story.schema.json")["properties"]["mode"]["enum"]
    return modes


class StoriesApi:
    """GET /api/v1/stories/{story_id} as a bare ASGI app in front of Starlette.

    The story GET is the hot path the benchmark measures against a raw ASGI app; Starlette's
    request and response objects and its middleware cost about half its throughput there. So this
    one endpoint reads the ASGI scope directly and answers from the cache of serialised stories;
    everything else (other methods on the path included, which get Starlette's 405) goes on to
    the Starlette app.
    """

    PREFIX = "/api/v1/stories/"
    # Paths under PREFIX that are routes of their own, not story IDs (GET on them gets 405).
    LITERAL_PATHS = frozenset({"import"})

    def __init__(self, runtime: Runtime, app: ASGIApp) -> None:
        self.runtime = runtime
        self.app = app
        self.modes = _story_modes()
        key = runtime.config.api_key
        self.api_key = key.encode("utf-8") if key is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            and scope["path"].startswith(self.PREFIX)
            and "/" not in scope["path"][len(self.PREFIX) :]
            and scope["path"][len(self.PREFIX) :] not in self.LITERAL_PATHS
        ):
            raw_id = scope["path"][len(self.PREFIX) :]
            status, body = self.answer(raw_id, scope["headers"], scope["query_string"])
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send(
                {"type": "http.response.body", "body": body if scope["method"] == "GET" else b""}
            )
            return
        await self.app(scope, receive, send)

    def answer(
        self, raw_id: str, headers: list[tuple[bytes, bytes]], query_string: bytes
    ) -> tuple[int, bytes]:
        runtime = self.runtime
        if not authorised(headers, self.api_key):
            return 401, error_bytes("a valid API key is required (Authorization: Bearer)")
        story_id = integer_id(raw_id)
        story = runtime.stories.get(story_id) if story_id is not None else None
        if story is None:
            return 404, error_bytes("story not found")
        # An empty value means "not given" (STORY-PARAM-002): what tapi sends by default.
        query = {
            k: v for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True) if v
        }
        mode = query.get("story_mode")
        if mode is not None and mode not in self.modes:
            return 400, error_bytes(
                f"story_mode must be one of {', '.join(self.modes)}", "story_mode"
            )
        raw_draft = query.get("draft_id")
        draft_id: int | None = None
        if raw_draft is not None:
            if not _DIGITS.fullmatch(raw_draft):
                return 400, error_bytes("draft_id must be an integer", "draft_id")
            draft_id = integer_id(raw_draft)
            if draft_id is None or draft_id not in story.drafts:
                return 404, error_bytes("draft not found", "draft_id")
        live = query.get("include_live_activity", "false")
        if live not in ("true", "false"):
            return 400, error_bytes(
                "include_live_activity must be true or false", "include_live_activity"
            )
        key = (story.id, mode, draft_id)
        body = runtime.story_bytes.get(key)
        if body is None:
            body = runtime.story_bytes[key] = render_json(story.record(mode, draft_id))
        if live == "true":
            # The cached object with the live fields spliced in before its closing brace.
            body = body[:-1] + b"," + render_json(_live_activity(runtime, story))[1:]
        return 200, body


def integer_id(text: str) -> int | None:
    """The integer an ID spells; None when it spells none, or one longer than Python's int-string
    limit (4,300 digits), which no story or draft can have: a fixture's IDs pass the same limit."""
    if not _DIGITS.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _live_activity(runtime: Runtime, story: Story) -> dict[str, Any]:
    """The spec's live fields (`tines_spec.live_activity_fields`), each by name from the engine's
    state now.

    A field the engine does not track is zero of its schema type: tokens_used_percentage is
    always 0.0, since the engine has no AI actions, so no story uses tokens. A story without a
    webhook never runs here, so its counts are zero.
    """
    engine = runtime.engine
    activity = engine.live_activity(story.id) if engine.has_story(story.id) else None
    properties = tines_spec.schema("story.schema.json")["properties"]
    values: dict[str, Any] = {}
    for name in tines_spec.live_activity_fields():
        zero = 0.0 if properties[name]["type"] == "number" else 0
        values[name] = getattr(activity, name, zero)
    return values
