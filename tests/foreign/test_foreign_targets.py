"""The suite against targets it was not written against: what may pass is asserted exactly.

A requirement passes only on evidence, so against the naive implementation and the OpenAPI mock
(targets.py) exactly the requirements they really meet pass, and nothing else: the rest fail,
are blocked by a failure, or are skipped for what the profile leaves out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.suite_process import run_suite_command

from .targets import PROBE_PATH, Handler, mock, naive, serving

KEY_ENV = "FOREIGN_TARGET_KEY"
SAMPLE_ID = 7981

# What the naive implementation really meets: it answers the data as JSON with 200 (whatever
# the Accept header, which wildcards allow), returns a payload the convention does not apply to
# whole, names no limit on a data response, and serves a valid story under any key. Every story
# field of the sample is right; its live-activity fields are there even when not asked for.
# But it answers a delayed probe at once: the set-up check finds the probe's delay not applied,
# which names no rule, so every webhook check is blocked by the set-up and only the Stories
# checks run. It ignores every query parameter, so an empty one is answered as if not given
# (STORY-PARAM-002), and its sample's types are the ones Tines' Go SDK decodes (STORY-SDK-001).
NAIVE_MAY_PASS = {
    "STORY-PARAM-002",
    "STORY-SDK-001",
    "STORY-AUTH-001",
    "STORY-AUTH-002",
    "STORY-LIVE-001",
    "STORY-FIELD-002",
    "STORY-FIELD-003",
    "STORY-FIELD-004",
    "STORY-FIELD-005",
    "STORY-FIELD-006",
    "STORY-FIELD-007",
    "STORY-FIELD-008",
    "STORY-FIELD-010",
    "STORY-FIELD-011",
    "STORY-FIELD-012",
}
# What the static mock really meets: it takes any key, says a documented X-Tines-Status, sends
# no live-activity field, and its slug ("string") is underscored. Its webhook bodies are `{}`
# whatever was asked, so the set-up's probe already fails WH-BODY-001 and blocks the rest of the
# webhook checks. Like the naive one it ignores every query parameter (STORY-PARAM-002), and its
# schema example decodes in the Go SDK (STORY-SDK-001).
MOCK_MAY_PASS = {
    "STORY-PARAM-002",
    "STORY-SDK-001",
    "STORY-AUTH-001",
    "STORY-AUTH-002",
    "STORY-LIVE-002",
    "STORY-LIVE-003",
    "STORY-FIELD-012",
}


def _profile(base_url: str, path: Path, max_requests: int | None = None) -> Path:
    profile: dict[str, Any] = {
        "name": "foreign",
        "target": {"base_url": base_url, "api_key_env": KEY_ENV},
        "stories": {"ids": [SAMPLE_ID], "missing_id": 999999999},
        "webhooks": {
            "probe_url": base_url + PROBE_PATH,
            "exit_timeout_seconds": 1,
            "timing_margin_seconds": 0.5,
            "response_url_deadline_seconds": 2,
        },
        "safety": {"max_requests_per_second": 500, "max_in_flight": 8, "run_deadline_seconds": 120},
    }
    if max_requests is not None:
        profile["safety"]["max_requests"] = max_requests
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return path


def run_suite(
    handler: Handler, tmp_path: Path, *, plain: bool = False, max_requests: int | None = None
) -> tuple[int, dict[str, Any], str, int]:
    """The suite's exit code, summary and output, and the bound its dry run printed.

    `plain` runs it as a user would, without the plugin that stops hypothesis at a failure."""
    with serving(handler) as base_url:
        profile = _profile(base_url, tmp_path / "profile.yaml", max_requests)
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
        env[KEY_ENV] = "foreign-key-0123456789"
        if not plain:
            # As for the broken variants: hypothesis stops at a failing example.
            broken = str(Path(__file__).resolve().parents[1] / "broken")
            env["PYTHONPATH"] = os.pathsep.join(p for p in (broken, env.get("PYTHONPATH")) if p)
            env["PYTEST_PLUGINS"] = "suite_first_failure"
        args = [
            "--profile",
            str(profile),
            "--max-examples",
            "5",
            "--retries",
            "1" if plain else "0",
        ]

        def conformance(*more: str) -> subprocess.CompletedProcess[str]:
            return run_suite_command("run", *args, *more, env=env, timeout=300)

        plan = conformance("--dry-run")
        bounds = re.findall(r"at most (\d+) requests", plan.stdout)
        bounds += re.findall(r"the whole run stops at (\d+) requests", plan.stdout)
        bound = min(int(b) for b in bounds)
        result = conformance("--report-dir", str(tmp_path / "r"))
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    return result.returncode, summary, result.stdout + result.stderr, bound


def _passed(summary: dict[str, Any]) -> set[str]:
    return {r["id"] for r in summary["requirements"] if r["status"] == "passed"}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("handler", "may_pass"), [(naive, NAIVE_MAY_PASS), (mock, MOCK_MAY_PASS)], ids=["naive", "mock"]
)
def test_only_what_the_target_meets_passes(
    handler: Handler, may_pass: set[str], tmp_path: Path
) -> None:
    code, summary, output, bound = run_suite(handler, tmp_path)
    assert code == 3, output
    assert summary["outcome"] == "failed"
    assert summary["requests_sent"] <= bound
    verdicts = {r["id"]: (r["status"], r["reason"]) for r in summary["requirements"]}
    assert _passed(summary) == may_pass, verdicts


@pytest.mark.slow
def test_a_failing_target_costs_no_more_than_the_printed_bound(tmp_path: Path) -> None:
    """Run as a user runs it (hypothesis replays, one retry), against the mock, which fails
    nearly every check: no check sends more than its planned share, nor the run more than the
    dry run's bound; and the output shows no internals."""
    code, summary, output, bound = run_suite(mock, tmp_path, plain=True)
    assert code == 3, output
    assert 0 < summary["requests_sent"] <= bound, (summary["requests_sent"], bound)
    for check in summary["checks"]:
        planned = check["properties"]["requests_planned"]
        sent = int(check["properties"]["requests_sent"])
        assert planned == "not declared" or sent <= int(planned), check
    assert "Traceback" not in output
    assert "reproduce_failure" not in output


@pytest.mark.slow
def test_the_profiles_max_requests_caps_the_whole_run(tmp_path: Path) -> None:
    """Well below the plan's bound, `safety.max_requests` is the bound: the run sends no more,
    set-up included, and what it did not get to send for is untested with that reason."""
    code, summary, output, bound = run_suite(mock, tmp_path, plain=True, max_requests=12)
    assert bound == 12, output
    assert code == 3, output
    assert 0 < summary["requests_sent"] <= 12, summary["requests_sent"]
    stopped = [
        r["id"]
        for r in summary["requirements"]
        if r["status"] == "untested" and "safety.max_requests" in (r["reason"] or "")
    ]
    assert stopped, {r["id"]: (r["status"], r["reason"]) for r in summary["requirements"]}
