"""The routes that change the reference's stories: import a story, read its actions, delete it.

The part of Tines' public API that `conformance provision` uses, so that provisioning the
reference is the path a tenant's user takes (spec/openapi.yaml, tag `provisioning`):

- `POST /api/v1/stories/import` `{new_name, data, team_id, folder_id?, mode}` imports a story
  export (`spec/schemas/story-export.schema.json`) through the story importer and answers the
  new story's Get record, 201. Only `mode: new` is implemented here.
- `GET /api/v1/actions?story_id=N` answers `{"agents": [...], "meta": {...}}`, each agent with its
  `id`, `type`, `name`, `guid`, `story_id`, `options` (a webhook's `path` and `secret` included:
  they make its URL), `sources` and `receivers`; `page` and `per_page` (20, at most 500) page it.
- `DELETE /api/v1/stories/{story_id}` deletes an imported story, 204. The built-in stories cannot
  be deleted (403): the suite's fixtures must outlive any client.

Implementation-defined here, where Tines' documents are silent: an imported story lives in memory
only (a restart forgets it); it keeps the export's GUID unless another story has it (then a new
one); a webhook path that another story uses is refused (409). Every answer needs the API key.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

import tines_spec
from reference_impl.error_answers import error_response
from reference_impl.fixtures import Story
from reference_impl.importer import AGENT_TYPES, ExportError, import_export
from reference_impl.negotiation import JSON_TYPE, render_json
from reference_impl.runtime import Runtime, WebhookEntry
from reference_impl.store import UnstorableError, payload_text
from reference_impl.stories_api import authorised, integer_id
from reference_impl.story_graph import StoryGraph
from reference_impl.webhook_body import finite_float

__all__ = ["story_admin_routes"]

FIRST_IMPORTED_ID = 9001
IMPORT_MODES = ("new", "versionReplace")
PER_PAGE = (20, 500)  # default, maximum: Tines' pagination elsewhere in its API
_USER_ID = 1  # the one user this server's one API key belongs to

Handler = Callable[[Request], Awaitable[Response]]


class _BadRequest(Exception):
    def __init__(self, status: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _json_body(request: Request, limit: int) -> Any:
    """The request's JSON, read no further than `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BadRequest(413, "the request body is too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _BadRequest(413, "the request body is too large")
        chunks.append(chunk)
    try:
        parsed = json.loads(b"".join(chunks), parse_float=finite_float)
    except (ValueError, RecursionError):
        raise _BadRequest(400, "the request body is not valid JSON") from None
    try:
        payload_text(parsed)  # a lone surrogate: no answer that echoes it could be encoded
    except UnstorableError as exc:
        raise _BadRequest(400, f"the request body cannot be used: {exc}") from None
    return parsed


def _integer(value: Any, parameter: str, *, minimum: int = 1) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        # ASCII only: str.isdigit() is true of "²", which int() refuses; so is a number past
        # Python's int-string limit (4,300 digits), which stays a string and is refused below.
        with contextlib.suppress(ValueError):
            value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _BadRequest(400, f"{parameter} must be an integer of at least {minimum}", parameter)
    return value


def _record(runtime: Runtime, story_id: int, graph: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The new story's Get record: the export's own fields, the graph's, and this server's."""
    exits = [a.id for a in graph.actions if a.kind == "exit"]
    entry = next(a.id for a in graph.actions if a.kind == "webhook")
    guid = graph.fields["guid"]
    if any(s.get.get("guid") == guid for s in runtime.stories.values()):
        guid = secrets.token_hex(16)
    now = _now()
    record: dict[str, Any] = {
        "name": request["new_name"],
        "user_id": _USER_ID,
        "description": graph.fields.get("description"),
        "keep_events_for": graph.fields.get("keep_events_for", 604800),
        "disabled": False,
        "priority": False,
        "send_to_story_enabled": False,
        "send_to_story_access_source": "OFF",
        "send_to_story_access": None,
        "shared_team_slugs": [],
        "entry_agent_id": entry,
        "exit_agents": exits,
        "send_to_story_skill_use_requires_confirmation": True,
        "team_id": request["team_id"],
        "tags": graph.fields.get("tags", []),
        "guid": guid,
        "slug": graph.fields.get("slug") or "imported_story",
        "created_at": now,
        "updated_at": now,
        "edited_at": now,
        "mode": "LIVE",
        "monitor_failures": False,
        "actions_with_monitoring": [],
        "recipients": [],
        "api_enabled": True,
        "api_entry_actions": [entry],
        "api_exit_actions": exits,
        "api_name": graph.fields.get("slug"),
        "id": story_id,
        "folder_id": request.get("folder_id"),
        "published": True,
        "change_control_enabled": False,
        "locked": False,
        "owners": [_USER_ID],
        "draft_id": None,
        "draft_name": None,
    }
    error = next(
        iter(tines_spec.validator("story.schema.json", "/$defs/plain").iter_errors(record)), None
    )
    if error is not None:
        field = ".".join(str(p) for p in error.absolute_path) or "(story)"
        raise _BadRequest(400, f"the imported story would be invalid at {field}: {error.message}")
    return record


def _import_request(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _BadRequest(400, "the request body must be a JSON object")
    mode = raw.get("mode", "new")
    if mode not in IMPORT_MODES:
        raise _BadRequest(400, f"mode must be one of {', '.join(IMPORT_MODES)}", "mode")
    if mode != "new":
        raise _BadRequest(400, "the reference implements mode new only", "mode")
    data = raw.get("data")
    if not isinstance(data, dict):
        raise _BadRequest(400, "data must be a story export object", "data")
    name = raw.get("new_name", data.get("name"))
    if not isinstance(name, str) or not name.strip():
        raise _BadRequest(400, "new_name must be a non-empty string", "new_name")
    request = {"new_name": name, "data": data, "team_id": _integer(raw.get("team_id"), "team_id")}
    if raw.get("folder_id") is not None:
        request["folder_id"] = _integer(raw["folder_id"], "folder_id")
    return request


class StoryAdmin:
    """The three handlers, over the runtime they change; which stories were imported."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.imported: set[int] = set()
        key = runtime.config.api_key
        self.api_key = key.encode("utf-8") if key is not None else None

    def guarded(self, handler: Callable[[Request], Awaitable[Response]]) -> Handler:
        async def answer(request: Request) -> Response:
            if not authorised(request.headers.raw, self.api_key):
                return error_response(401, "a valid API key is required (Authorization: Bearer)")
            try:
                return await handler(request)
            except _BadRequest as exc:
                return error_response(exc.status, exc.message, parameter=exc.parameter)

        return answer

    async def import_story(self, request: Request) -> Response:
        runtime = self.runtime
        wanted = _import_request(await _json_body(request, runtime.config.max_body_bytes))
        story_id = max([FIRST_IMPORTED_ID - 1, *runtime.stories]) + 1
        first_action = 1 + max(
            [0, *(a.id for s in runtime.stories.values() if s.graph for a in s.graph.actions)]
        )
        try:
            graph = import_export(wanted["data"], first_action_id=first_action)
        except ExportError as exc:
            raise _BadRequest(400, f"data: {exc}", "data") from None
        if graph.webhook_path in runtime.webhooks:
            raise _BadRequest(409, "another story's webhook has this path; give it a new one")
        record = _record(runtime, story_id, graph, wanted)
        engine_graph = StoryGraph(story_id, record["name"], False, graph.actions)
        story = Story(story_id, record, {}, {}, graph.webhook_path, engine_graph, None, graph.guids)
        runtime.stories[story_id] = story
        runtime.webhooks[graph.webhook_path] = WebhookEntry(story, graph.webhook_secret)
        runtime.engine.add_story(engine_graph)
        self.imported.add(story_id)
        return Response(render_json(record), 201, media_type=JSON_TYPE)

    async def delete_story(self, request: Request) -> Response:
        runtime = self.runtime
        raw = request.path_params["story_id"]
        story_id = integer_id(raw)
        story = runtime.stories.get(story_id) if story_id is not None else None
        if story is None:
            return error_response(404, "story not found")
        if story.id not in self.imported:
            return error_response(403, "a built-in story of the reference cannot be deleted")
        del runtime.stories[story.id]
        if story.webhook_path is not None:
            runtime.webhooks.pop(story.webhook_path, None)
        runtime.engine.remove_story(story.id)
        for key in [k for k in runtime.story_bytes if k[0] == story.id]:
            del runtime.story_bytes[key]
        self.imported.discard(story.id)
        return Response(status_code=204)

    def _agents(self, story: Story) -> list[dict[str, Any]]:
        if story.graph is None:
            return []
        out = []
        for action in story.graph.actions:
            options = dict(action.options)
            if action.kind == "webhook" and story.webhook_path is not None:
                options["path"] = story.webhook_path
                options["secret"] = self.runtime.webhooks[story.webhook_path].secret
            elif action.kind == "delay":
                options.setdefault("mode", "delay")
            elif action.kind in ("transform", "exit"):
                options.setdefault("mode", "message_only")
            out.append(
                {
                    "id": action.id,
                    "type": AGENT_TYPES[action.kind],
                    "name": action.name,
                    "guid": story.action_guids.get(action.id),
                    "story_id": story.id,
                    "disabled": False,
                    "options": options,
                    "sources": list(action.sources),
                    "receivers": [r.id for r in story.graph.receivers(action.id)],
                }
            )
        return out

    async def list_actions(self, request: Request) -> Response:
        query = request.query_params
        per_page = _integer(query.get("per_page", PER_PAGE[0]), "per_page")
        if per_page > PER_PAGE[1]:
            raise _BadRequest(400, f"per_page must be at most {PER_PAGE[1]}", "per_page")
        page = _integer(query.get("page", 1), "page")
        stories = sorted(self.runtime.stories.values(), key=lambda s: s.id)
        if query.get("story_id") is not None:
            story_id = _integer(query["story_id"], "story_id")
            stories = [s for s in stories if s.id == story_id]
        agents = [agent for story in stories for agent in self._agents(story)]
        pages = max(1, -(-len(agents) // per_page))
        body = {
            "agents": agents[(page - 1) * per_page : page * per_page],
            "meta": {
                "current_page": page,
                "previous_page": page - 1 if page > 1 else None,
                "next_page": page + 1 if page < pages else None,
                "per_page": per_page,
                "pages": pages,
                "count": len(agents),
            },
        }
        return Response(render_json(body), media_type=JSON_TYPE)


def story_admin_routes(runtime: Runtime) -> list[Route]:
    admin = StoryAdmin(runtime)
    return [
        Route("/api/v1/stories/import", admin.guarded(admin.import_story), methods=["POST"]),
        Route("/api/v1/actions", admin.guarded(admin.list_actions), methods=["GET"]),
        Route("/api/v1/stories/{story_id}", admin.guarded(admin.delete_story), methods=["DELETE"]),
    ]
