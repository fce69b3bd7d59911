"""The set-up check: a target set up wrongly costs seconds and a handful of requests, says why in
one line naming the URL, blocks only what depends on the broken part, and exits 3."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conformance.conftest import FakeTarget, Profiles, run_cli

# One Stories check and one webhook check: each area has a check to block or to run.
_STORIES = "STORY-AUTH-001"
_WEBHOOK = "WH-CT-001"


def _run(fake: FakeTarget, profiles: Profiles, tmp_path: Path) -> tuple[int, str, dict, float]:
    profile = profiles.write(fake.base_url)
    reports = tmp_path / "reports"
    started = time.monotonic()
    done = run_cli(
        "run",
        "--profile",
        str(profile),
        "--report-dir",
        str(reports),
        "--only",
        _STORIES,
        "--only",
        _WEBHOOK,
    )
    elapsed = time.monotonic() - started
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    return done.returncode, done.stdout + done.stderr, summary, elapsed


def _status(summary: dict, rid: str) -> tuple[str, str]:
    row = next(r for r in summary["requirements"] if r["id"] == rid)
    return row["status"], row.get("reason") or ""


def _setup_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("conformance: set-up: ")]


@pytest.mark.parametrize(
    ("mode", "blocked", "runs", "cause"),
    [
        ("no_probe", _WEBHOOK, _STORIES, "the probe story's `webhook` action"),
        ("refuse_key", _STORIES, _WEBHOOK, "the API key was refused by"),
        ("wrapped", _WEBHOOK, _STORIES, "it wraps the value in an object"),
        ("no_delay", _WEBHOOK, _STORIES, "the probe story's `wait` action"),
    ],
)
def test_a_broken_set_up_is_one_line_blocks_its_area_and_exits_3(
    fake_target: FakeTarget,
    profiles: Profiles,
    tmp_path: Path,
    mode: str,
    blocked: str,
    runs: str,
    cause: str,
) -> None:
    fake_target.mode = mode
    code, output, summary, elapsed = _run(fake_target, profiles, tmp_path)
    assert code == 3, output
    assert elapsed < 60, f"took {elapsed:.0f} s"
    assert fake_target.requests < 50
    problems = [line for line in _setup_lines(output) if not line.endswith(": ok")]
    assert len(problems) == 1, output
    (line,) = problems
    assert cause in line
    assert fake_target.base_url in line
    assert profiles.webhook_secret not in output
    assert profiles.api_key not in output
    status, reason = _status(summary, blocked)
    assert status != "passed"
    assert "blocked by the set-up check" in reason
    status, reason = _status(summary, runs)
    assert status in ("passed", "failed"), reason
    assert "blocked" not in reason


def test_check_setup_alone_on_a_good_target_passes(
    fake_target: FakeTarget, profiles: Profiles
) -> None:
    done = run_cli("check-setup", "--profile", str(profiles.write(fake_target.base_url)))
    assert done.returncode == 0, done.stderr
    assert "set-up: stories: ok" in done.stdout
    assert "set-up: probe story: ok" in done.stdout
    assert fake_target.requests <= 4


def test_check_setup_alone_names_the_wrapped_exit_payload(
    fake_target: FakeTarget, profiles: Profiles
) -> None:
    fake_target.mode = "wrapped"
    done = run_cli("check-setup", "--profile", str(profiles.write(fake_target.base_url)))
    assert done.returncode == 3
    (line,) = done.stderr.strip().splitlines()
    assert "`exit` action" in line
    assert "<<webhook.body.exit>>" in line
    assert "README, section 'The probe story and the race story'" in line


def _failing_run(fake: FakeTarget, profiles: Profiles, tmp_path: Path, *extra: str) -> str:
    profile = profiles.write(fake.base_url)
    done = run_cli(
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
    sent_quiet = fake_target.requests
    # Shrinking is off by default: the failing check costs about what a passing one does.
    assert sent_quiet < 20
    loud = _failing_run(fake_target, profiles, tmp_path / "loud", "--debug")
    assert "reproduce_failure" in loud
    assert "test_conventions.py:" in loud
