"""profile.schema.json and report.schema.json accept what they should and catch each mistake.

tests/spec/data/profile.example.yaml doubles as documentation: it sets every setting the schema
has (checked below), so it stays complete as the schema grows.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import tines_spec

from .spec_files import report_entry

PROFILE = "profile.schema.json"
REPORT = "report.schema.json"
EXAMPLE_PATH = Path(__file__).resolve().parent / "data" / "profile.example.yaml"


def example_profile() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLE_PATH.read_text(encoding="utf-8"))
    return loaded


def setting_paths(node: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every property path of an object schema, nested objects included."""
    for name, subschema in node.get("properties", {}).items():
        yield (*prefix, name)
        yield from setting_paths(subschema, (*prefix, name))


def closed_objects(node: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The paths of every object that forbids unknown keys."""
    if node.get("additionalProperties") is False:
        yield prefix
    for name, subschema in node.get("properties", {}).items():
        yield from closed_objects(subschema, (*prefix, name))


def dig(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


def dig_schema(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for part in path:
        schema = schema["properties"][part]
    return schema


def errors_at(schema: str, instance: Any) -> list[tuple[tuple[Any, ...], str]]:
    return [
        (tuple(error.absolute_path), error.message)
        for error in tines_spec.validator(schema).iter_errors(instance)
    ]


def test_the_example_profile_validates() -> None:
    assert errors_at(PROFILE, example_profile()) == []


# Each webhook URL is given in the file or in a variable, never both: the example gives the URLs.
ALTERNATIVES = {("webhooks", "probe_url_env"), ("webhooks", "race_url_env")}


@pytest.mark.parametrize(
    "path",
    [p for p in setting_paths(tines_spec.schema(PROFILE)) if p not in ALTERNATIVES],
    ids=".".join,
)
def test_the_example_profile_sets_every_setting(path: tuple[str, ...]) -> None:
    dig(example_profile(), path)


def test_webhook_urls_may_come_from_variables_instead() -> None:
    profile = example_profile()
    webhooks = profile["webhooks"]
    del webhooks["probe_url"], webhooks["race_url"]
    webhooks.update(probe_url_env="TINES_PROBE_URL", race_url_env="TINES_RACE_URL")
    assert errors_at(PROFILE, profile) == []
    assert errors_at(PROFILE, {**profile, "webhooks": {"race_url_env": "X"}})  # no probe URL
    both = {**webhooks, "race_url": "https://acme.tines.com/webhook/a/b"}
    assert errors_at(PROFILE, {**profile, "webhooks": both})
    assert errors_at(PROFILE, {**profile, "webhooks": {**webhooks, "probe_url_env": "not a name"}})


def test_the_example_holds_no_secret() -> None:
    """Only the name of the key's variable; a webhook secret only inside its URL."""
    text = EXAMPLE_PATH.read_text(encoding="utf-8")
    assert "api_key:" not in text
    assert example_profile()["target"]["api_key_env"].isidentifier()


@pytest.mark.parametrize(
    "path",
    [
        ("target",),
        ("stories",),
        ("webhooks",),
        ("target", "base_url"),
        ("target", "api_key_env"),
        ("stories", "ids"),
    ],
    ids=".".join,
)
def test_a_missing_required_setting_is_rejected(path: tuple[str, ...]) -> None:
    profile = example_profile()
    del dig(profile, path[:-1])[path[-1]]
    errors = errors_at(PROFILE, profile)
    assert any(where == path[:-1] and repr(path[-1]) in message for where, message in errors)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("target", "base_url"), "acme.tines.com"),
        (("target", "base_url"), "ftp://acme.tines.com"),
        (("webhooks", "probe_url"), "not a url"),
        (("webhooks", "probe_url"), "/webhook/path/secret"),
        (("webhooks", "race_url"), "tines.com/webhook/path/secret"),
        (("target", "api_key_env"), "tines api key"),
        (("stories", "ids"), []),
        (("stories", "ids"), [7981, 7981]),
        (("webhooks", "exit_timeout_seconds"), 0),
        (("limits", "concurrency", "burst"), 1),
        (("safety", "max_requests_per_second"), -1),
    ],
    ids=lambda value: ".".join(value) if isinstance(value, tuple) else repr(value),
)
def test_a_bad_value_is_rejected(path: tuple[str, ...], value: Any) -> None:
    profile = example_profile()
    dig(profile, path[:-1])[path[-1]] = value
    assert any(where == path for where, _ in errors_at(PROFILE, profile))


@pytest.mark.parametrize(
    "path", list(closed_objects(tines_spec.schema(PROFILE))), ids=lambda p: ".".join(p) or "top"
)
def test_an_unknown_key_is_rejected(path: tuple[str, ...]) -> None:
    """A typo in a setting name must not pass silently as a default."""
    profile = example_profile()
    dig(profile, path)["api_key"] = "a key that must never be written in a profile"
    assert any(
        where == path and "'api_key'" in message for where, message in errors_at(PROFILE, profile)
    )


def test_every_object_of_the_profile_is_closed() -> None:
    """The check above reaches every level: an object that allows unknown keys would hide typos."""
    schema = tines_spec.schema(PROFILE)
    objects = {(), *(p for p in setting_paths(schema) if "properties" in dig_schema(schema, p))}
    assert objects == set(closed_objects(schema))


def summary() -> dict[str, Any]:
    """A run summary over the whole catalogue, as the suite would write one."""
    catalogue = tines_spec.catalogue()
    totals = {
        level: {"passed": 0, "failed": 0, "skipped": 0, "untested": 0}
        for level in tines_spec.LEVELS
    }
    for requirement in catalogue.requirements:
        totals[requirement.level]["untested"] += 1
    return {
        "tool": {"name": "tines-conformance", "version": "0.1.0"},
        "spec_version": catalogue.spec_version,
        "versions": {"python": "3.11.7"},
        "run_id": "run-1",
        "target": {"name": "acme", "base_url": "https://acme.tines.com", "profile": None},
        "started_at": "2026-01-01T00:00:00Z",
        "duration_seconds": 1.5,
        "levels": list(tines_spec.LEVELS),
        "seed": None,
        "retries": 1,
        "outcome": "passed",
        "requests_sent": 0,
        "command": "conformance run --profile acme.yaml --seed 1",
        "notes": [],
        "requirements": [report_entry(r) for r in catalogue.requirements],
        "checks": [],
        "totals": totals,
    }


def test_a_summary_of_the_catalogue_validates() -> None:
    assert errors_at(REPORT, summary()) == []


def _broken(mutate: str) -> dict[str, Any]:
    report = copy.deepcopy(summary())
    match mutate:
        case "status":
            report["requirements"][0]["status"] = "ok"
        case "level":
            report["requirements"][0]["level"] = "MUST NOT"
        case "id":
            report["requirements"][0]["id"] = "wh-conv-1"
        case "totals":
            del report["totals"]
        case "unknown-key":
            report["api_key"] = "never in a report"
        case "outcome":
            report["outcome"] = "mostly passed"
        case "started_at":
            report["started_at"] = "yesterday"
        case "tool":
            report["tool"]["name"] = "another-tool"
        case "count":
            report["totals"]["MUST"]["passed"] = -1
    return report


@pytest.mark.parametrize(
    "mutate",
    ["status", "level", "id", "totals", "unknown-key", "outcome", "started_at", "tool", "count"],
)
def test_a_broken_summary_is_rejected(mutate: str) -> None:
    assert errors_at(REPORT, _broken(mutate))
