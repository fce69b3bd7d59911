"""Every story the reference answers decodes with the field types of Tines' own Go SDK.

`GoStory` re-declares, field for field, the `Story` struct of github.com/tines/go-sdk,
`tines/stories.go` (commit f9bf2432870fc32fd4fceaeb5f94e00b24795795), with the Python type each
Go type takes from JSON; `decode` refuses what Go's `encoding/json` refuses for that type (an
object where an int is, a float for an int, a string for a bool), and lets null through as Go
does (the zero value). It is the SDK's decoding, without a Go toolchain; spec/sdk-types.yaml,
which the suite reads, is held to it here, so the table cannot drift from the struct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import httpx
import pytest

from tests.reference.conftest import ServerProcess
from tines_spec.sdk import sdk_fields

from .conftest import AUTH, story_queries

GO_TYPES = {int: "int", str: "string", bool: "bool", list[int]: "[]int", list[str]: "[]string"}


@dataclass
class GoStory:
    """Go field name, and `Annotated[<Python type of the Go type> | None, "<json tag>"]`."""

    ID: Annotated[int | None, "id"] = None
    Name: Annotated[str | None, "name"] = None
    UserID: Annotated[int | None, "user_id"] = None
    Description: Annotated[str | None, "description"] = None
    KeepEventsFor: Annotated[int | None, "keep_events_for"] = None
    Disabled: Annotated[bool | None, "disabled"] = None
    Priority: Annotated[bool | None, "priority"] = None
    STSEnabled: Annotated[bool | None, "send_to_story_enabled"] = None
    STSAccessSource: Annotated[str | None, "send_to_story_access_source"] = None
    STSAccess: Annotated[str | None, "send_to_story_access"] = None
    STSSkillConfirmation: Annotated[
        bool | None, "send_to_story_skill_use_requires_confirmation"
    ] = None
    SharedTeamSlugs: Annotated[list[str] | None, "shared_team_slugs"] = None
    EntryAgentID: Annotated[int | None, "entry_agent_id"] = None
    ExitAgents: Annotated[list[int] | None, "exit_agents"] = None
    TeamID: Annotated[int | None, "team_id"] = None
    Tags: Annotated[list[str] | None, "tags"] = None
    Guid: Annotated[str | None, "guid"] = None
    Slug: Annotated[str | None, "slug"] = None
    CreatedAt: Annotated[str | None, "created_at"] = None
    UpdatedAt: Annotated[str | None, "updated_at"] = None
    EditedAt: Annotated[str | None, "edited_at"] = None
    Mode: Annotated[str | None, "mode"] = None
    FolderID: Annotated[int | None, "folder_id"] = None
    Published: Annotated[bool | None, "published"] = None
    ChangeControlEnabled: Annotated[bool | None, "change_control_enabled"] = None
    Locked: Annotated[bool | None, "locked"] = None
    Owners: Annotated[list[int] | None, "owners"] = None


class UnmarshalError(ValueError):
    """Worded as Go's `json.UnmarshalTypeError`, so a failure reads like the SDK's."""


def _fits(value: Any, kind: Any) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is bool:
        return isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    (item,) = get_args(kind)
    return isinstance(value, list) and all(v is None or _fits(v, item) for v in value)


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    return "number"


def go_fields() -> list[tuple[str, str, Any]]:
    """(Go field, JSON name, Python type) of every field of the struct."""
    out = []
    for name, hint in get_type_hints(GoStory, include_extras=True).items():
        optional, tag = get_args(hint)
        kind = next(a for a in get_args(optional) if a is not type(None))
        out.append((name, tag, kind))
    return out


def decode(story: dict[str, Any]) -> GoStory:
    values: dict[str, Any] = {}
    for go_name, name, kind in go_fields():
        value = story.get(name)
        if value is None:
            continue
        if not _fits(value, kind):
            shown = value
            if get_origin(kind) is list and isinstance(value, list):
                shown = next(v for v in value if not _fits([v], kind))
                kind = get_args(kind)[0]
            raise UnmarshalError(
                f"json: cannot unmarshal {_json_kind(shown)} into Go struct field "
                f"Story.{name} of type {GO_TYPES[kind]}"
            )
        values[go_name] = value
    return GoStory(**values)


def test_the_spec_table_is_the_go_struct() -> None:
    """spec/sdk-types.yaml, which STORY-SDK-001 reads, says what this struct says."""
    declared = {name: (go_name, GO_TYPES[kind]) for go_name, name, kind in go_fields()}
    table = {row.field: tuple(row.go.split(" ")) for row in sdk_fields()}
    assert table == declared


def test_every_reference_story_decodes(reference: ServerProcess) -> None:
    queries = story_queries(reference.profile)
    for story_id, params in queries:
        url = f"{reference.base_url}/api/v1/stories/{story_id}"
        story = httpx.get(url, params=params, headers=AUTH, timeout=10).json()
        decoded = decode(story)
        assert story_id == decoded.ID
        assert decoded.ExitAgents == story["exit_agents"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"exit_agents": [{"id": 80013}]},
            "object into Go struct field Story.exit_agents of type int",
        ),
        ({"owners": [{"id": 1}]}, "object into Go struct field Story.owners of type int"),
        ({"id": 1.5}, "number into Go struct field Story.id of type int"),
        ({"disabled": "false"}, "string into Go struct field Story.disabled of type bool"),
    ],
)
def test_shapes_the_sdk_cannot_read_fail(
    reference: ServerProcess, change: dict[str, Any], message: str
) -> None:
    url = f"{reference.base_url}/api/v1/stories/7981"
    story = httpx.get(url, headers=AUTH, timeout=10).json()
    with pytest.raises(UnmarshalError, match=message):
        decode({**story, **change})
