"""The set-up check: a target set up wrongly costs seconds and a handful of requests, says why in
one line naming the URL, blocks only what depends on the broken part, and exits 3."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conformance.conftest import HTML_PAGE, FakeTarget, Profiles, free_port
from tests.support.suite_process import run_suite_command

# Two requirements of each area: one the set-up's answer can contradict, one it cannot.
_ONLY = ("STORY-AUTH-001", "STORY-GET-001", "WH-ENTRY-001", "WH-BODY-001", "WH-CT-001")


def _run(
    fake: FakeTarget, profiles: Profiles, tmp_path: Path, base_url: str | None = None
) -> tuple[int, str, str, dict[str, Any], float]:
    profile = profiles.write(base_url or fake.base_url)
    reports = tmp_path / "reports"
    started = time.monotonic()
    only = [arg for rid in _ONLY for arg in ("--only", rid)]
    args = ("--report-dir", str(reports), "--max-examples", "2", *only)
    done = run_suite_command("run", "--profile", str(profile), *args)
    elapsed = time.monotonic() - started
    written = reports / "summary.json"
    assert written.is_file(), done.stdout + done.stderr
    summary = json.loads(written.read_text(encoding="utf-8"))
    return done.returncode, done.stdout, done.stderr, summary, elapsed


def _row(summary: dict[str, Any], rid: str) -> dict[str, Any]:
    row: dict[str, Any] = next(r for r in summary["requirements"] if r["id"] == rid)
    return row


def _setup_problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("conformance: ")]


@pytest.mark.parametrize(
    ("mode", "failed", "blocked", "runs", "cause"),
    [
        ("no_probe", "WH-ENTRY-001", ("WH-BODY-001", "WH-CT-001"), "STORY-AUTH-001", "`webhook`"),
        ("refuse_key", "STORY-AUTH-001", ("STORY-GET-001",), "WH-CT-001", "API key was refused"),
        ("wrong_echo", "WH-BODY-001", ("WH-CT-001",), "STORY-AUTH-001", "does not emit"),
        ("no_delay", None, ("WH-ENTRY-001", "WH-CT-001"), "STORY-AUTH-001", "`wait` action"),
    ],
)
def test_a_broken_set_up_is_one_line_fails_its_rule_blocks_its_area_and_exits_3(
    fake_target: FakeTarget,
    profiles: Profiles,
    tmp_path: Path,
    mode: str,
    failed: str | None,
    blocked: tuple[str, ...],
    runs: str,
    cause: str,
) -> None:
    """What came back from the set-up fails the rule it contradicts, with that exchange as its
    evidence; the area's other checks are blocked by it and not sent; the other area runs."""
    fake_target.mode = mode
    code, out, err, summary, elapsed = _run(fake_target, profiles, tmp_path)
    assert code == 3, out + err
    assert elapsed < 30, f"took {elapsed:.0f} s"
    assert fake_target.requests < 50
    (line,) = _setup_problems(err)
    assert cause in line
    assert fake_target.base_url in line
    assert profiles.webhook_secret not in out + err
    assert profiles.api_key not in out + err
    because_of = [failed] if failed else []
    if failed is not None:
        row = _row(summary, failed)
        assert row["status"] == "failed", row
        assert ": set-up: " in row["reason"], row
        assert row["failure"]["curl"], "the set-up's exchange is the evidence"
    for rid in blocked:
        row = _row(summary, rid)
        assert (row["status"], row["blocked_by"]) == ("blocked", because_of), row
    assert {r["id"] for r in summary["requirements"] if r["status"] == "failed"} <= {failed}
    row = _row(summary, runs)
    assert row["status"] in ("passed", "failed"), row
    assert not row["blocked_by"]


def test_an_unreachable_target_is_one_line_and_still_writes_its_reports(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err, summary, elapsed = _run(fake_target, profiles, tmp_path, url)
    assert code == 3, out + err
    assert err.strip() == f"conformance: cannot reach {url} : connection refused"
    assert elapsed < 30
    assert summary["requests_sent"] == 1
    statuses = {r["status"] for r in summary["requirements"]}
    assert statuses <= {"blocked", "untested"}, statuses
    assert any("cannot reach" in c["cause"] or url in c["cause"] for c in summary["root_causes"])
    assert (tmp_path / "reports" / "report.html").is_file()


def test_check_setup_alone_on_a_good_target_passes(
    fake_target: FakeTarget, profiles: Profiles
) -> None:
    done = run_suite_command("check-setup", "--profile", str(profiles.write(fake_target.base_url)))
    assert done.returncode == 0, done.stderr
    assert "set-up: stories: ok" in done.stdout
    assert "set-up: probe story: ok" in done.stdout
    assert fake_target.requests <= 4


@pytest.mark.parametrize("flag", ["--dry-run", "--levels=must", "--include-limit-test"])
def test_check_setup_alone_refuses_run_options_rather_than_ignore_them(
    fake_target: FakeTarget, profiles: Profiles, flag: str
) -> None:
    """`--dry-run` promises no request: a command that would send its set-up requests anyway
    must refuse it, as it refuses every other option of `run` it does not honour."""
    profile = str(profiles.write(fake_target.base_url))
    done = run_suite_command("check-setup", "--profile", profile, flag)
    assert (done.returncode, fake_target.requests) == (2, 0)
    assert f"unrecognized arguments: {flag}" in done.stderr
    shown = run_suite_command("check-setup", "--help")
    assert shown.returncode == 0
    assert flag.split("=")[0] not in shown.stdout
    assert "exit codes: 0 the set-up is right; 2 usage or profile error; 3 set-up failed" in (
        " ".join(shown.stdout.split())
    )


def test_check_setup_says_an_answers_excerpt_is_one(
    fake_target: FakeTarget, profiles: Profiles
) -> None:
    fake_target.mode = "html_page"
    profile = str(profiles.write(fake_target.base_url))
    done = run_suite_command("check-setup", "--profile", profile)
    assert done.returncode == 3
    story_line = next(line for line in done.stderr.splitlines() if "/stories/" in line)
    assert f"(its first 120 characters of {len(HTML_PAGE)})" in story_line, story_line


def test_check_setup_alone_names_the_wrapped_exit_payload(
    fake_target: FakeTarget, profiles: Profiles
) -> None:
    fake_target.mode = "wrapped"
    done = run_suite_command("check-setup", "--profile", str(profiles.write(fake_target.base_url)))
    assert done.returncode == 3
    (line,) = done.stderr.strip().splitlines()
    assert "`exit` action" in line
    assert "<<webhook.body.exit>>" in line
    assert "README, section 'The probe story and the race story'" in line


def _failing_run(fake: FakeTarget, profiles: Profiles, tmp_path: Path, *extra: str) -> str:
    profile = profiles.write(fake.base_url)
    done = run_suite_command(
        "run",
        "--profile",
        str(profile),
        "--report-dir",
        str(tmp_path / "reports"),
        "--only",
        "WH-CONV-001",
        "--max-examples",
        "3",
        *extra,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_a_failing_run_shows_no_internals_unless_debug(
    fake_target: FakeTarget, profiles: Profiles, tmp_path: Path
) -> None:
    """The fake echoes a status convention payload as it is, so WH-CONV-001 fails on every
    example: without --debug no traceback and no hypothesis hint, with it both."""
    quiet = _failing_run(fake_target, profiles, tmp_path / "quiet")
    assert "Traceback" not in quiet
    assert "reproduce_failure" not in quiet
    assert "Falsifying example" not in quiet
    assert "WH-CONV-001" in quiet
    # Progress by area, in plain lines: no pytest header, letters or warnings, no colour.
    assert "[1/1] conventions: 1 check" in quiet
    assert "test session starts" not in quiet
    assert "warnings summary" not in quiet
    assert "\x1b[" not in quiet
    sent_quiet = fake_target.requests
    # Shrinking is off by default: the failing check costs about what a passing one does.
    assert sent_quiet < 20
    loud = _failing_run(fake_target, profiles, tmp_path / "loud", "--debug")
    assert "reproduce_failure" in loud
    assert "test_conventions.py:" in loud
    assert "test session starts" in loud
