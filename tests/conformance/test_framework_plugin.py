"""Pieces of the plugin that need no session: levels, failure attribution, the plan's operations."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.evidence import _failure
from conformance.exchange import Exchange, ReceivedResponse, SentRequest
from conformance.reporting.outcomes import Evidence
from conformance.reporting.plan import operations_for
from conformance.result import CheckFailure
from conformance.run_options import parse_levels


def test_levels_are_parsed_in_catalogue_order() -> None:
    assert parse_levels("may, MUST") == ("MUST", "MAY")
    with pytest.raises(ValueError, match="OFTEN"):
        parse_levels("must,often")
    with pytest.raises(ValueError):
        parse_levels(" , ")


class _Report:
    when = "call"
    longreprtext = "E   boom"


REPORT: Any = _Report()
IDS = ("WH-CONV-001", "WH-CONV-002", "WH-CONV-003")


def _reproduce(ids: tuple[str, ...]) -> str:
    return "conformance run " + " ".join(f"--only {rid}" for rid in ids)


def failure(error: BaseException) -> tuple[str, tuple[str, ...], Evidence]:
    reason, named, evidence, _ = _failure(
        error, IDS, REPORT, check="checks/test_x.py::test_y", reproduce=_reproduce
    )
    return reason, named, evidence


def test_a_check_failure_fails_only_what_it_names() -> None:
    exchange = Exchange(
        SentRequest("POST", "http://t/webhook/p/s", (("Content-Type", "application/json"),), b"{}"),
        ReceivedResponse(200, "OK", (), b"{}"),
    )
    reason, named, evidence = failure(
        CheckFailure(["WH-CONV-002"], "status 201", "status 200", exchange)
    )
    assert named == ("WH-CONV-002",)
    assert reason == "expected status 201; got status 200"
    assert (evidence.expected, evidence.actual) == ("status 201", "status 200")
    assert evidence.check == "checks/test_x.py::test_y"
    assert evidence.reproduce == "conformance run --only WH-CONV-002"
    assert evidence.curl is not None
    assert evidence.curl.startswith("curl -i -X POST")
    assert "[WH-CONV-002] MUST" in evidence.details


def test_hypothesis_groups_are_split_into_their_check_failures() -> None:
    group = ExceptionGroup(
        "Hypothesis found 2 distinct failures.",
        [
            CheckFailure(["WH-CONV-001"], "status 201", "status 200"),
            CheckFailure(["WH-CONV-003"], "body {}", "body []"),
        ],
    )
    reason, named, evidence = failure(group)
    assert named == ("WH-CONV-001", "WH-CONV-003")
    assert "and 1 more" in reason
    assert "[WH-CONV-001]" in evidence.details
    assert "[WH-CONV-003]" in evidence.details


def test_any_other_error_counts_against_every_requirement_of_the_check() -> None:
    reason, named, evidence = failure(ValueError("the body is\nnot JSON"))
    assert named == IDS
    assert reason == "ValueError: the body is not JSON"
    assert evidence.actual == reason
    assert evidence.curl is None
    assert evidence.details == "E   boom"
    group = ExceptionGroup("two", [CheckFailure(["WH-CONV-001"], "a", "b"), KeyError("x")])
    assert failure(group)[1] == IDS


@pytest.mark.parametrize(
    ("pointer", "expected"),
    [
        (
            "openapi.yaml#/paths/~1api~1v1~1stories~1{story_id}/get",
            "GET /api/v1/stories/{story_id}",
        ),
        ("schemas/story.schema.json#/$defs/plain", "GET /api/v1/stories/{story_id}"),
        ("openapi.yaml#/components/x-probe-contract/race", "the race story's webhook"),
        ("schemas/timeout-body.schema.json", "POST /webhook/{path}/{secret}"),
    ],
)
def test_operations_are_derived_from_the_spec(pointer: str, expected: str) -> None:
    assert expected in operations_for(pointer)
