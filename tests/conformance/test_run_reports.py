"""What a run leaves behind: its own directory, every report format, retries that tell a flaky
check from a broken one, and the HAR file of every exchange.

Runs go through a child process against the fake target with small check files written for the
test, as in test_cli.py: the framework is under test, not the real checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tines_spec
from tests.conformance.conftest import FakeTarget, Profiles
from tests.conformance.test_cli import write_checks
from tests.support.suite_process import run_suite_command

# The first check fails on its first attempt only (pytest-rerunfailures runs it again in the same
# process, so a module-level counter sees the retry); the second fails every time.
RETRY_CHECKS = """
import pytest
from conformance.result import CheckFailure
from conformance.verify import expect_status

ATTEMPTS = {"flaky": 0}


@pytest.mark.requirement("STORY-GET-001", max_requests=1)
def test_passes_on_its_second_attempt(target, profile):
    ATTEMPTS["flaky"] += 1
    exchange = target.get_story(profile.stories.ids[0])
    if ATTEMPTS["flaky"] == 1:
        raise CheckFailure(["STORY-GET-001"], "a story", "a hiccup on the first attempt", exchange)
    expect_status(exchange, 200, "STORY-GET-001")


@pytest.mark.requirement("WH-BODY-001", max_requests=1)
def test_always_fails(target):
    exchange = target.probe({"hello": "world"})
    raise CheckFailure(["WH-BODY-001"], "the exit payload", "something else", exchange)
"""


def run_retry_checks(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path, *args: str
) -> Path:
    """`conformance run` of RETRY_CHECKS at MUST against the fake target; one of them always
    fails, so the run exits 1. Returns the report directory."""
    profile = profiles.write(fake_target.base_url)
    checks = write_checks(tmp_path, RETRY_CHECKS)
    reports = tmp_path / "reports"
    result = run_suite_command(
        "run", "--profile", str(profile), "--checks", str(checks), "--report-dir", str(reports),
        "--levels", "must", *args,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    return reports


def _summary(reports: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((reports / "summary.json").read_text("utf-8"))
    tines_spec.validator("report.schema.json").validate(document)
    return document


def _by_id(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["id"]: entry for entry in entries}


@pytest.mark.slow
def test_a_failed_check_is_run_again_and_a_pass_on_retry_is_flaky(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    reports = run_retry_checks(fake_target, profiles, tmp_path)
    summary = _summary(reports)
    assert summary["retries"] == 1
    checks_run = {c["id"].rsplit("::", 1)[1]: c for c in summary["checks"]}
    flaky = checks_run["test_passes_on_its_second_attempt"]
    assert (flaky["status"], flaky["attempts"], flaky["flaky"]) == ("passed", 2, True)
    assert flaky["failure"]["actual"] == "a hiccup on the first attempt"
    broken = checks_run["test_always_fails"]
    assert (broken["status"], broken["attempts"], broken["flaky"]) == ("failed", 2, False)
    assert broken["failed_requirements"] == ["WH-BODY-001"]
    requirements = _by_id(summary["requirements"])
    story = requirements["STORY-GET-001"]
    assert (story["status"], story["flaky"]) == ("passed", True)
    assert "passed on retry" in story["reason"]
    body = requirements["WH-BODY-001"]
    assert (body["status"], body["flaky"]) == ("failed", False)
    assert body["failure"]["expected"] == "the exit payload"
    assert body["failure"]["reproduce"].endswith(f"--only WH-BODY-001 --seed {summary['seed']}")
    assert body["failure"]["curl"].startswith("curl -i -X POST")
    # Both stay visible to a person: the flaky pass is not hidden among the clean ones.
    markdown = (reports / "summary.md").read_text("utf-8")
    assert "PASS (flaky)" in markdown
    assert "(passed on retry)" in markdown


@pytest.mark.slow
def test_without_retries_the_first_failure_is_the_verdict(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    reports = run_retry_checks(fake_target, profiles, tmp_path, "--retries", "0")
    summary = _summary(reports)
    assert summary["retries"] == 0
    assert {c["attempts"] for c in summary["checks"]} == {1}
    story = _by_id(summary["requirements"])["STORY-GET-001"]
    assert (story["status"], story["flaky"]) == ("failed", False)


@pytest.mark.slow
def test_each_run_gets_its_own_directory_and_latest_points_at_the_newest(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    profile = profiles.write(fake_target.base_url)
    checks = write_checks(tmp_path, RETRY_CHECKS)
    work = tmp_path / "work"
    work.mkdir()
    runs = []
    for _ in range(2):
        done = run_suite_command(
            *("run", "--profile", str(profile)),
            *("--checks", str(checks), "--levels", "must", "--retries", "0"),
            cwd=work,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        runs.append(done)
    directories = sorted(p for p in (work / "reports").iterdir() if p.name != "latest")
    assert len(directories) == 2
    latest = work / "reports" / "latest"
    assert latest.is_symlink()
    newest = _summary(latest)
    assert (work / "reports" / newest["run_id"]).resolve() == latest.resolve()
    assert newest["run_id"] in runs[1].stdout
    for directory in directories:
        assert directory.name == _summary(directory)["run_id"]
        names = {p.name for p in directory.iterdir()}
        assert {"summary.json", "summary.md", "junit.xml", "report.html", "exchanges.har"} <= names
        assert not [name for name in names if name.startswith(".")], "a spool was left behind"


# HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/): the fields each object must have.
HAR_REQUIRED = {
    "log": {"version", "creator", "entries"},
    "entry": {"startedDateTime", "time", "request", "response", "cache", "timings"},
    "request": {
        "method",
        "url",
        "httpVersion",
        "cookies",
        "headers",
        "queryString",
        "headersSize",
        "bodySize",
    },
    "response": {
        "status",
        "statusText",
        "httpVersion",
        "cookies",
        "headers",
        "content",
        "redirectURL",
        "headersSize",
        "bodySize",
    },
    "content": {"size", "mimeType"},
    "timings": {"send", "wait", "receive"},
}


@pytest.mark.slow
def test_the_har_file_holds_every_request_the_run_sent(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    reports = run_retry_checks(fake_target, profiles, tmp_path)
    summary = _summary(reports)
    har = json.loads((reports / "exchanges.har").read_text("utf-8"))
    log = har["log"]
    assert HAR_REQUIRED["log"] <= set(log)
    assert log["version"] == "1.2"
    entries = log["entries"]
    # The set-up check's story GET and two probes, then each check twice (the first attempt and
    # the retry): all of them.
    assert len(entries) == summary["requests_sent"] == fake_target.requests == 7
    for entry in entries:
        assert HAR_REQUIRED["entry"] <= set(entry)
        assert HAR_REQUIRED["request"] <= set(entry["request"])
        assert HAR_REQUIRED["response"] <= set(entry["response"])
        assert HAR_REQUIRED["content"] <= set(entry["response"]["content"])
        assert HAR_REQUIRED["timings"] <= set(entry["timings"])
        assert entry["response"]["status"] == 200
    checks_seen = [entry["_check"] for entry in entries]
    assert checks_seen[:3] == ["set-up check"] * 3
    assert sum(c.endswith("test_always_fails") for c in checks_seen) == 2
    probe = next(
        e for e in entries if e["request"]["method"] == "POST" and e["_check"] != "set-up check"
    )
    assert json.loads(probe["request"]["postData"]["text"])["exit"] == {"hello": "world"}
    assert json.loads(probe["response"]["content"]["text"]) == {"hello": "world"}
    assert probe["request"]["url"].endswith("/webhook/probe/***")
    story = entries[0]
    assert {"name": "Authorization", "value": "Bearer ***"} in story["request"]["headers"]
    text = (reports / "exchanges.har").read_text("utf-8")
    assert profiles.api_key not in text
    assert profiles.webhook_secret not in text


@pytest.mark.slow
def test_allure_results_carry_the_requirement_and_the_exchanges_as_evidence(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    reports = run_retry_checks(fake_target, profiles, tmp_path)
    allure = reports / "allure-results"
    results = [json.loads(p.read_text("utf-8")) for p in allure.glob("*-result.json")]
    final = next(r for r in results if r["name"] == "test_always_fails" and r["status"] == "failed")
    labels = {(label["name"], label["value"]) for label in final["labels"]}
    catalogue = tines_spec.catalogue()
    requirement = catalogue["WH-BODY-001"]
    assert {
        ("epic", catalogue.document_title(requirement)),
        ("feature", "WH-BODY"),
        ("story", "WH-BODY-001"),
        ("requirement", "WH-BODY-001"),
        ("level", "WH-BODY-001: MUST"),
        ("severity", "critical"),
    } <= labels
    link = {"type": "requirement", "name": "WH-BODY-001", "url": catalogue.source_url(requirement)}
    assert link in final["links"]
    [attachment] = [a for a in final["attachments"] if a["name"].startswith("exchange 1: POST")]
    evidence = json.loads((allure / attachment["source"]).read_text("utf-8"))
    assert evidence["request"]["url"].endswith("/webhook/probe/***")
    assert json.loads(evidence["response"]["content"]["text"]) == {"hello": "world"}
    for path in allure.iterdir():
        text = path.read_text("utf-8", errors="replace")
        assert profiles.api_key not in text, path.name
        assert profiles.webhook_secret not in text, path.name


@pytest.mark.slow
def test_every_report_renders_again_from_the_summary_alone_to_the_same_bytes(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    """summary.json is the one source: `conformance report` gives what the run wrote."""
    reports = run_retry_checks(fake_target, profiles, tmp_path)
    summary = reports / "summary.json"
    for format_, name in (("md", "summary.md"), ("junit", "junit.xml"), ("html", "report.html")):
        again = tmp_path / f"again-{name}"
        done = run_suite_command(
            "report", str(summary), "--format", format_, "--output", str(again)
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert again.read_bytes() == (reports / name).read_bytes(), name
