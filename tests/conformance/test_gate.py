"""`conformance gate`: every rule of the verdict, and its exit codes through the command line.

The example summary (tests/data/summaries/failing.json) has, at MUST, a failure (WH-BODY-001), a
flaky pass (WH-BODY-002), an untested requirement (STORY-FIELD-013), a skipped one (WH-BODY-003)
and a pass (WH-CT-001); at SHOULD, a pass (WH-CONV-004); at MAY, nothing.
"""

from __future__ import annotations

import argparse
import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import tines_spec
from conformance import redaction
from conformance.cli import main
from conformance.cli_reports import dispatch
from conformance.errors import UsageError
from conformance.expectations import Expectation
from conformance.gate import GateResult, evaluate, render_gate
from tests.conformance.summaries import EXAMPLE, example, requirement

TODAY = date(2026, 11, 22)
LATER = date(2026, 12, 31)
EARLIER = date(2026, 11, 21)
BLOCKED_BY_EXAMPLE = ["WH-BODY-001", "STORY-FIELD-013", "WH-BODY-003"]


def passing() -> dict[str, Any]:
    """The example with every requirement passed and nothing flaky."""
    document = example()
    for r in document["requirements"]:
        r.update(status="passed", flaky=False, reason=None, failure=None)
        r.pop("expectation", None)
    document["outcome"] = "passed"
    return document


def gate(
    document: dict[str, Any],
    *expectations: Expectation,
    levels: tuple[str, ...] | None = None,
) -> GateResult:
    return evaluate(
        document,
        levels=levels,
        expectations=expectations,
        today=TODAY,
        expectations_file="ci/expectations.yaml",
    )


def test_the_example_is_blocked_by_its_failure_and_its_silence() -> None:
    result = gate(example())
    assert [b.id for b in result.blocking] == BLOCKED_BY_EXAMPLE
    assert [b.status for b in result.blocking] == ["failed", "untested", "skipped"]
    assert result.exit_code == 1
    lines = render_gate(result)
    assert lines[0] == "gate: failed: 3 requirements at MUST, SHOULD, MAY block it"
    assert lines[1] == (
        "blocking: WH-BODY-001 (MUST, failed): conformance/checks/test_conventions.py::"
        'test_exit_payload_is_the_body: expected the exit payload {"a": 1} as the body; '
        'got {"a": 2}'
    )
    assert lines[3].startswith("blocking: WH-BODY-003 (MUST, skipped): ")
    assert lines[3].endswith("the profile has no webhooks.race_url")


def test_a_run_where_everything_passed_passes() -> None:
    result = gate(passing())
    assert result.exit_code == 0
    assert render_gate(result) == ["gate: passed at MUST, SHOULD, MAY"]


def test_the_levels_chosen_decide_what_blocks() -> None:
    result = gate(example(), levels=("SHOULD",))
    assert result.exit_code == 0
    assert render_gate(result) == ["gate: passed at SHOULD"]
    assert gate(example(), levels=("SHOULD", "MUST")).levels == ("MUST", "SHOULD")


def test_a_level_the_run_did_not_include_is_a_usage_error() -> None:
    document = example()
    document["levels"] = ["MUST"]
    with pytest.raises(UsageError) as caught:
        gate(document, levels=("MUST", "SHOULD"))
    assert str(caught.value).startswith("--levels: the run did not include SHOULD (it ran at MUST)")


def test_by_default_the_gate_judges_the_levels_the_run_was_at() -> None:
    document = passing()
    document["levels"] = ["SHOULD", "MUST"]
    assert gate(document).levels == ("MUST", "SHOULD")


def test_an_unexpired_expectation_lets_its_requirement_through_and_lists_it() -> None:
    result = gate(
        example(),
        Expectation("WH-BODY-001", "fix ships in 1.3", LATER),
        Expectation("STORY-FIELD-013", "cannot be seen through the Get API", None),
        Expectation("WH-BODY-003", "the race story is not built yet", TODAY),
    )
    assert result.exit_code == 0
    assert render_gate(result) == [
        "gate: passed at MUST, SHOULD, MAY",
        "expected: WH-BODY-001: fix ships in 1.3 (until 2026-12-31)",
        "expected: STORY-FIELD-013: cannot be seen through the Get API (no end date)",
        "expected: WH-BODY-003: the race story is not built yet (until 2026-11-22)",
        "flaky: WH-BODY-002: passed on a later attempt; the first failed: conformance/checks/"
        "test_negotiation.py::test_default_is_json: TimeoutError: no answer within 10 s",
    ]


def test_an_expired_expectation_blocks_again() -> None:
    result = gate(
        example(),
        Expectation("WH-BODY-001", "fix ships in 1.3", EARLIER),
        Expectation("STORY-FIELD-013", "cannot be seen through the Get API", None),
        Expectation("WH-BODY-003", "no race story", None),
    )
    assert result.exit_code == 1
    lines = render_gate(result)
    assert lines[0] == "gate: failed: 1 requirement at MUST, SHOULD, MAY block it"
    assert lines[1].startswith("blocking: WH-BODY-001 (MUST, failed): ")
    assert lines[1].endswith("(its expectation expired on 2026-11-21)")
    assert "expired: WH-BODY-001: fix ships in 1.3 (expired on 2026-11-21)" in lines


def test_an_expectation_whose_requirement_passes_is_reported_for_removal() -> None:
    document = passing()
    result = gate(document, Expectation("WH-CONV-004", "was broken in 1.2", LATER))
    assert result.exit_code == 0
    assert render_gate(result) == [
        "gate: passed at MUST, SHOULD, MAY",
        "now passing, remove it from ci/expectations.yaml: WH-CONV-004",
    ]


def test_an_expired_expectation_blocks_even_when_its_requirement_passes() -> None:
    result = gate(passing(), Expectation("WH-CONV-004", "was broken in 1.2", EARLIER))
    assert result.exit_code == 1
    lines = render_gate(result)
    assert lines[1] == (
        "blocking: WH-CONV-004 (SHOULD, passed): passes now, but its expectation expired: "
        "remove the entry (its expectation expired on 2026-11-21)"
    )


def test_an_expectation_for_a_requirement_not_in_the_run_is_a_warning() -> None:
    result = gate(
        passing(),
        Expectation("WH-CONV-001", "not run here", None),
        Expectation("WH-CONV-004", "at a level not gated", None),
        levels=("MUST",),
    )
    assert result.exit_code == 0
    assert render_gate(result)[1:] == [
        "warning: ci/expectations.yaml lists WH-CONV-001, which this run has no result for at MUST",
        "warning: ci/expectations.yaml lists WH-CONV-004, which this run has no result for at MUST",
    ]


def test_a_flaky_pass_passes_and_is_listed() -> None:
    document = passing()
    flaky = requirement(document, "WH-BODY-002")
    flaky.update(flaky=True, reason="TimeoutError:\n  no answer within 10 s")
    result = gate(document)
    assert result.exit_code == 0
    assert render_gate(result)[1:] == [
        "flaky: WH-BODY-002: passed on a later attempt; the first failed: TimeoutError: no "
        "answer within 10 s"
    ]


def test_an_interrupted_run_fails_the_gate() -> None:
    document = passing()
    document["outcome"] = "interrupted"
    result = gate(document)
    assert result.exit_code == 1
    assert render_gate(result) == [
        "gate: failed: the run was interrupted, so its results are partial"
    ]
    document = example()
    document["outcome"] = "interrupted"
    assert render_gate(gate(document))[0] == (
        "gate: failed: the run was interrupted, so its results are partial; "
        "3 requirements at MUST, SHOULD, MAY block it"
    )


def test_every_line_is_redacted() -> None:
    secret = "gate-test-secret-4f1c9a"
    redaction.register_secret(secret)
    document = example()
    requirement(document, "WH-BODY-001")["reason"] = f"sent to /webhook/probe/{secret}"
    lines = render_gate(gate(document, Expectation("WH-CONV-004", f"see {secret}", EARLIER)))
    assert not [line for line in lines if secret in line]
    assert "blocking: WH-BODY-001 (MUST, failed): sent to /webhook/probe/***" in lines


# --- through the command line -------------------------------------------------------------


def run(argv: list[str]) -> int:
    """The real command line, in process: the commands as `conformance` wires them."""
    return main(argv)


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_dispatch_leaves_other_commands_alone() -> None:
    assert dispatch(argparse.Namespace(command="run")) is None


@pytest.mark.parametrize(
    ("expectations", "code", "first_line"),
    [
        ("", 1, "gate: failed: 3 requirements at MUST, SHOULD, MAY block it"),
        (
            "  - {id: WH-BODY-001, reason: fix in 1.3, expires: 2026-12-31}\n"
            "  - {id: STORY-FIELD-013, reason: not black-box}\n"
            "  - {id: WH-BODY-003, reason: no race story}\n",
            0,
            "gate: passed at MUST, SHOULD, MAY",
        ),
        (
            "  - {id: WH-BODY-001, reason: fix in 1.3, expires: 2026-11-21}\n"
            "  - {id: STORY-FIELD-013, reason: not black-box}\n"
            "  - {id: WH-BODY-003, reason: no race story}\n",
            1,
            "gate: failed: 1 requirement at MUST, SHOULD, MAY block it",
        ),
    ],
    ids=["no-expectations", "expected", "expired"],
)
def test_gate_exit_codes(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    expectations: str,
    code: int,
    first_line: str,
) -> None:
    file = tmp_path / "expectations.yaml"
    file.write_text(f"expectations:\n{expectations or '  []'}\n", encoding="utf-8")
    argv = ["gate", str(EXAMPLE), "--expectations", str(file), "--today", "2026-11-22"]
    assert run(argv) == code
    out = capsys.readouterr()
    assert out.out.splitlines()[0] == first_line
    assert out.err == ""


def test_gate_levels_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["gate", str(EXAMPLE), "--levels", "should,may"]) == 0
    assert capsys.readouterr().out == "gate: passed at SHOULD, MAY\n"


def test_gate_of_an_interrupted_or_flaky_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = passing()
    requirement(document, "WH-BODY-002").update(flaky=True, reason="first attempt timed out")
    assert run(["gate", str(write_json(tmp_path / "flaky.json", document))]) == 0
    assert "flaky: WH-BODY-002: " in capsys.readouterr().out
    document["outcome"] = "interrupted"
    assert run(["gate", str(write_json(tmp_path / "interrupted.json", document))]) == 1


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    out = capsys.readouterr()
    assert out.out == ""
    lines = out.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("conformance: ")
    return lines[0].removeprefix("conformance: ")


def test_gate_of_a_missing_summary_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "summary.json"
    assert run(["gate", str(missing)]) == 2
    assert one_error_line(capsys) == f"{missing}: No such file or directory"


def test_gate_of_a_summary_that_is_not_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "summary.json"
    broken.write_text('{"tool": ', encoding="utf-8")
    assert run(["gate", str(broken)]) == 2
    assert one_error_line(capsys).startswith(f"{broken}: line 1, column 10: invalid JSON")


def test_gate_of_an_invalid_summary_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = example()
    document["requirements"][2]["status"] = "excused"
    assert run(["gate", str(write_json(tmp_path / "summary.json", document))]) == 2
    line = one_error_line(capsys)
    assert line.startswith(str(tmp_path / "summary.json"))
    assert "requirements/2/status: 'excused' is not one of" in line


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("expectations:\n  - {id: WH-BODY-999, reason: r}\n", "expectations/0/id: 'WH-BODY-999'"),
        (
            "expectations:\n  - {id: WH-BODY-001, reason: r, expires: 2026-13-40}\n",
            "expectations/0/expires: '2026-13-40' is not a 'date'",
        ),
    ],
    ids=["unknown-id", "malformed-date"],
)
def test_gate_with_a_bad_expectations_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, error: str
) -> None:
    file = tmp_path / "expectations.yaml"
    file.write_text(text, encoding="utf-8")
    assert run(["gate", str(EXAMPLE), "--expectations", str(file)]) == 2
    assert one_error_line(capsys).startswith(f"{file}: {error}")


def test_gate_at_a_level_not_run_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = example()
    document["levels"] = ["MUST"]
    summary = write_json(tmp_path / "summary.json", document)
    assert run(["gate", str(summary), "--levels", "must,should"]) == 2
    assert one_error_line(capsys).startswith("--levels: the run did not include SHOULD")


def test_gate_with_an_unknown_level_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["gate", str(EXAMPLE), "--levels", "must,could"]) == 2
    assert one_error_line(capsys).startswith("--levels: unknown level COULD")


def test_gate_rejects_a_day_that_is_not_a_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["gate", str(EXAMPLE), "--today", "2026-02-30"]) == 2
    assert "'2026-02-30' is not a date (YYYY-MM-DD)" in capsys.readouterr().err


def test_gate_copes_with_the_example_as_given_without_mutating_it() -> None:
    document = example()
    before = copy.deepcopy(document)
    gate(document, Expectation("WH-BODY-001", "r", LATER))
    assert document == before


def test_a_run_limited_with_only_cannot_pass_a_gate_on_the_whole_level() -> None:
    """Silence is not conformance: what --only left out is untested, and blocks."""
    document = example()
    kept = requirement(document, "WH-CONV-004")  # a SHOULD that passed
    document["requirements"] = [kept]
    document["only"] = ["WH-CONV-004"]
    result = evaluate(document, levels=("SHOULD",), expectations=(), today=TODAY)
    should = [r.id for r in tines_spec.catalogue().at_levels(("SHOULD",))]
    assert sorted(b.id for b in result.blocking) == sorted(set(should) - {"WH-CONV-004"})
    assert {b.status for b in result.blocking} == {"untested"}
    assert "limited to WH-CONV-004 with --only" in result.blocking[0].reason
    excused = [Expectation(rid, "not ours", None) for rid in should if rid != "WH-CONV-004"]
    assert evaluate(document, levels=("SHOULD",), expectations=excused, today=TODAY).passed
