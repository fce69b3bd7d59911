"""Secrets never leave the process: not in any file a run writes, not in its output.

The reference is started with a known random API key, and it draws random webhook secrets for
its stories. The suite then runs against it twice: the whole built-in suite (every level, the
limit test included: response URLs, bursts, every report format), and a set of checks written to
fail in every way a check can, each dragging the secrets into its failure (a CheckFailure with
the exchange, an exception whose message holds them, printed and logged lines). Every byte the
runs wrote, and everything they printed, is then scanned for each secret in the forms it could
take (as is, URL-encoded, base64).
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import yaml

from conformance.demo import reference_server
from tests.support.suite_process import run_suite_command

FAILING_CHECKS = """
import logging

import pytest
from conformance.result import CheckFailure


@pytest.mark.requirement("STORY-GET-001", max_requests=1)
def test_fails_with_the_story_exchange(target, profile):
    exchange = target.get_story(profile.stories.ids[0])
    raise CheckFailure(
        ["STORY-GET-001"], f"not {profile.api_key()}", f"got {exchange.text}", exchange
    )


@pytest.mark.requirement("WH-BODY-001", max_requests=1)
def test_fails_with_the_probe_exchange(target, profile):
    exchange = target.probe({"echo": profile.webhooks.probe_url}, 0)
    print("printed:", profile.webhooks.probe_url, profile.api_key())
    log = logging.getLogger("check")
    log.warning("logged: %s %s", profile.webhooks.race_url, profile.api_key())
    raise CheckFailure(["WH-BODY-001"], profile.webhooks.probe_url, exchange.text, exchange)


@pytest.mark.requirement("WH-BODY-002", max_requests=1)
def test_errors_with_the_secrets_in_its_message(target, profile):
    raise RuntimeError(f"boom at {profile.webhooks.probe_url} with {profile.api_key()}")
"""


def _secret_of(url: str) -> str:
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return segments[segments.index("webhook") + 2]


def _forms(secret: str) -> set[bytes]:
    """Each form a secret could be written in: as is, URL-encoded, base64 (as an HTTP Basic
    credential would be) with and without padding."""
    raw = secret.encode()
    encoded = base64.b64encode(raw)
    return {raw, quote(secret, safe="").encode(), encoded, encoded.rstrip(b"=")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], str, set[str]]:
    work = tmp_path_factory.mktemp("secrets")
    key = "key-" + secrets.token_urlsafe(24)
    with reference_server(work, log_path=work / "reference.log", api_key=key) as reference:
        profile = yaml.safe_load(reference.profile_path.read_text(encoding="utf-8"))
        hooks = profile["webhooks"]
        found = {key, _secret_of(hooks["probe_url"]), _secret_of(hooks["race_url"])}
        env = {**os.environ, profile["target"]["api_key_env"]: key, "PYTHONUNBUFFERED": "1"}
        checks = work / "failing"
        checks.mkdir()
        (checks / "test_leaky.py").write_text(FAILING_CHECKS, encoding="utf-8")
        commands = {
            "whole": ["--include-limit-test"],
            "failing": ["--checks", str(checks), "--levels", "must"],
        }
        output = []
        directories = []
        for name, extra in commands.items():
            directory = work / name
            done = run_suite_command(
                *("run", "--profile", str(reference.profile_path), "--report-dir", str(directory)),
                *extra,
                env=env,
                timeout=300,
            )
            assert done.returncode == (0 if name == "whole" else 1), done.stdout + done.stderr
            output.append(done.stdout + done.stderr)
            directories.append(directory)
    return directories, "\n".join(output), found


def test_the_runs_did_handle_the_secrets(runs: tuple[list[Path], str, set[str]]) -> None:
    """The scan below means something only if the secrets were really in play: the runs sent
    them (the masks are where they would be) and the failing run failed where it should."""
    directories, output, _ = runs
    whole, failing = directories
    har = (whole / "exchanges.har").read_text(encoding="utf-8")
    assert '"value": "Bearer ***"' in har
    assert "/***" in har
    failures = (failing / "summary.json").read_text(encoding="utf-8")
    assert "boom at" in failures
    assert "RuntimeError" in failures
    assert "outcome: failed" in output


def test_no_file_a_run_writes_holds_a_secret(runs: tuple[list[Path], str, set[str]]) -> None:
    directories, _, found = runs
    scanned = 0
    for directory in directories:
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            data = path.read_bytes()
            scanned += 1
            for secret in found:
                for form in _forms(secret):
                    assert form not in data, f"{path.relative_to(directory.parent)} holds a secret"
    # Both runs wrote every report: the summary, Markdown, JUnit, HTML, HAR and Allure results.
    assert scanned >= 2 * 6


def test_nothing_a_run_prints_holds_a_secret(runs: tuple[list[Path], str, set[str]]) -> None:
    _, output, found = runs
    data = output.encode()
    for secret in found:
        for form in _forms(secret):
            assert form not in data
