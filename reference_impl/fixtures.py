"""Story definitions: the Stories API's Get fields, their TEST version and drafts, action graphs.

A fixture file is YAML: `stories:` a list of stories, each with

- `get`: every field of the Get answer for the LIVE version (validated against the spec's story
  schema at load time, so a fixture cannot make the server answer outside the contract);
- `versions`: optional, `{TEST: {fields that differ}}` (and LIVE, if the default is not LIVE);
- `drafts`: optional, a list of `{id, name, fields: {fields that differ}}`;
- `webhook`: optional, `{path, test_mode, role}`: the story is reachable at
  /webhook/{path}/{secret} (the secret is generated per database, never written in a fixture),
  runs as a test run (`<<META.story.is_test>>`) when test_mode is true, and is the profile's
  probe or race story when role is `probe` or `race`;
- `actions`: the action graph of a webhook story: `{id, name, kind, sources, options}`;
- `import`: instead of `actions` and `webhook.path`, the name of a story export file of
  `spec/stories/` (`probe`, `race`), read through the story importer (`importer.py`): the graph,
  the webhook's path and the export's own Get fields (name, description, guid, slug, tags,
  keep_events_for) come from the file, its actions numbered from `10 * id + 1`.

For a webhook story, the Get fields that describe the graph (entry_agent_id, exit_agents,
api_enabled, api_entry_actions, api_exit_actions) are derived from `actions`, so that they cannot
disagree with what runs.

Errors name the file and the field (`stories[2].actions[1].kind`); the CLI prints them on one line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml

import tines_spec
from reference_impl.importer import ExportError, ImportedGraph, import_export
from reference_impl.story_graph import ACTION_KINDS, Action, ActionKind, StoryGraph

__all__ = ["ROLES", "FixtureError", "Story", "builtin_fixtures", "load_fixtures"]

ROLES = ("probe", "race")
_WEBHOOK_PATH = re.compile(r"^[A-Za-z0-9_-]+$")


class FixtureError(ValueError):
    """A fixture file that cannot be used; `str()` is the one line the CLI prints."""

    def __init__(self, file: str, field: str, message: str) -> None:
        super().__init__(f"{file}: {field}: {message}")
        self.file = file
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Draft:
    id: int
    name: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class Story:
    id: int
    get: Mapping[str, Any]
    versions: Mapping[str, Mapping[str, Any]]
    drafts: Mapping[int, Draft]
    webhook_path: str | None
    graph: StoryGraph | None
    role: str | None = None
    # An imported story's action IDs -> the agents' GUIDs in its export file.
    action_guids: Mapping[int, str] = dataclass_field(default_factory=dict)

    def record(self, mode: str | None, draft_id: int | None) -> dict[str, Any]:
        """The Get answer for a mode and a draft, without live activity."""
        answer = dict(self.get)
        if mode is not None:
            answer.update(self.versions.get(mode, {}))
            answer["mode"] = mode
        if draft_id is not None:
            draft = self.drafts[draft_id]
            answer.update(draft.fields)
            answer["draft_id"] = draft.id
            answer["draft_name"] = draft.name
        return answer


def builtin_fixtures() -> list[Story]:
    source = resources.files("reference_impl").joinpath("fixtures", "builtin.yaml")
    return _parse(source.read_text(encoding="utf-8"), "builtin.yaml")


def load_fixtures(path: str | Path) -> list[Story]:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(name, "(file)", exc.strerror or "cannot be read") from None
    except UnicodeDecodeError:
        raise FixtureError(name, "(file)", "is not UTF-8 text") from None
    return _parse(text, name)


def _parse(text: str, file: str) -> list[Story]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise FixtureError(file, where, "is not valid YAML") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("stories"), list):
        raise FixtureError(file, "stories", "must be a list of stories")
    stories = [_story(file, f"stories[{i}]", entry) for i, entry in enumerate(raw["stories"])]
    seen: dict[Any, str] = {}
    for i, story in enumerate(stories):
        for key in (("id", story.id), ("path", story.webhook_path)):
            if key[1] is None:
                continue
            if key in seen:
                field = "id" if key[0] == "id" else "webhook.path"
                raise FixtureError(file, f"stories[{i}].{field}", f"repeats {seen[key]}")
            seen[key] = f"stories[{i}]"
    return stories


def _mapping(file: str, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FixtureError(file, where, "must be a mapping")
    return cast(dict[str, Any], value)


def _integer(file: str, where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FixtureError(file, where, "must be an integer")
    return value


def _story(file: str, where: str, entry: Any) -> Story:
    entry = _mapping(file, where, entry)
    get = dict(_mapping(file, f"{where}.get", entry.get("get")))
    story_id = _integer(file, f"{where}.get.id", get.get("id"))
    versions: dict[str, Mapping[str, Any]] = {}
    for mode, fields in _mapping(file, f"{where}.versions", entry.get("versions", {})).items():
        if mode not in tines_spec.schema("story.schema.json")["properties"]["mode"]["enum"]:
            raise FixtureError(file, f"{where}.versions.{mode}", "must be LIVE or TEST")
        versions[mode] = _mapping(file, f"{where}.versions.{mode}", fields)
    drafts: dict[int, Draft] = {}
    for i, draft in enumerate(entry.get("drafts") or []):
        at = f"{where}.drafts[{i}]"
        draft = _mapping(file, at, draft)
        name = draft.get("name")
        if not isinstance(name, str) or not name:
            raise FixtureError(file, f"{at}.name", "must be a non-empty string")
        draft_id = _integer(file, f"{at}.id", draft.get("id"))
        drafts[draft_id] = Draft(
            draft_id, name, _mapping(file, f"{at}.fields", draft.get("fields", {}))
        )

    webhook_path: str | None = None
    graph: StoryGraph | None = None
    role: str | None = None
    imported = _imported(file, where, entry, story_id)
    if imported is not None:
        get.update(imported.fields)
    if entry.get("webhook") is not None:
        webhook = _mapping(file, f"{where}.webhook", entry["webhook"])
        webhook_path = imported.webhook_path if imported else webhook.get("path")
        if not isinstance(webhook_path, str) or not _WEBHOOK_PATH.match(webhook_path):
            raise FixtureError(file, f"{where}.webhook.path", "must be letters, digits, _ or -")
        test_mode = webhook.get("test_mode", False)
        if not isinstance(test_mode, bool):
            raise FixtureError(file, f"{where}.webhook.test_mode", "must be true or false")
        role = webhook.get("role")
        if role not in (None, *ROLES):
            raise FixtureError(file, f"{where}.webhook.role", f"must be one of {', '.join(ROLES)}")
        actions = imported.actions if imported else _actions(file, where, entry.get("actions"))
        graph = StoryGraph(story_id, str(get.get("name")), test_mode, actions)
        exits = [a.id for a in graph.exits]
        get.update(
            entry_agent_id=graph.entry.id,
            exit_agents=exits,
            api_enabled=True,
            api_entry_actions=[graph.entry.id],
            api_exit_actions=exits,
        )
    guids = imported.guids if imported else {}
    story = Story(story_id, get, versions, drafts, webhook_path, graph, role, guids)
    _validate(file, where, story)
    return story


def _imported(file: str, where: str, entry: dict[str, Any], story_id: int) -> ImportedGraph | None:
    name = entry.get("import")
    if name is None:
        return None
    if name not in tines_spec.story_export_names():
        names = ", ".join(tines_spec.story_export_names())
        raise FixtureError(file, f"{where}.import", f"must name a file of spec/stories/ ({names})")
    if entry.get("webhook") is None or "actions" in entry:
        raise FixtureError(file, f"{where}.import", "needs `webhook` and replaces `actions`")
    try:
        return import_export(tines_spec.story_export(name), first_action_id=10 * story_id + 1)
    except ExportError as exc:
        raise FixtureError(f"spec/stories/{name}.json", exc.field, exc.message) from None


def _actions(file: str, where: str, raw: Any) -> tuple[Action, ...]:
    if not isinstance(raw, list) or not raw:
        raise FixtureError(file, f"{where}.actions", "a webhook story needs a list of actions")
    actions: list[Action] = []
    for i, item in enumerate(raw):
        at = f"{where}.actions[{i}]"
        item = _mapping(file, at, item)
        kind = item.get("kind")
        if kind not in ACTION_KINDS:
            raise FixtureError(file, f"{at}.kind", f"must be one of {', '.join(ACTION_KINDS)}")
        name = item.get("name")
        if not isinstance(name, str) or not name or name == "META":
            raise FixtureError(file, f"{at}.name", "must be a non-empty string other than META")
        sources = item.get("sources", [])
        if not isinstance(sources, list):
            raise FixtureError(file, f"{at}.sources", "must be a list of action ids")
        actions.append(
            Action(
                id=_integer(file, f"{at}.id", item.get("id")),
                name=name,
                kind=cast(ActionKind, kind),
                options=_mapping(file, f"{at}.options", item.get("options", {})),
                sources=tuple(_integer(file, f"{at}.sources", s) for s in sources),
            )
        )
    ids = {a.id for a in actions}
    if len(ids) != len(actions):
        raise FixtureError(file, f"{where}.actions", "action ids must be unique")
    if [a.kind for a in actions].count("webhook") != 1:
        raise FixtureError(file, f"{where}.actions", "needs exactly one webhook action")
    if not any(a.kind == "exit" for a in actions):
        raise FixtureError(file, f"{where}.actions", "needs at least one exit action")
    for i, action in enumerate(actions):
        if any(s not in ids for s in action.sources):
            raise FixtureError(file, f"{where}.actions[{i}].sources", "names an unknown action")
        if (action.kind == "webhook") != (not action.sources):
            raise FixtureError(
                file, f"{where}.actions[{i}].sources", "only the webhook action has no sources"
            )
    return tuple(actions)


def _validate(file: str, where: str, story: Story) -> None:
    """Every answer the story can give must match the spec's schema of a plain Get answer."""
    plain = tines_spec.validator("story.schema.json", "/$defs/plain")
    variants: list[tuple[str, str | None, int | None]] = [("get", None, None)]
    variants += [(f"versions.{m}", m, None) for m in story.versions]
    variants += [(f"drafts[{i}]", None, d) for i, d in enumerate(story.drafts)]
    for label, mode, draft_id in variants:
        error = next(iter(plain.iter_errors(story.record(mode, draft_id))), None)
        if error is not None:
            path = [str(p) for p in error.absolute_path]
            message = error.message
            if error.validator == "required" and isinstance(error.instance, dict):
                # Name the missing field itself rather than the object that lacks it.
                missing = [k for k in error.validator_value if k not in error.instance]
                path.append(missing[0])
                message = "is required"
            field = ".".join(path) or "(object)"
            raise FixtureError(file, f"{where}.{label}.{field}", message)
