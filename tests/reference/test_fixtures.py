"""fixtures.py: the built-in stories match the spec, and a bad file names the file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tines_spec
from reference_impl.fixtures import FixtureError, Story, builtin_fixtures, load_fixtures
from tines_spec.sdk import sdk_fields, sdk_validator

SAMPLE_FIELDS = {
    "name": "Simple story",
    "user_id": 167,
    "keep_events_for": 604800,
    "guid": "df1e838a18d20696120b41516497b017",
    "slug": "simple_story",
    "created_at": "2021-05-10T08:56:50Z",
    "team_id": 1,
    "folder_id": 1,
    "owners": [1],
    "send_to_story_access_source": "OFF",
    "send_to_story_access": None,
}


def test_builtin_sample_story_has_the_documents_values() -> None:
    sample = next(s for s in builtin_fixtures() if s.id == 7981)
    record = sample.record(None, None)
    assert {k: record[k] for k in SAMPLE_FIELDS} == SAMPLE_FIELDS
    assert sample.record("TEST", 1234)["mode"] == "TEST"
    assert sample.record(None, 1234)["draft_name"] == "Initial Draft"


def test_builtin_webhook_stories_describe_their_graphs() -> None:
    stories = {s.role: s for s in builtin_fixtures() if s.role}
    assert set(stories) == {"probe", "race"}
    race = stories["race"]
    assert race.graph is not None
    assert race.get["api_exit_actions"] == [a.id for a in race.graph.exits]
    assert len(race.graph.receivers(race.graph.entry.id)) == 2  # two concurrent branches
    for story in builtin_fixtures():
        assert tines_spec.validator("story.schema.json", "/$defs/plain").is_valid(
            story.record(None, None)
        )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stories.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("stories: 3\n", "stories"),
        ("stories: [\n", "line 2"),
        ("stories:\n  - get: {id: 1, name: x}\n", "stories[0].get.user_id"),
        ("stories:\n  - get: {id: x}\n", "stories[0].get.id"),
        (
            "stories:\n  - get: {id: 1}\n    webhook: {path: abc}\n"
            "    actions: [{id: 1, name: w, kind: webhook}, {id: 2, name: e, kind: nope}]\n",
            "stories[0].actions[1].kind",
        ),
        (
            "stories:\n  - get: {id: 1}\n    webhook: {path: abc}\n"
            "    actions: [{id: 1, name: w, kind: webhook}]\n",
            "stories[0].actions",
        ),
    ],
)
def test_a_bad_file_names_the_file_and_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FixtureError) as caught:
        load_fixtures(path)
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert "\n" not in str(caught.value)


def test_a_missing_file_is_a_fixture_error(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match=r"stories\.yaml: \(file\)"):
        load_fixtures(tmp_path / "stories.yaml")


def _every_answer(story: Story) -> list[tuple[str, dict[str, Any]]]:
    answers = [(f"{story.id}", story.record(None, None))]
    answers += [(f"{story.id} {m}", story.record(m, None)) for m in story.versions]
    answers += [(f"{story.id} draft {d}", story.record(None, d)) for d in story.drafts]
    return answers


@pytest.mark.parametrize(
    ("label", "answer"),
    [pair for story in builtin_fixtures() for pair in _every_answer(story)],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_builtin_answer_decodes_as_tines_sdk_reads_it(
    label: str, answer: dict[str, Any]
) -> None:
    """spec/sdk-types.yaml: no fixture may answer a shape Tines' own Go SDK cannot decode."""
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in sdk_validator().iter_errors(answer)
    ]
    assert errors == [], label


def test_the_sdk_table_covers_the_exit_agents_and_owners_fields() -> None:
    """The two fields whose documented shape the SDK does not read are in the table."""
    by_field = {row.field: row for row in sdk_fields()}
    assert by_field["exit_agents"].item_type == "integer"
    assert by_field["owners"].item_type == "integer"
    assert sdk_validator().is_valid({"exit_agents": [1], "owners": [2]})
    assert not sdk_validator().is_valid({"exit_agents": [{"id": 1}]})
