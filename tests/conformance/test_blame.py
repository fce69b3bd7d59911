"""Blame from the spec: a schema error blames the requirement that carries the failing part, and
a check's preconditions block its requirements rather than fail them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.result import Blocked, CheckFailure, NoEvidence
from conformance.verdicts import covering, judge_attempt
from conformance.verify import expect_status, expect_valid, precondition

SAMPLE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "spec" / "data" / "sample_story.json").read_text()
)
FIELDS = tuple(f"STORY-FIELD-00{n}" for n in range(1, 9))
PLAIN = {k: v for k, v in SAMPLE.items() if not k.endswith(("_count", "_percentage"))}


def _blame(story: dict[str, Any], among: tuple[str, ...] = FIELDS, pointer: str = "") -> Any:
    with pytest.raises(CheckFailure) as raised:
        expect_valid(None, story, "story.schema.json", among, pointer)  # type: ignore[arg-type]
    return raised.value


@pytest.mark.parametrize(
    ("change", "blamed", "line"),
    [
        (
            {"created_at": "10/05/2021 08:56"},
            "STORY-FIELD-002",
            '/created_at: "10/05/2021 08:56" is not an RFC 3339 date-time',
        ),
        ({"mode": "SANDBOX"}, "STORY-FIELD-003", '/mode: "SANDBOX" is not one of "LIVE", "TEST"'),
        ({"send_to_story_access_source": "off"}, "STORY-FIELD-004", "/send_to_story_access_source"),
        ({"send_to_story_access": "team"}, "STORY-FIELD-005", "/send_to_story_access"),
        ({"send_to_story_referring_story_ids": [1]}, "STORY-FIELD-006", "present, and must not be"),
        ({"shared_team_slugs": ["x"]}, "STORY-FIELD-007", '/shared_team_slugs: ["x"] is not empty'),
        ({"concurrent_runs_count": -1}, "STORY-FIELD-008", "/concurrent_runs_count: -1 is below 0"),
        ({"disabled": "false"}, "STORY-FIELD-001", '/disabled: "false" is not a boolean'),
    ],
)
def test_a_broken_field_blames_the_requirement_that_carries_it(
    change: dict[str, Any], blamed: str, line: str
) -> None:
    story = {**copy.deepcopy(SAMPLE), **change}
    failure = _blame(story)
    assert failure.requirement_ids == (blamed,)
    assert line in failure.reason
    assert failure.reason.startswith(blamed)
    assert "'name'" not in failure.reason, "no dump of the object"


def test_a_missing_field_blames_the_whole_object_only() -> None:
    story = copy.deepcopy(SAMPLE)
    del story["guid"]
    failure = _blame(story)
    assert failure.requirement_ids == ("STORY-FIELD-001",)
    assert "/guid: missing" in failure.reason


def test_an_error_another_requirement_carries_is_left_to_its_check() -> None:
    story = {**copy.deepcopy(PLAIN), "created_at": "yesterday"}
    expect_valid(None, story, "story.schema.json", "STORY-LIVE-002", "/$defs/plain")  # type: ignore[arg-type]
    failure = _blame({**PLAIN, "pending_action_runs_count": 1}, ("STORY-LIVE-002",), "/$defs/plain")
    assert failure.requirement_ids == ("STORY-LIVE-002",)


def test_a_narrow_part_is_judged_by_its_own_requirement() -> None:
    failure = _blame({**SAMPLE, "guid": "ABC"}, ("STORY-FIELD-011",), "/$defs/hexGuid")
    assert failure.requirement_ids == ("STORY-FIELD-011",)


def _raise_in(ids: tuple[str, ...], failing: str) -> BaseException:
    exchange: Any = None
    try:
        with covering(ids), precondition():
            raise CheckFailure([failing], "status 200", "status 401", exchange)
    except (CheckFailure, Blocked) as error:
        return error
    raise AssertionError("nothing raised")


def test_a_failed_precondition_of_another_requirement_blocks_the_whole_check() -> None:
    error = _raise_in(("STORY-LIVE-001", "STORY-FIELD-008"), "STORY-AUTH-001")
    assert isinstance(error, Blocked)
    verdicts = judge_attempt([error], ("STORY-LIVE-001", "STORY-FIELD-008"))
    assert verdicts.failed == ()
    assert verdicts.blocked == ("STORY-LIVE-001", "STORY-FIELD-008")
    assert verdicts.blocked_by == ("STORY-AUTH-001",)


def test_a_failed_precondition_of_the_checks_own_requirement_fails_it_and_blocks_the_rest() -> None:
    ids = ("STORY-GET-001", "STORY-FIELD-001")
    error = _raise_in(ids, "STORY-GET-001")
    assert isinstance(error, CheckFailure)
    verdicts = judge_attempt([error], ids)
    assert (verdicts.failed, verdicts.blocked) == (("STORY-GET-001",), ("STORY-FIELD-001",))


def test_no_evidence_leaves_the_requirement_untested() -> None:
    verdicts = judge_attempt([NoEvidence(None, "no answer said error")], ("WH-META-004",))
    assert verdicts.unobserved == ("WH-META-004",)
    assert "no answer said error" in verdicts.reasons["WH-META-004"]


def test_outside_a_check_a_precondition_still_marks_the_failure() -> None:
    with pytest.raises(CheckFailure) as raised, precondition():
        expect_status(_Exchange(), 200, "STORY-GET-001")  # type: ignore[arg-type]
    assert raised.value.precondition


class _Response:
    status = 500
    headers = ()


class _Exchange:
    response = _Response()
    error = None

    def curl(self) -> str:
        return "curl"

    def describe_request(self) -> str:
        return "GET /"

    def describe_response(self) -> str:
        return "500"
