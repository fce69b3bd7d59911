"""junit.xml rendered from a summary, read back by ElementTree and by a real JUnit reader.

junitparser is the reader CI tools' own parsers resemble; it proves the file is JUnit as others
read it, not just XML as we wrote it.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path
from typing import Any

import junitparser
import pytest

from conformance import redaction
from conformance.cli import main
from conformance.expectations import Expectation, annotate
from conformance.reporting.junit import CHECKLESS_SUITE, SUITE, render_junit, write_junit
from tests.conformance.summaries import EXAMPLE, example, requirement

TODAY = date(2026, 11, 22)


def check(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in document["checks"] if c["id"].endswith(name))
    return found


def parse(document: dict[str, Any]) -> ET.Element:
    return ET.fromstring(render_junit(document))


def case(root: ET.Element, name: str) -> ET.Element:
    found = root.find(f".//testcase[@name='{name}']")
    assert found is not None, name
    return found


def properties(testcase: ET.Element) -> list[tuple[str, str]]:
    return [
        (p.get("name", ""), p.get("value", "")) for p in testcase.iterfind("properties/property")
    ]


def test_one_suite_of_checks_and_one_of_requirements_without_a_check() -> None:
    root = parse(example())
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [SUITE, CHECKLESS_SUITE]
    checks, checkless = suites
    assert {k: checks.get(k) for k in ("tests", "failures", "errors", "skipped", "time")} == {
        "tests": "4",
        "failures": "1",
        "errors": "0",
        "skipped": "1",
        "time": "10.770",
    }
    assert checks.get("timestamp") == "2026-11-22T12:00:00+00:00"
    # WH-BODY-003 is untested-or-skipped but covered by a check: only STORY-FIELD-013 has none.
    assert [c.get("name") for c in checkless.iter("testcase")] == ["STORY-FIELD-013"]
    assert (checkless.get("tests"), checkless.get("skipped")) == ("1", "1")
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("5", "1", "2")
    run = dict(properties(checks))
    assert run["run_id"] == "20261122T120000Z-0123abcd"
    assert run["command"].startswith("conformance run --profile profiles/acme.yaml")


def test_a_failed_check_carries_its_requirement_evidence_and_reproduction() -> None:
    document = example()
    root = parse(document)
    testcase = case(root, "test_exit_payload_is_the_body")
    assert testcase.get("classname") == "conformance.checks.test_conventions"
    assert testcase.get("time") == "0.420"
    sentence = requirement(document, "WH-BODY-001")["sentence"]
    assert properties(testcase) == [
        ("requirement", "WH-BODY-001"),
        ("level", "WH-BODY-001: MUST"),
        ("sentence", f"WH-BODY-001: {sentence}"),
        ("attempts", "2"),
        ("flaky", "false"),
        (
            "reproduce",
            "conformance run --profile profiles/acme.yaml --only WH-BODY-001 --seed 1234",
        ),
    ]
    failure = testcase.find("failure")
    assert failure is not None
    assert failure.get("type") == "CheckFailure"
    assert failure.get("message") == 'expected the exit payload {"a": 1} as the body; got {"a": 2}'
    assert failure.text == check(document, "test_exit_payload_is_the_body")["failure"]["details"]


def test_a_flaky_check_passes_with_its_failed_attempt_in_system_out() -> None:
    testcase = case(parse(example()), "test_default_is_json")
    assert testcase.find("failure") is None
    assert testcase.find("skipped") is None
    props = properties(testcase)
    assert ("flaky", "true") in props
    assert [v for k, v in props if k == "requirement"] == ["WH-BODY-002", "WH-CT-001"]
    assert [v for k, v in props if k == "level"] == ["WH-BODY-002: MUST", "WH-CT-001: MUST"]
    out = testcase.findtext("system-out") or ""
    assert out.startswith("passed on attempt 2; an earlier attempt failed:\n")
    assert "no answer within 10 s (ReadTimeout)" in out


def test_skipped_and_notrun_checks_are_skipped_with_their_reason() -> None:
    document = example()
    check(document, "test_story_fields").update(status="notrun", reason=None)
    root = parse(document)
    skipped = case(root, "test_race").find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "the profile has no webhooks.race_url"
    notrun = case(root, "test_story_fields").find("skipped")
    assert notrun is not None
    assert notrun.get("message") == "not run"


def test_an_expected_failure_stays_a_failure_and_says_so() -> None:
    document = annotate(example(), (Expectation("WH-BODY-001", "fix ships in 1.3", None),), TODAY)
    failure = case(parse(document), "test_exit_payload_is_the_body").find("failure")
    assert failure is not None
    assert failure.get("message") == (
        '[expected deviation: fix ships in 1.3] expected the exit payload {"a": 1} as the body; '
        'got {"a": 2}'
    )


def test_an_expected_deviation_excuses_only_the_requirement_it_names() -> None:
    document = example()
    failing = check(document, "test_exit_payload_is_the_body")
    failing["requirements"] = failing["failed_requirements"] = ["WH-BODY-001", "WH-CT-001"]
    document = annotate(document, (Expectation("WH-BODY-001", "fix in 1.3", None),), TODAY)
    failure = case(parse(document), "test_exit_payload_is_the_body").find("failure")
    assert failure is not None
    assert (failure.get("message") or "").startswith(
        "[expected deviation of WH-BODY-001: fix in 1.3] expected the exit payload"
    )


def test_an_expired_expectation_does_not_mark_the_failure() -> None:
    document = annotate(
        example(), (Expectation("WH-BODY-001", "fix in 1.3", date(2026, 1, 1)),), TODAY
    )
    failure = case(parse(document), "test_exit_payload_is_the_body").find("failure")
    assert failure is not None
    assert (failure.get("message") or "").startswith("expected the exit payload")


def test_a_requirement_without_a_check_is_a_skipped_case_with_its_sentence() -> None:
    testcase = case(parse(example()), "STORY-FIELD-013")
    assert testcase.get("classname") == "requirements.STORY-FIELD"
    assert ("level", "STORY-FIELD-013: MUST") in properties(testcase)
    skipped = testcase.find("skipped")
    assert skipped is not None
    assert (skipped.get("message") or "").startswith(
        "[expected deviation: cannot be seen through the Get API] The Get response does not list"
    )


def test_a_class_based_node_id_keeps_its_class_in_the_classname() -> None:
    document = example()
    check(document, "test_story_fields")["id"] = (
        "conformance/checks/test_stories.py::TestFields::test_story_fields[7981]"
    )
    testcase = case(parse(document), "test_story_fields[7981]")
    assert testcase.get("classname") == "conformance.checks.test_stories.TestFields"


def test_text_xml_forbids_and_secrets_never_reach_the_file() -> None:
    secret = "junit-test-secret-77a1c2"
    redaction.register_secret(secret)
    document = example()
    failure = check(document, "test_exit_payload_is_the_body")["failure"]
    failure["details"] = f"body: \x00\x1b[31m <tag> & {secret}"
    failure["summary"] = f"bad {secret}"
    text = render_junit(document)
    assert secret not in text
    element = case(ET.fromstring(text), "test_exit_payload_is_the_body").find("failure")
    assert element is not None
    assert element.text == "body: \\x00\\x1b[31m <tag> & ***"
    assert element.get("message") == "bad ***"


def test_a_junit_reader_accepts_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "junit.xml"
    write_junit(example(), path)
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {SUITE, CHECKLESS_SUITE}
    checks = suites[SUITE]
    assert (checks.tests, checks.failures, checks.errors, checks.skipped) == (4, 1, 0, 1)
    results = {c.name: [type(r).__name__ for r in c.result] for c in checks}
    assert results == {
        "test_exit_payload_is_the_body": ["Failure"],
        "test_default_is_json": [],
        "test_story_fields": [],
        "test_race": ["Skipped"],
    }
    failed = next(c for c in checks if c.name == "test_exit_payload_is_the_body")
    assert failed.result[0].type == "CheckFailure"
    assert [c.name for c in suites[CHECKLESS_SUITE]] == ["STORY-FIELD-013"]


# --- `conformance report` -------------------------------------------------------------------


def run(argv: list[str]) -> int:
    """The real command line, in process: the commands as `conformance` wires them."""
    return main(argv)


@pytest.fixture
def summary(tmp_path: Path) -> Path:
    path = tmp_path / "run" / "summary.json"
    path.parent.mkdir()
    shutil.copy(EXAMPLE, path)
    return path


@pytest.mark.parametrize(
    ("form", "name", "marker"),
    [
        ("junit", "junit.xml", "<testsuites"),
        ("md", "summary.md", "20261122T120000Z-0123abcd"),
        ("html", "report.html", "<html"),
    ],
)
def test_report_writes_beside_the_summary_by_default(
    summary: Path, capsys: pytest.CaptureFixture[str], form: str, name: str, marker: str
) -> None:
    assert run(["report", str(summary), "--format", form]) == 0
    written = summary.parent / name
    assert marker in written.read_text(encoding="utf-8")
    assert capsys.readouterr().out == f"wrote {written}\n"


def test_report_to_stdout_with_expectations(
    summary: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "expectations.yaml"
    file.write_text("expectations:\n  - {id: WH-BODY-001, reason: known bug 42}\n", "utf-8")
    argv = ["report", str(summary), "--format", "junit", "--output", "-"]
    assert run([*argv, "--expectations", str(file), "--today", "2026-11-22"]) == 0
    root = ET.fromstring(capsys.readouterr().out)
    failure = case(root, "test_exit_payload_is_the_body").find("failure")
    assert failure is not None
    assert (failure.get("message") or "").startswith("[expected deviation: known bug 42] ")
    # The file given replaces the summary's own expectations: STORY-FIELD-013 is no longer one.
    skipped = case(root, "STORY-FIELD-013").find("skipped")
    assert skipped is not None
    assert (skipped.get("message") or "").startswith("The Get response")


def test_report_to_a_chosen_file(summary: Path, tmp_path: Path) -> None:
    output = tmp_path / "elsewhere" / "conformance.xml"
    assert run(["report", str(summary), "--format", "junit", "--output", str(output)]) == 0
    assert ET.parse(output).getroot().tag == "testsuites"


def test_report_refuses_to_overwrite_the_summary(
    summary: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = summary.read_bytes()
    assert run(["report", str(summary), "--format", "md", "--output", str(summary)]) == 2
    assert capsys.readouterr().err == (
        f"conformance: --output: {summary} is the summary itself; it is not overwritten\n"
    )
    assert summary.read_bytes() == before


def test_report_of_a_missing_summary_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["report", str(tmp_path / "none.json"), "--format", "junit"]) == 2
    assert capsys.readouterr().err == (
        f"conformance: {tmp_path / 'none.json'}: No such file or directory\n"
    )
    assert not (tmp_path / "junit.xml").exists()


def test_report_needs_a_known_format(summary: Path) -> None:
    assert run(["report", str(summary), "--format", "pdf"]) == 2
