"""The story importer: a Tines story export file (spec/stories/*.json) as the engine's action graph.

One importer serves both ways a story gets here: the built-in probe and race stories are the
files of `spec/stories/`, imported at start (`fixtures/builtin.yaml` names the file), and
`POST /api/v1/stories/import` imports whatever a client sends. So what the reference runs is what a
tenant gets from the same file.

The export is checked against `spec/schemas/story-export.schema.json` first, then for what a
schema cannot say: links index real agents, GUIDs and names are unique, the API entry action is
the one webhook, the API exit actions are message-only transforms, every action but the webhook
has a source. Agent types map to the engine's kinds: a webhook is the entry, a `delay` transform a
delay, a `message_only` transform an exit when the API settings name it and a transform otherwise.
Formulas (`<<webhook.body.x>>`) are kept as they are: the engine evaluates them per run.

Errors name the part of the export at fault by its path and the agent's name
(`agents[2] "exit": options.mode: ...`), so that a user can find it on the storyboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import tines_spec
from reference_impl.story_graph import Action, ActionKind

__all__ = ["AGENT_TYPES", "ExportError", "ImportedGraph", "import_export"]

SCHEMA = "story-export.schema.json"
WEBHOOK_TYPE = "Agents::WebhookAgent"
TRANSFORM_TYPE = "Agents::EventTransformationAgent"
# The Tines agent type of each engine kind, for reading a story's actions back.
AGENT_TYPES: Mapping[ActionKind, str] = {
    "webhook": WEBHOOK_TYPE,
    "delay": TRANSFORM_TYPE,
    "transform": TRANSFORM_TYPE,
    "exit": TRANSFORM_TYPE,
}


class ExportError(ValueError):
    """An export the importer refuses; `field` is where (`agents[1] "wait": options.seconds`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ImportedGraph:
    """What an export gives a story here: its Get fields, its webhook and its actions."""

    fields: Mapping[str, Any]
    webhook_path: str
    webhook_secret: str
    actions: tuple[Action, ...]
    guids: Mapping[int, str]  # action ID -> the agent's GUID in the export


def _where(data: Mapping[str, Any], path: list[str | int]) -> str:
    """`agents[2] "exit": options.mode` from a JSON path into the export."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    if len(path) >= 2 and path[0] == "agents" and isinstance(path[1], int):
        agents = data.get("agents")
        if isinstance(agents, list) and path[1] < len(agents) and isinstance(agents[path[1]], dict):
            name = agents[path[1]].get("name")
            rest = ".".join(str(p) for p in path[2:])
            text = f'agents[{path[1]}] "{name}"' + (f": {rest}" if rest else "")
    return text or "(export)"


def _validate(data: Any) -> None:
    validator = tines_spec.validator(SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: len(list(e.absolute_path)))
    if not errors:
        return
    error = errors[0]
    # A failed oneOf over the agent variants says little; the deepest of its causes says what.
    while error.context:
        error = max(error.context, key=lambda e: len(list(e.absolute_path)))
    path = list(error.absolute_path)
    raise ExportError(_where(data if isinstance(data, dict) else {}, path), error.message)


def _kind(agent: Mapping[str, Any], exits: set[str]) -> ActionKind:
    if agent["type"] == WEBHOOK_TYPE:
        return "webhook"
    if agent["options"]["mode"] == "delay":
        return "delay"
    return "exit" if agent["guid"] in exits else "transform"


def _sources(data: Mapping[str, Any], entry: int) -> dict[int, list[int]]:
    """Each agent's sources by index; the links must make a graph that every run finishes."""
    count = len(data["agents"])
    sources: dict[int, list[int]] = {i: [] for i in range(count)}
    for n, link in enumerate(data["links"]):
        for end in ("source", "receiver"):
            if link[end] >= count:
                raise ExportError(f"links[{n}].{end}", f"no agent has index {link[end]}")
        if link["receiver"] == entry:
            raise ExportError(f"links[{n}].receiver", "the webhook action receives no events")
        if link["source"] in sources[link["receiver"]]:
            raise ExportError(f"links[{n}]", "repeats an earlier link")
        sources[link["receiver"]].append(link["source"])
    for i in range(count):
        if i != entry and not sources[i]:
            raise ExportError(
                _where(data, ["agents", i]), "receives no events: no link leads to it"
            )
    # Kahn's order from the webhook: an agent left out is on a cycle, which a run never leaves.
    waiting = {i: len(s) for i, s in sources.items()}
    ready, done = [entry], 0
    while ready:
        current = ready.pop()
        done += 1
        for receiver, its_sources in sources.items():
            if current in its_sources:
                waiting[receiver] -= 1
                if waiting[receiver] == 0:
                    ready.append(receiver)
    if done != count:
        raise ExportError("links", "make a cycle; a story's links must not lead back")
    return sources


def import_export(data: Any, *, first_action_id: int) -> ImportedGraph:
    """The graph of an export, its actions numbered from `first_action_id` in `agents` order."""
    _validate(data)
    agents: list[dict[str, Any]] = data["agents"]
    guids = [a["guid"] for a in agents]
    for label, values in (("guid", guids), ("name", [a["name"] for a in agents])):
        for i, value in enumerate(values):
            if values.index(value) != i:
                raise ExportError(
                    _where(data, ["agents", i, label]), f"repeats agents[{values.index(value)}]"
                )
    for i, agent in enumerate(agents):
        if agent.get("disabled") is True:
            raise ExportError(
                _where(data, ["agents", i, "disabled"]), "a disabled action never runs"
            )
    webhooks = [i for i, a in enumerate(agents) if a["type"] == WEBHOOK_TYPE]
    if len(webhooks) != 1:
        raise ExportError("agents", "needs exactly one Agents::WebhookAgent")
    (entry,) = webhooks
    if data["api_entry_action_guids"] != [guids[entry]]:
        raise ExportError("api_entry_action_guids", "must name the webhook action's GUID alone")
    exits = set(data["api_exit_action_guids"])
    for guid in exits:
        at = guids.index(guid) if guid in guids else None
        if at is None:
            raise ExportError("api_exit_action_guids", f"{guid} is no agent's GUID")
        if agents[at]["type"] != TRANSFORM_TYPE or agents[at]["options"]["mode"] != "message_only":
            raise ExportError(
                _where(data, ["agents", at]), "an API exit action must be a message-only transform"
            )
    sources = _sources(data, entry)
    actions = tuple(
        Action(
            id=first_action_id + i,
            name=agent["name"],
            kind=_kind(agent, exits),
            options=dict(agent["options"]),
            sources=tuple(first_action_id + s for s in sources[i]),
        )
        for i, agent in enumerate(agents)
    )
    webhook_options = agents[entry]["options"]
    fields = {
        key: data[key]
        for key in ("name", "description", "guid", "slug", "tags", "keep_events_for")
        if key in data
    }
    return ImportedGraph(
        fields=fields,
        webhook_path=webhook_options["path"],
        webhook_secret=webhook_options["secret"],
        actions=actions,
        guids={first_action_id + i: guid for i, guid in enumerate(guids)},
    )
