"""The CI examples in docs/ci/ are run as far as a test can: every `conformance` command in them
is parsed by the real command-line parser, their shell is executed against a stand-in
`conformance`, the profile they run is loaded, and their expectations file is validated.

An example that names an option the CLI lost, runs a profile the schema rejects, or lets the
job stop before its reports are published would otherwise be found by the first person who
copies it.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.cli import build_parser
from conformance.expectations import load_expectations
from conformance.profile import load_profile

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "docs" / "ci"
GITHUB = CI / "github-actions.yml"
GITLAB = CI / "gitlab-ci.yml"
PROFILE = CI / "profile.yaml"
EXPECTATIONS = Path("docs/ci/expectations.yaml")
CONTROL_OPERATORS = {";", "&&", "||", "|", "&", "(", ")", ";;"}


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def github_steps() -> list[dict[str, Any]]:
    (job,) = load(GITHUB)["jobs"].values()
    steps: list[dict[str, Any]] = job["steps"]
    return steps


def gitlab_job() -> dict[str, Any]:
    (job,) = (v for v in load(GITLAB).values() if isinstance(v, dict) and "script" in v)
    return job


def github_scripts() -> list[str]:
    return [step["run"] for step in github_steps() if "run" in step]


def gitlab_scripts() -> list[str]:
    job = gitlab_job()
    return [*job.get("before_script", []), *job["script"], *job.get("after_script", [])]


def without_heredocs(script: str) -> str:
    """The script less the bodies of its here-documents, which are data, not commands."""
    kept, terminator = [], None
    for line in script.splitlines():
        if terminator is not None:
            if line.strip() == terminator:
                terminator = None
            continue
        kept.append(line)
        opened = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if opened:
            terminator = opened.group(1)
    return "\n".join(kept)


def conformance_commands(script: str) -> list[list[str]]:
    """The argument lists of every `conformance` command a shell script runs."""
    text = re.sub(r"\$\{\{.*?\}\}", "EXPR", script)
    text = without_heredocs(text)
    text = re.sub(r"\\\n\s*", " ", text)
    text = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", r"/placeholder/\1", text)
    text = text.replace("$?", "0")
    commands = []
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        segment: list[str] = []
        for token in [*lexer, ";"]:
            if token not in CONTROL_OPERATORS:
                segment.append(token)
                continue
            while segment and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", segment[0]):
                segment.pop(0)
            if segment and segment[0] == "conformance":
                commands.append(segment[1:])
            segment = []
    return commands


def test_the_extractor_finds_commands_in_every_shape_of_shell() -> None:
    script = (
        'code=0; FOO=1 conformance run --profile "$P" \\\n  --seed 3 || code=$?\n'
        "cat > x <<EOF\nconformance: not a command\nEOF\n"
        "echo ${{ secrets.X }} && conformance gate s.json  # a comment\n"
    )
    assert conformance_commands(script) == [
        ["run", "--profile", "/placeholder/P", "--seed", "3"],
        ["gate", "s.json"],
    ]


@pytest.mark.parametrize("example", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_every_conformance_command_parses_with_the_real_parser(
    example: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scripts = github_scripts() if example == GITHUB else gitlab_scripts()
    commands = [argv for script in scripts for argv in conformance_commands(script)]
    assert [argv[0] for argv in commands] == ["run", "gate"]
    parsed = {}
    for argv in commands:
        try:
            parsed[argv[0]] = build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(
                f"{example.name}: `conformance {shlex.join(argv)}`: {capsys.readouterr().err}"
            )
    assert parsed["run"].report_dir == Path("reports/ci")
    assert parsed["run"].expectations == EXPECTATIONS
    assert parsed["gate"].summary == Path("reports/ci/summary.json")
    assert parsed["gate"].levels == "must,should"
    assert parsed["gate"].expectations == EXPECTATIONS


def test_the_expectations_file_of_the_examples_is_valid() -> None:
    ids = [e.id for e in load_expectations(ROOT / EXPECTATIONS)]
    # The limit test is not run from CI; STORY-FIELD-013 needs no entry (it is not-observable).
    assert "WH-CONC-001" in ids
    assert "STORY-FIELD-013" not in ids


def test_github_publishes_the_reports_whatever_happened_and_gates_last() -> None:
    steps = github_steps()
    junit = next(i for i, s in enumerate(steps) if "action-junit-report" in s.get("uses", ""))
    step_summary = next(i for i, s in enumerate(steps) if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    upload = next(i for i, s in enumerate(steps) if "upload-artifact" in s.get("uses", ""))
    gate = next(i for i, s in enumerate(steps) if "conformance gate" in s.get("run", ""))
    assert steps[junit]["with"]["report_paths"] == "reports/ci/junit.xml"
    assert "reports/ci/summary.md" in steps[step_summary]["run"]
    assert steps[upload]["with"]["path"].rstrip("/") == "reports/ci"
    for index in (junit, step_summary, upload):
        assert "always()" in steps[index].get("if", ""), steps[index]
    assert gate == len(steps) - 1
    assert gate > max(junit, step_summary, upload)
    # The gate must not be skipped because a publishing step failed.
    assert "always()" in steps[gate]["if"]


def test_gitlab_keeps_the_reports_whatever_happened_and_gates_last() -> None:
    job = gitlab_job()
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["reports"]["junit"] == "reports/ci/junit.xml"
    assert [p.rstrip("/") for p in artifacts["paths"]] == ["reports/ci"]
    assert job["script"][-1].startswith("conformance gate ")


def test_secrets_come_from_the_ci_and_are_never_written_into_the_repository() -> None:
    (job,) = load(GITHUB)["jobs"].values()
    for name in ("TINES_API_KEY", "TINES_PROBE_URL", "TINES_RACE_URL"):
        assert job["env"][name] == f"${{{{ secrets.{name} }}}}"
    # GitLab takes them from masked CI/CD variables: the job must not define them itself.
    assert not {"TINES_API_KEY", "TINES_PROBE_URL", "TINES_RACE_URL"} & set(
        gitlab_job().get("variables", {})
    )
    text = PROFILE.read_text(encoding="utf-8")
    assert "/webhook/" not in text
    assert "probe_url:" not in text
    assert "race_url:" not in text


# --- the examples' shell, run against a stand-in `conformance` ---------------------------------


@pytest.fixture
def fake_conformance(tmp_path: Path) -> Path:
    """A `conformance` on PATH that logs its arguments and exits with $FAKE_RUN / $FAKE_GATE."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "conformance"
    script.write_text(
        "#!/bin/sh\n"
        'echo "$*" >> "$FAKE_LOG"\n'
        'case "$1" in run) exit "$FAKE_RUN" ;; gate) exit "$FAKE_GATE" ;; esac\n'
        "exit 99\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def bash(
    script: str, tmp_path: Path, bin_dir: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """The script as both CIs run it: bash with errexit and pipefail, from a fresh directory."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    environment = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_LOG": str(tmp_path / "calls.log"),
        "GITHUB_OUTPUT": str(tmp_path / "github_output"),
        **env,
    }
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def github_run_step() -> str:
    step = next(s for s in github_steps() if s.get("id") == "run")
    script: str = step["run"]
    return script


@pytest.mark.parametrize(("code", "step_exit"), [(0, 0), (1, 0), (4, 0), (130, 0), (2, 2), (3, 3)])
def test_github_run_step_goes_on_to_publish_unless_there_is_no_report(
    tmp_path: Path, fake_conformance: Path, code: int, step_exit: int
) -> None:
    done = bash(github_run_step(), tmp_path, fake_conformance, FAKE_RUN=str(code), FAKE_GATE="0")
    assert done.returncode == step_exit, done.stderr
    assert (tmp_path / "github_output").read_text() == f"exit-code={code}\n"


@pytest.mark.parametrize(
    ("run_code", "gate_code", "job_exit"),
    [(1, 0, 0), (1, 1, 1), (0, 1, 1), (4, 0, 0), (130, 1, 1), (3, 0, 3)],
)
def test_gitlab_script_lets_the_gate_decide(
    tmp_path: Path, fake_conformance: Path, run_code: int, gate_code: int, job_exit: int
) -> None:
    script = "\n".join(gitlab_job()["script"])
    done = bash(
        script, tmp_path, fake_conformance, FAKE_RUN=str(run_code), FAKE_GATE=str(gate_code)
    )
    assert done.returncode == job_exit, done.stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert [call.split()[0] for call in calls] == (["run"] if run_code == 3 else ["run", "gate"])


@pytest.mark.parametrize("example", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_the_examples_run_the_committed_profile(example: Path) -> None:
    scripts = github_scripts() if example == GITHUB else gitlab_scripts()
    runs = [c for script in scripts for c in conformance_commands(script) if c[0] == "run"]
    assert runs
    for command in runs:
        assert command[command.index("--profile") + 1] == "docs/ci/profile.yaml"


def test_the_committed_profile_reads_its_secrets_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probe = "https://acme-staging.tines.com/webhook/0a1b2c/probe-secret-a1"
    race = "https://acme-staging.tines.com/webhook/9f8e7d/race-secret-b2"
    monkeypatch.setenv("TINES_PROBE_URL", probe)
    monkeypatch.setenv("TINES_RACE_URL", race)
    profile = load_profile(PROFILE)
    assert (profile.webhooks.probe_url, profile.webhooks.race_url) == (probe, race)
    assert profile.target.api_key_env == "TINES_API_KEY"
