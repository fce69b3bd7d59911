"""Verdicts per requirement, and the reports that carry them: valid, ordered, secret-free."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

import tines_spec
from conformance import redaction
from conformance.exchange import Exchange, ReceivedResponse, SentRequest
from conformance.reporting.markdown import render_markdown
from conformance.reporting.outcomes import (
    PRECONDITION,
    CheckOutcome,
    RunSummary,
    judge,
    judge_all,
    root_causes,
    run_outcome,
)
from conformance.reporting.summary import redacted_document, write_summary_json
from conformance.reporting.table import render_table
from conformance.result import CheckFailure

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "summaries"
CATALOGUE = tines_spec.catalogue()
PLAIN = CATALOGUE["WH-BODY-001"]  # black-box, no `needs`
NEEDY = next(r for r in CATALOGUE.requirements if r.needs)
OPAQUE = next(r for r in CATALOGUE.requirements if r.verification == "not-black-box")


def outcome(
    rid: str, status: str, reason: str | None = None, failed: tuple[str, ...] = ()
) -> CheckOutcome:
    return CheckOutcome(f"checks/test_x.py::test_{status}", (rid,), status, reason, failed)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("requirement", "outcomes", "stopped", "status", "reason_part"),
    [
        (PLAIN, [outcome(PLAIN.id, "passed")], None, "passed", None),
        (PLAIN, [], None, "untested", "no check covers it"),
        (PLAIN, [], "interrupted", "untested", "not run: interrupted"),
        (
            PLAIN,
            [outcome(PLAIN.id, "passed"), outcome(PLAIN.id, "failed", "boom", (PLAIN.id,))],
            None,
            "failed",
            "boom",
        ),
        (PLAIN, [outcome(PLAIN.id, "notrun")], "the run deadline", "untested", "deadline"),
        (PLAIN, [outcome(PLAIN.id, "skipped", "no reason")], None, "untested", "skipped"),
        (NEEDY, [outcome(NEEDY.id, "skipped", "no race_url")], None, "skipped", "no race_url"),
        (
            PLAIN,
            [outcome(PLAIN.id, "failed", "other broke", ("WH-BODY-002",))],
            None,
            "untested",
            "stopped at a failure of WH-BODY-002",
        ),
        (OPAQUE, [outcome(OPAQUE.id, "passed")], None, "not-observable", "it held"),
        (OPAQUE, [outcome(OPAQUE.id, "failed", "x", (OPAQUE.id,))], None, "failed", "x"),
        (
            PLAIN,
            [
                outcome(PLAIN.id, "passed"),
                CheckOutcome(
                    "checks/test_x.py::test_blocked",
                    (PLAIN.id,),
                    "blocked",
                    "blocked by WH-BODY-002: status 404",
                    blocked_ids=(PLAIN.id,),
                    blocked_by=("WH-BODY-002",),
                ),
            ],
            None,
            "blocked",
            "blocked by WH-BODY-002",
        ),
        (
            PLAIN,
            [
                CheckOutcome(
                    "checks/test_x.py::test_unseen",
                    (PLAIN.id,),
                    "skipped",
                    "no evidence: no answer said error",
                    unobserved_ids=(PLAIN.id,),
                )
            ],
            None,
            "untested",
            "no evidence",
        ),
    ],
)
def test_verdict_rules(
    requirement: tines_spec.Requirement,
    outcomes: list[CheckOutcome],
    stopped: str | None,
    status: str,
    reason_part: str | None,
) -> None:
    verdict = judge(requirement, outcomes, stopped)
    assert verdict.status == status
    if reason_part is None:
        assert verdict.reason is None
    else:
        assert verdict.reason is not None
        assert reason_part in verdict.reason


def test_run_outcome() -> None:
    passed = judge_all([PLAIN], [outcome(PLAIN.id, "passed")], None)
    assert run_outcome(passed, [], None) == "passed"
    failed = judge_all([PLAIN], [outcome(PLAIN.id, "failed", "x", (PLAIN.id,))], None)
    assert run_outcome(failed, [], None) == "failed"
    assert run_outcome(passed, [], "interrupted") == "interrupted"


def make_summary(secret: str) -> RunSummary:
    requirements = CATALOGUE.at_levels(("MUST", "SHOULD"))
    failure = CheckFailure(
        [PLAIN.id],
        "body {}",
        f"body with {secret}",
        Exchange(
            SentRequest("GET", f"http://t/webhook/p/{secret}", (("Authorization", "Bearer k"),)),
            ReceivedResponse(200, "OK", (), secret.encode()),
        ),
    )
    outcomes = [
        outcome(PLAIN.id, "failed", failure.reason, (PLAIN.id,)),
        outcome("WH-BODY-002", "passed"),
    ]
    results = judge_all(requirements, outcomes, None)
    return RunSummary(
        tool_version="0.1.0",
        spec_version=CATALOGUE.spec_version,
        run_id="run-1",
        target_name="fake",
        base_url="http://t",
        profile_path="profile.yaml",
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        duration_seconds=1.5,
        levels=("MUST", "SHOULD"),
        seed=1234,
        outcome=run_outcome(results, outcomes, None),
        requests_sent=7,
        requirements=results,
    )


def test_summary_json_is_valid_and_secret_free(tmp_path: Path) -> None:
    secret = "s3cr3t-value-for-the-test"
    redaction.register_secret(secret)
    summary = make_summary(secret)
    written = write_summary_json(summary, tmp_path / "summary.json")
    text = (tmp_path / "summary.json").read_text()
    assert secret not in text
    assert json.loads(text) == written
    assert not list(tines_spec.validator("report.schema.json").iter_errors(written))
    assert written["totals"]["MUST"]["failed"] == 1
    assert written["seed"] == 1234
    assert len(written["requirements"]) == len(CATALOGUE.at_levels(("MUST", "SHOULD")))


def test_markdown_puts_failures_first_and_hides_secrets() -> None:
    secret = "another-s3cret-for-markdown"
    redaction.register_secret(secret)
    text = render_markdown(redacted_document(make_summary(secret)))
    assert secret not in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and " | " in line[2:]]
    requirement_rows = [row for row in rows if row.split(" | ")[1].count("-") == 2]
    assert requirement_rows[0].startswith(f"| FAIL | {PLAIN.id} ")
    assert "| MUST | " in text  # the totals table


def test_markdown_shows_each_failure_with_its_evidence_and_the_flaky_and_expected() -> None:
    """The Markdown report renders the summary document alone: the stored example carries a
    failure, a pass on retry and known deviations, and each shows where a person looks."""
    document = json.loads((EXAMPLES / "failing.json").read_text(encoding="utf-8"))
    text = render_markdown(document)
    failing = next(r for r in document["requirements"] if r["status"] == "failed")
    flaky = next(r for r in document["requirements"] if r["flaky"])
    section = text.split(f"### {failing['id']} ", 1)[1].split("###", 1)[0]
    assert failing["sentence"] in section
    assert failing["failure"]["reproduce"] in section
    assert failing["failure"]["curl"] in section
    assert f"### {flaky['id']} ({flaky['level']}) (passed on retry)" in text
    assert "PASS (flaky)" in text
    assert "(expected)" in text
    assert "(now-passing)" in text
    assert document["command"] in text
    first_row = next(line for line in text.splitlines() if line.startswith("| FAIL"))
    assert failing["id"] in first_row


def test_table_lists_every_requirement_failures_first() -> None:
    summary = make_summary("third-secret-value")
    lines = render_table(summary, width=100)
    head = next(n for n, line in enumerate(lines) if line.startswith("status"))
    assert lines[head + 1].startswith("failed")
    assert PLAIN.id in lines[head + 1]
    assert lines[-1].startswith("outcome: failed")
    assert (
        sum(
            1 for line in lines if line.split(" ", 1)[0] in {"passed", "untested", "not-observable"}
        )
        == len(summary.requirements) - 1
    )


def test_failure_text_and_curl_are_redacted() -> None:
    secret = "curl-s3cret-value"
    redaction.register_secret(secret)
    exchange = Exchange(
        SentRequest(
            "POST",
            f"http://t/webhook/p/{secret}",
            (("Authorization", "Bearer unregistered-key"), ("X-User-Token", "tok")),
            f'{{"echo": "{secret}"}}'.encode(),
        ),
        ReceivedResponse(500, "Oops", (("X-Leak", secret),), f"leaked {secret}".encode()),
    )
    failure = CheckFailure([PLAIN.id], "status 200", f"status 500 with {secret}", exchange)
    text = str(failure)
    assert secret not in text
    assert "unregistered-key" not in text  # credential headers are masked whatever their value
    assert "reproduce: curl" in text
    assert secret not in exchange.curl()
    assert PLAIN.sentence in text


def test_every_operation_a_check_module_declares_is_in_the_spec() -> None:
    """The dry-run plan prints what the modules declare; a typo there would mislead a user
    about what the suite will call on their tenant."""
    import importlib
    import pkgutil

    from conformance import checks
    from conformance.reporting.plan import _operations

    known = set(_operations())
    declared: dict[str, tuple[str, ...]] = {}
    for module_info in pkgutil.iter_modules(checks.__path__):
        module = importlib.import_module(f"conformance.checks.{module_info.name}")
        mark = getattr(module, "pytestmark", None)
        if mark is not None:
            declared[module_info.name] = tuple(mark.args)
    assert declared, "no check module declares its operations"
    for name, operations in declared.items():
        assert set(operations) <= known, f"{name} declares {set(operations) - known}"


def test_table_wraps_a_reason_rather_than_cutting_it() -> None:
    summary = make_summary("fourth-secret-value")
    failed = next(r for r in summary.requirements if r.status == "failed")
    lines = render_table(summary, width=60)
    rows = [line for line in lines if line.startswith(("failed", " "))]
    assert len(rows) > 1, "a reason longer than the width goes on to a second line"
    joined = " ".join(" ".join(lines).split())
    assert failed.reason is not None
    assert " ".join(redaction.redact(failed.reason).split()) in joined
    assert "…" not in "\n".join(line for line in lines if not line.startswith("passed"))


def test_table_says_a_root_cause_once_and_points_the_blocked_rows_at_it() -> None:
    blocked = CheckOutcome(
        "checks/test_x.py::test_blocked",
        (PLAIN.id,),
        "blocked",
        "blocked by a failed precondition: set-up: probe story at http://t/webhook/p/x: "
        "expected 200; got 503",
        blocked_ids=(PLAIN.id,),
    )
    verdict = judge(PLAIN, [blocked], None)
    summary = dataclasses.replace(make_summary("fifth-secret-value"), requirements=(verdict,))
    lines = render_table(summary, width=120)
    # The cause is what failed, said once: not one blocked check's verdict.
    assert lines[0] == (
        "1 requirement blocked by one cause: set-up: probe story at http://t/webhook/p/x: "
        "expected 200; got 503"
    )
    (row,) = [line for line in lines if line.startswith("blocked")]
    assert row.endswith("blocked by a failed precondition (the cause above)")


def test_an_incomplete_run_says_what_kept_it_from_passing() -> None:
    """A run with no failure that still exits 1 names why, so a right target set up for the
    default run is not left guessing which flag it lacks."""
    because = "runs only with --include-limit-test"
    skipped = ("WH-CONC-001", "WH-CONC-002")  # they need the limit test
    # From two checks: the reason is said once for both.
    outcomes = [
        dataclasses.replace(outcome(rid, "skipped", because), nodeid=f"checks/test_x.py::t{n}")
        for n, rid in enumerate(skipped)
    ]
    results = judge_all([CATALOGUE[rid] for rid in skipped], outcomes, None)
    summary = dataclasses.replace(
        make_summary("sixth-secret-value"),
        requirements=results,
        outcome=run_outcome(results, outcomes, None),
    )
    lines = render_table(summary, width=120)
    assert lines[-2].startswith("outcome: incomplete")
    assert lines[-1] == f"incomplete: 2 skipped (WH-CONC-001, WH-CONC-002): {because}"
    passed = dataclasses.replace(summary, outcome="failed")
    assert not any(line.startswith("incomplete:") for line in render_table(passed, width=120))


def test_two_broken_parts_of_the_set_up_are_two_causes() -> None:
    """Requirements blocked by no requirement, only by a precondition, are grouped by what
    failed: a broken probe story and a missing story are two causes, each with its own."""
    probe = "set-up: probe story at http://t/webhook/p/x: expected 200; got 501"
    stories = "set-up: stories at http://t/api/v1/stories/1: expected 200; got 404"

    def blocked(rid: str, cause: str, n: int) -> CheckOutcome:
        return CheckOutcome(
            f"checks/test_x.py::test_{n}",
            (rid,),
            "blocked",
            f"blocked by {PRECONDITION}: {cause}",
            blocked_ids=(rid,),
        )

    webhook_ids = ("WH-BODY-001", "WH-BODY-002")
    outcomes = [blocked(rid, probe, n) for n, rid in enumerate(webhook_ids)]
    # Two checks of one story requirement: `_first` adds "(and 1 more)", not part of the cause.
    outcomes += [blocked("STORY-GET-001", stories, n) for n in (7, 8)]
    outcomes.append(blocked("STORY-GET-002", stories, 9))
    ids = (*webhook_ids, "STORY-GET-001", "STORY-GET-002")
    results = judge_all([CATALOGUE[rid] for rid in ids], outcomes, None)
    causes = {c.cause: set(c.blocked) for c in root_causes(results)}
    assert causes == {probe: set(webhook_ids), stories: {"STORY-GET-001", "STORY-GET-002"}}
