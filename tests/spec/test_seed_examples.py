"""The source documents' own examples hold against the schemas that encode them.

The examples are read from copies in tests/spec/data so that these tests run in a checkout
without the source documents; `test_*_copy_equals_the_seed` is where the copies are checked
against the documents themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import tines_spec

from .seed_examples import load_data, stories_get_sample, workflows_examples

STORY = "story.schema.json"
EXIT_PAYLOAD = "exit-payload.schema.json"


def live_activity_fields() -> list[str]:
    fields: list[str] = tines_spec.schema(STORY)["$defs"]["liveActivityFields"]["enum"]
    return fields


@pytest.fixture
def sample_story() -> dict[str, Any]:
    sample: dict[str, Any] = load_data("sample_story.json")
    return sample


@pytest.fixture
def examples() -> dict[str, Any]:
    loaded: dict[str, Any] = load_data("workflows_examples.json")
    return loaded


def test_sample_story_copy_equals_the_seed(seed_text: Callable[[str], str]) -> None:
    assert load_data("sample_story.json") == stories_get_sample(seed_text("stories-get"))


def test_workflows_examples_copy_equals_the_seed(seed_text: Callable[[str], str]) -> None:
    assert load_data("workflows_examples.json") == workflows_examples(
        seed_text("workflows-as-apis")
    )


def test_sample_carries_live_activity_fields(sample_story: dict[str, Any]) -> None:
    """The premise of the variant tests below: the document's sample is a live-activity answer."""
    assert set(live_activity_fields()) & sample_story.keys()


def test_sample_story_is_a_live_activity_answer(sample_story: dict[str, Any]) -> None:
    errors = list(tines_spec.validator(STORY, "/$defs/withLiveActivity").iter_errors(sample_story))
    assert not errors, [error.message for error in errors]


def test_sample_without_live_fields_is_a_plain_answer(sample_story: dict[str, Any]) -> None:
    plain = {k: v for k, v in sample_story.items() if k not in live_activity_fields()}
    errors = list(tines_spec.validator(STORY, "/$defs/plain").iter_errors(plain))
    assert not errors, [error.message for error in errors]


def test_sample_with_live_fields_is_not_a_plain_answer(sample_story: dict[str, Any]) -> None:
    assert not tines_spec.validator(STORY, "/$defs/plain").is_valid(sample_story)


def test_sample_without_live_fields_is_not_a_live_activity_answer(
    sample_story: dict[str, Any],
) -> None:
    plain = {k: v for k, v in sample_story.items() if k not in live_activity_fields()}
    assert not tines_spec.validator(STORY, "/$defs/withLiveActivity").is_valid(plain)


def test_sample_meets_the_should_level_story_rules(sample_story: dict[str, Any]) -> None:
    """The SHOULD rules kept apart in `$defs` (retention, guid, slug) hold for the sample too."""
    for pointer in ("/$defs/knownRetention", "/$defs/hexGuid", "/$defs/underscoredSlug"):
        assert tines_spec.validator(STORY, pointer).is_valid(sample_story), pointer


def test_timeout_body_validates(examples: dict[str, Any]) -> None:
    errors = list(
        tines_spec.validator("timeout-body.schema.json").iter_errors(examples["timeout_body"])
    )
    assert not errors, [error.message for error in errors]


def test_timeout_body_is_a_limit_body(examples: dict[str, Any]) -> None:
    assert tines_spec.validator("limit-body.schema.json").is_valid(examples["timeout_body"])


def test_the_document_shows_two_convention_payloads(examples: dict[str, Any]) -> None:
    """The `status: "202"` example and the PDF example; a third would need a look at this test."""
    assert len(examples["exit_payloads"]) == 2


@pytest.mark.parametrize("index", [0, 1], ids=["status-202-headers", "pdf-attachment"])
def test_exit_payload_example_follows_the_convention(examples: dict[str, Any], index: int) -> None:
    payload = examples["exit_payloads"][index]
    assert tines_spec.validator(EXIT_PAYLOAD).is_valid(payload)
    errors = list(
        tines_spec.validator(EXIT_PAYLOAD, "/$defs/conventionPayload").iter_errors(payload)
    )
    assert not errors, [error.message for error in errors]


@pytest.mark.parametrize("example", ["csv_data", "data_response_body"])
def test_plain_data_is_an_exit_payload_returned_whole(
    examples: dict[str, Any], example: str
) -> None:
    """Data without status/body keys is a payload too, and not one the convention reads."""
    data = examples[example]
    assert tines_spec.validator(EXIT_PAYLOAD).is_valid(data)
    assert not tines_spec.validator(EXIT_PAYLOAD, "/$defs/conventionPayload").is_valid(data)


def test_csv_example_is_array_data(examples: dict[str, Any]) -> None:
    assert examples["csv_data"] == [["1", "2", "3"], ["4", "5", "6"]]
