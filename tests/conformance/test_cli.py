"""`conformance` as a user meets it: exit codes, one-line errors, reports, dry run, Ctrl-C.

Errors found before pytest starts (profile, IDs, reachability) are tested in-process through
`cli.main`; runs go through a child process against a fake target, with a small check selection
written for the test (the framework is under test here, not the real checks).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conformance import cli
from conformance.exit_codes import EXIT_DEADLINE
from tests.conformance.conftest import FakeTarget, Profiles, free_port
from tests.support.suite_process import run_suite_command, suite_command

SAMPLE_CHECKS = """
import pytest
from conformance.verify import expect_status, json_body


@pytest.mark.requirement("STORY-GET-001", max_requests=1)
def test_story_is_json(target, profile):
    exchange = target.get_story(profile.stories.ids[0])
    expect_status(exchange, 200, "STORY-GET-001")
    json_body(exchange, "STORY-GET-001")


@pytest.mark.requirement("WH-BODY-001", max_requests=1)
def test_probe_echoes(target):
    exchange = target.probe({"hello": "world"})
    expect_status(exchange, 200, "WH-BODY-001")
"""

SLOW_CHECK = """
import pytest

from conformance.background import slow_probe


@slow_probe("slow", requirement_ids=["STORY-GET-001"])
async def probe_slow(client, profile):
    return await client.request("GET", profile.target.base_url + "/slow", timeout=100)


@pytest.mark.requirement("STORY-GET-001", max_requests=1)
def test_waits_on_a_slow_probe(target, profile, background):
    background.outcome("slow")


@pytest.mark.requirement("STORY-GET-002", max_requests=1)
def test_waits_on_a_slow_target(target, profile):
    target.request("GET", profile.target.base_url + "/slow", timeout=100)
"""


def write_checks(directory: Path, source: str) -> Path:
    checks = directory / "checks"
    checks.mkdir(exist_ok=True)
    (checks / "test_sample.py").write_text(source, encoding="utf-8")
    return checks


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr


def main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_unreachable_target_exits_3_with_one_line(
    profiles: Profiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    profile = profiles.write(url)
    code, _, err = main(capsys, "run", "--profile", str(profile), "--report-dir", str(tmp_path))
    assert code == 3
    assert err.strip() == f"conformance: cannot reach {url} : connection refused"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("target: [unclosed\n", "line 2, column 1: invalid YAML"),
        (
            "target: {base_url: 'http://x', api_key_env: K}\nstories: {ids: [1], missing_id: 2}\n"
            "webhooks: {probe_url: 'ftp://x/y'}\n",
            "webhooks.probe_url: 'ftp://x/y' does not match",
        ),
        (
            "target: {base_url: 'http://x', api_key_env: K}\nwebhooks: {probe_url: 'http://x'}\n",
            "stories: 'stories' is a required property",
        ),
    ],
)
def test_malformed_profile_exits_2_naming_file_and_field(
    tmp_path: Path, content: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "broken.yaml"
    profile.write_text(content, encoding="utf-8")
    code, _, err = main(capsys, "run", "--profile", str(profile))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"conformance: {profile}: ")
    assert expected in lines[0]


def test_missing_api_key_variable_exits_2_before_any_request(
    fake_target: FakeTarget,
    profiles: Profiles,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    profile = profiles.write(fake_target.base_url)
    monkeypatch.delenv("CONFORMANCE_FRAMEWORK_TEST_KEY")
    code, _, err = main(capsys, "run", "--profile", str(profile))
    assert code == 2
    assert "CONFORMANCE_FRAMEWORK_TEST_KEY is not set" in err
    assert fake_target.requests == 0


def test_unknown_only_id_exits_2_naming_it(
    fake_target: FakeTarget, profiles: Profiles, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = profiles.write(fake_target.base_url)
    code, _, err = main(capsys, "run", "--profile", str(profile), "--only", "WH-NOPE-999")
    assert code == 2
    assert "WH-NOPE-999" in err
    assert len(err.strip().splitlines()) == 1
    assert fake_target.requests == 0


@pytest.mark.slow
def test_unknown_only_id_through_plain_pytest_is_a_usage_error(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    """`pytest --conformance-profile` refuses a typo too: never a silent empty run."""
    profile = profiles.write(fake_target.base_url)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--conformance-profile={profile}",
            "--conformance-only=WH-NOPE-999",
            str(write_checks(tmp_path, SAMPLE_CHECKS)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "WH-NOPE-999" in result.stderr
    no_traceback(result)


@pytest.mark.slow
def test_garbage_target_is_a_failed_run_with_a_reason_and_no_secret(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    fake_target.mode = "garbage"
    profile = profiles.write(fake_target.base_url)
    reports = tmp_path / "reports"
    checks = write_checks(tmp_path, SAMPLE_CHECKS)
    result = run_suite_command(
        "run", "--profile", str(profile), "--report-dir", str(reports), "--checks", str(checks)
    )
    assert result.returncode == 1, result.stdout + result.stderr
    no_traceback(result)
    summary = json.loads((reports / "summary.json").read_text())
    verdicts = {r["id"]: r for r in summary["requirements"]}
    assert summary["outcome"] == "failed"
    assert verdicts["STORY-GET-001"]["status"] == "failed"
    assert "not JSON" in verdicts["STORY-GET-001"]["reason"]
    assert verdicts["WH-BODY-001"]["status"] == "passed"
    assert verdicts["STORY-FIELD-013"]["status"] == "not-observable"  # not-black-box, with why
    assert verdicts["STORY-FIELD-013"]["reason"]
    assert summary["seed"] is not None
    assert summary["requests_sent"] >= 3  # the preflight GET, then the two checks
    for name in ("summary.json", "summary.md", "junit.xml"):
        text = (reports / name).read_text()
        assert profiles.api_key not in text, name
        assert profiles.webhook_secret not in text, name
    assert profiles.api_key not in result.stdout + result.stderr
    assert profiles.webhook_secret not in result.stdout + result.stderr
    junit = (reports / "junit.xml").read_text()
    assert 'name="requirement" value="STORY-GET-001"' in junit
    assert "reproduce: curl" in junit
    assert "FAIL" in (reports / "summary.md").read_text()
    # Every request, the preflight GET included, carried the run's ID and the suite's User-Agent.
    assert {seen["headers"]["x-conformance-run-id"] for seen in fake_target.seen} == {
        summary["run_id"]
    }
    assert all(
        seen["headers"]["user-agent"].startswith("tines-conformance/") for seen in fake_target.seen
    )


@pytest.mark.slow
def test_run_that_leaves_requirements_untested_exits_1(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    """Its checks pass, but most requirements had none: the run is `incomplete`, and exits as
    `conformance gate` does on it (the demo shows exit 0 on a run that passes)."""
    profile = profiles.write(fake_target.base_url)
    checks = write_checks(tmp_path, SAMPLE_CHECKS)
    result = run_suite_command(
        "run",
        "--profile",
        str(profile),
        "--report-dir",
        str(tmp_path / "r"),
        "--checks",
        str(checks),
        "--levels",
        "must",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["levels"] == ["MUST"]
    assert {r["level"] for r in summary["requirements"]} == {"MUST"}
    assert "outcome: incomplete" in result.stdout
    # Why, in the terminal: the requirements no check covered, said once for all of them.
    untested = [r["id"] for r in summary["requirements"] if r["status"] == "untested"]
    assert f"incomplete: {len(untested)} untested ({', '.join(untested)})" in " ".join(
        result.stdout.split()
    )
    # pytest's count of tests is not the requirements' count, and its warnings are its own.
    assert " passed" not in result.stdout.splitlines()[-1], result.stdout
    assert "warning" not in result.stdout, result.stdout
    gate = run_suite_command("gate", str(tmp_path / "r" / "summary.json"))
    assert gate.returncode == 1, gate.stdout


@pytest.mark.slow
def test_dry_run_sends_nothing_and_prints_the_plan(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    profile = profiles.write(fake_target.base_url)
    checks = write_checks(tmp_path, SAMPLE_CHECKS)
    result = run_suite_command(
        "run", "--profile", str(profile), "--checks", str(checks), "--dry-run"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_sample.py::test_story_is_json" in result.stdout
    assert "requirements:  STORY-GET-001" in result.stdout
    assert "GET /api/v1/stories/{story_id}" in result.stdout
    # One request, counted once more for the default retry; the set-up check's are counted too.
    assert "most requests: 2 (2 attempts)" in result.stdout
    assert "the set-up check, before any check" in result.stdout
    assert fake_target.requests == 0
    # A selection no check covers is a usage error, not an empty run that exits 0.
    empty = run_suite_command(
        "run", "--profile", str(profile), "--checks", str(checks), "--dry-run", "--levels", "may"
    )
    assert empty.returncode == 2
    assert "no check covers level MAY" in empty.stdout + empty.stderr


def test_the_built_in_checks_declare_what_they_may_send(
    fake_target: FakeTarget, profiles: Profiles
) -> None:
    """The plan of the real suite bounds every check's requests, per-story checks by the
    profile's number of stories, so a user knows what a run may send to their tenant."""
    profile = profiles.write(fake_target.base_url)
    result = run_suite_command(
        "run", "--profile", str(profile), "--dry-run", "--include-limit-test"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not declared" not in result.stdout
    assert "without a declared bound" not in result.stdout
    stories = len(yaml.safe_load(profile.read_text(encoding="utf-8"))["stories"]["ids"])
    plan = result.stdout.split("checks/test_stories.py::test_no_live_activity_fields_by_default")
    # Per story, and once more for the default retry.
    assert f"most requests: {2 * stories} (2 attempts)\n" in plan[1].split("checks/")[0]
    assert fake_target.requests == 0


def test_requirements_listing(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = main(capsys, "requirements", "--level", "must")
    assert code == 0
    assert "STORY-GET-001" in out
    assert all(" MUST " in line for line in out.splitlines()[:-1])
    code, out, _ = main(capsys, "requirements", "--json")
    rows = json.loads(out)
    assert {"id", "level", "title"} <= set(rows[0])
    assert len({row["level"] for row in rows}) >= 2
    code, _, err = main(capsys, "requirements", "--level", "sometimes")
    assert code == 2
    assert "SOMETIMES" in err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = main(capsys, "run")
    assert code == 2
    assert "--profile" in err


def _interrupted_run(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path, **safety: float
) -> tuple[subprocess.Popen[str], Path]:
    profile = profiles.write(fake_target.base_url, safety=dict(safety))
    checks = write_checks(tmp_path, SLOW_CHECK)
    reports = tmp_path / "reports"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "conformance",
            "run",
            "--profile",
            str(profile),
            "--report-dir",
            str(reports),
            "--checks",
            str(checks),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    return process, reports


@pytest.mark.slow
def test_sigint_ends_the_run_quickly_with_a_partial_report(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    process, reports = _interrupted_run(fake_target, profiles, tmp_path)
    try:
        assert fake_target.slow_started.wait(30), "the slow check never reached the target"
        interrupted_at = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        took = time.monotonic() - interrupted_at
    finally:
        process.kill()
    assert process.returncode == 130, out + err
    # A few seconds (about 2-3 s here, most of it the interpreter's own exit); the bound leaves
    # room for a loaded CI machine.
    assert took < 10
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["outcome"] == "interrupted"
    verdict = next(r for r in summary["requirements"] if r["id"] == "STORY-GET-001")
    assert verdict["status"] == "untested"
    assert "interrupted" in verdict["reason"]
    assert "Traceback" not in err


@pytest.mark.slow
def test_run_deadline_ends_the_run_as_interrupted(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    process, reports = _interrupted_run(fake_target, profiles, tmp_path, run_deadline_seconds=3)
    try:
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == EXIT_DEADLINE, out + err
    summary = json.loads((reports / "summary.json").read_text())
    assert summary["outcome"] == "interrupted"
    verdict = next(r for r in summary["requirements"] if r["id"] == "STORY-GET-001")
    assert "deadline" in verdict["reason"]


def test_a_reader_that_stops_reading_ends_the_listing_quietly() -> None:
    """`conformance requirements | head` must not end in a BrokenPipeError traceback."""
    command = suite_command("requirements")
    listing = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert listing.stdout is not None
    # Closed before the interpreter has even started, so its first write meets a closed pipe
    # (the whole listing would otherwise fit in the pipe's buffer and never see one).
    listing.stdout.close()
    _, stderr = listing.communicate(timeout=60)
    assert b"Traceback" not in stderr
    assert listing.returncode == 141


def _commands() -> list[str]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    assert action.choices is not None
    return sorted(action.choices)


@pytest.mark.parametrize("command", _commands())
def test_every_commands_help_gives_its_exit_codes(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = main(capsys, command, "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "exit codes: 0 " in text
    assert "2 usage" in text


def test_the_top_level_help_says_where_the_exit_codes_are(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = main(capsys, "--help")
    assert code == 0
    assert "Each command's --help gives its exit codes" in " ".join(out.split())


def test_the_plan_says_which_checks_will_not_run_and_which_read_a_probe(
    fake_target: FakeTarget, profiles: Profiles
) -> None:
    """Without --include-limit-test the limit checks are in the plan as not run, with the flag
    that runs them; a check whose requests are a background probe's says which probe."""
    profile = str(profiles.write(fake_target.base_url))
    without = run_suite_command("run", "--profile", profile, "--dry-run", "--only", "WH-CONC-001")
    assert without.returncode == 0, without.stdout + without.stderr
    limit_check = without.stdout.split("checks/test_limits.py::")[1]
    assert "not run:       the concurrency-limit test runs only with --include-limit-test" in (
        limit_check
    )
    assert "most requests" not in limit_check.split("\n\n")[0]
    assert "1 check (1 not run);" in without.stdout
    included = run_suite_command(
        "run", "--profile", profile, "--dry-run", "--only", "WH-CONC-001", "--include-limit-test"
    )
    assert "not run" not in included.stdout
    assert "it reads the concurrency_burst probe's answers" in included.stdout
    assert fake_target.requests == 0


@pytest.mark.parametrize(
    ("broken", "said"),
    [
        ("def broken(:\n", "a check module cannot be loaded: checks/test_broken.py: SyntaxError"),
        (None, "no check covers level MAY: nothing would run"),
    ],
)
def test_a_selection_that_cannot_run_is_one_line_and_exit_2(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path, broken: str | None, said: str
) -> None:
    """Found at collection: said in the suite's one line, not as pytest's collection error or
    its interrupt banner, and no check sends anything."""
    profile = profiles.write(fake_target.base_url)
    checks = write_checks(tmp_path, SAMPLE_CHECKS)
    levels = "must" if broken else "may"
    if broken:
        (checks / "test_broken.py").write_text(broken, encoding="utf-8")
    result = run_suite_command(
        "run", "--profile", str(profile), "--checks", str(checks), "--levels", levels
    )
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"conformance: {said}"), line
    for internal in ("Interrupted", "_pytest", "!!!", "error in"):
        assert internal not in result.stdout + result.stderr
    no_traceback(result)
    assert "[1/" not in result.stdout  # no area started: no check ran
