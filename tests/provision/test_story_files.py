"""spec/stories/: the export files validate, the reference's built-in stories are those files,
and the README's manual steps say what the files hold."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

import tines_spec
from reference_impl.fixtures import builtin_fixtures
from reference_impl.importer import ExportError, import_export

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("name", ["probe", "race"])
def test_export_file_validates_against_the_export_schema(name: str) -> None:
    validator = tines_spec.validator("story-export.schema.json")
    assert list(validator.iter_errors(tines_spec.story_export(name))) == []


def test_the_spec_ships_exactly_the_two_stories() -> None:
    assert tines_spec.story_export_names() == ("probe", "race")


@pytest.mark.parametrize(("name", "story_id"), [("probe", 8001), ("race", 8002)])
def test_builtin_story_is_the_imported_file(name: str, story_id: int) -> None:
    """Graph, webhook path and the export's Get fields: all of them come from the file."""
    builtin = next(s for s in builtin_fixtures() if s.id == story_id)
    imported = import_export(tines_spec.story_export(name), first_action_id=10 * story_id + 1)
    assert builtin.graph is not None
    assert builtin.graph.actions == imported.actions
    assert builtin.webhook_path == imported.webhook_path
    assert {k: builtin.get[k] for k in imported.fields} == imported.fields
    assert builtin.get["api_entry_actions"] == [builtin.graph.entry.id]
    exits = [a.id for a in imported.actions if a.kind == "exit"]
    assert builtin.get["api_exit_actions"] == exits


def test_formulas_stay_formulas_for_the_engine() -> None:
    probe = import_export(tines_spec.story_export("probe"), first_action_id=1)
    by_name = {a.name: a for a in probe.actions}
    assert by_name["wait"].kind == "delay"
    assert by_name["wait"].options["seconds"] == "<<webhook.body.delay_seconds>>"
    assert by_name["exit"].kind == "exit"
    assert by_name["exit"].options["payload"] == "<<webhook.body.exit>>"


def _broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(tines_spec.story_export("probe"))
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["agents"][2]["options"].update(mode="explode"), 'agents[2] "exit"'),
        (lambda d: d["agents"][1].update(type="Agents::HTTPRequestAgent"), 'agents[1] "wait"'),
        (lambda d: d["links"].append({"source": 0, "receiver": 9}), "links[2].receiver"),
        (lambda d: d["links"].append({"source": 2, "receiver": 1}), "links"),
        (lambda d: d["links"].pop(), 'agents[2] "exit"'),
        (lambda d: d.update(api_exit_action_guids=[d["agents"][1]["guid"]]), 'agents[1] "wait"'),
        (lambda d: d.update(api_entry_action_guids=[d["agents"][2]["guid"]]), "api_entry"),
        (lambda d: d["agents"][2].update(name="wait"), 'agents[2] "wait": name'),
        (lambda d: d.pop("agents"), "(export)"),
    ],
)
def test_a_bad_export_names_the_part_at_fault(change: Any, field: str) -> None:
    with pytest.raises(ExportError) as caught:
        import_export(_broken(change), first_action_id=1)
    assert caught.value.field.startswith(field), caught.value


def _readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("### The probe story and the race story")
    return text[start : text.index("\n## ", start)]


def test_readme_manual_steps_match_the_files() -> None:
    """The fallback for building the stories by hand says what the files hold, pill for pill."""
    section = _readme_section()
    for name in ("probe", "race"):
        data = tines_spec.story_export(name)
        assert f'"{data["name"]}"' in section
        for agent in data["agents"]:
            assert f"`{agent['name']}`" in section, agent["name"]
            options = agent["options"]
            for key in ("seconds", "payload"):
                if key in options:
                    for pill in re.findall(r"<<[^<>]+>>", str(options[key])):
                        assert pill in section, (name, agent["name"], pill)
