"""`conformance compare OLD NEW`: each kind of change, its warnings, exit 1 only on regressions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli import main
from conformance.reporting.compare import compare, render_comparison
from tests.conformance.summaries import EXAMPLE, example, requirement


def changes(lines: list[str]) -> list[str]:
    """The lines after the verdict and the two identity lines."""
    return lines[3:]


def test_a_run_compared_with_itself_has_no_changes() -> None:
    comparison = compare(example(), example())
    assert comparison.exit_code == 0
    lines = render_comparison(comparison)
    assert lines[0] == (
        "compare: 0 newly failing, 0 newly passing, 0 other status changes, 0 newly flaky, "
        "0 added, 0 removed"
    )
    assert lines[1] == (
        "old: run 20261122T120000Z-0123abcd started 2026-11-22T12:00:00+00:00, target "
        "acme-staging at http://127.0.0.1:8765, spec 1.0.0, levels MUST, SHOULD, MAY, "
        "outcome failed"
    )
    assert lines[2].startswith("new: run 20261122T120000Z-0123abcd")
    assert changes(lines) == []


@pytest.mark.parametrize(
    ("rid", "was"),
    [("WH-CONV-004", "passed"), ("WH-BODY-003", "skipped"), ("STORY-FIELD-013", "untested")],
)
def test_a_requirement_that_now_fails_is_a_regression(rid: str, was: str) -> None:
    new = example()
    requirement(new, rid).update(status="failed", reason="got 500")
    comparison = compare(example(), new)
    assert comparison.exit_code == 1
    assert [c.id for c in comparison.newly_failing] == [rid]
    level = requirement(new, rid)["level"]
    assert changes(render_comparison(comparison)) == [
        f"newly failing: {rid} ({level}, was {was}): got 500"
    ]


def test_a_requirement_that_now_passes_is_reported_without_failing() -> None:
    new = example()
    requirement(new, "WH-BODY-001").update(status="passed", reason=None, failure=None)
    comparison = compare(example(), new)
    assert comparison.exit_code == 0
    assert changes(render_comparison(comparison)) == ["newly passing: WH-BODY-001 (MUST)"]


def test_other_status_changes_are_reported_without_failing() -> None:
    new = example()
    requirement(new, "WH-CONV-004").update(status="untested", reason="the run hit its deadline")
    requirement(new, "WH-BODY-001").update(status="skipped", reason="no probe_url")
    comparison = compare(example(), new)
    assert comparison.exit_code == 0
    assert changes(render_comparison(comparison)) == [
        "changed: WH-BODY-001 (MUST, failed -> skipped): no probe_url",
        "changed: WH-CONV-004 (SHOULD, passed -> untested): the run hit its deadline",
    ]


def test_a_requirement_that_became_flaky_is_reported() -> None:
    old = example()
    requirement(old, "WH-BODY-002").update(flaky=False, reason=None, failure=None)
    comparison = compare(old, example())
    assert comparison.exit_code == 0
    assert changes(render_comparison(comparison)) == [
        "newly flaky: WH-BODY-002 (MUST); first attempt: conformance/checks/test_negotiation.py"
        "::test_default_is_json: TimeoutError: no answer within 10 s"
    ]


def test_requirements_one_run_lacks_are_added_or_removed() -> None:
    old = example()
    old["requirements"] = [r for r in old["requirements"] if r["id"] != "WH-CONV-004"]
    new = example()
    new["requirements"] = [r for r in new["requirements"] if r["id"] != "WH-BODY-001"]
    comparison = compare(old, new)
    # A requirement that did not exist before is not a regression, whatever its status.
    assert comparison.exit_code == 0
    assert changes(render_comparison(comparison)) == [
        "added: WH-CONV-004 (SHOULD, passed)",
        "removed: WH-BODY-001 (MUST, was failed)",
    ]


def test_different_targets_spec_versions_and_levels_are_warned_about() -> None:
    new = example()
    new["target"] = {"name": None, "base_url": "https://other.example", "profile": None}
    new["spec_version"] = "1.1.0"
    new["levels"] = ["MUST"]
    new["run_id"] = "20261123T080000Z-89abcdef"
    lines = render_comparison(compare(example(), new))
    assert lines[2].startswith(
        "new: run 20261123T080000Z-89abcdef started 2026-11-22T12:00:00+00:00, "
        "target https://other.example, spec 1.1.0, levels MUST"
    )
    assert changes(lines) == [
        "warning: the targets differ (acme-staging at http://127.0.0.1:8765 vs "
        "https://other.example): a difference may be between the targets, not a change of one",
        "warning: the spec versions differ (1.0.0 vs 1.1.0): requirements may have changed meaning",
        "warning: the levels differ (MUST, SHOULD, MAY vs MUST): requirements of one level show "
        "as added or removed",
    ]


# --- through the command line -------------------------------------------------------------


def run(argv: list[str]) -> int:
    """The real command line, in process: the commands as `conformance` wires them."""
    return main(argv)


def test_compare_exits_1_on_a_regression_and_0_otherwise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regressed = example()
    requirement(regressed, "WH-CT-001")["status"] = "failed"
    new = tmp_path / "new.json"
    new.write_text(json.dumps(regressed), encoding="utf-8")
    assert run(["compare", str(EXAMPLE), str(new)]) == 1
    assert "newly failing: WH-CT-001 (MUST, was passed)" in capsys.readouterr().out
    # The other way round the failure goes away: newly passing, not a regression.
    assert run(["compare", str(new), str(EXAMPLE)]) == 0
    assert "newly passing: WH-CT-001 (MUST)" in capsys.readouterr().out


def test_compare_with_an_invalid_summary_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = example()
    del broken["run_id"]
    new = tmp_path / "new.json"
    new.write_text(json.dumps(broken), encoding="utf-8")
    assert run(["compare", str(EXAMPLE), str(new)]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (
        f"conformance: {new}: not a run summary (report.schema.json): (root): "
        "'run_id' is a required property\n"
    )
