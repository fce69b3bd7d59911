"""`conformance provision` against a freshly started reference: the path a tenant's user takes.

Provision, then `conformance run` on the profile it wrote, passes; a second provision creates
nothing new; `--remove` leaves the reference as it was, and never deletes a story it did not make.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

import tines_spec
from conformance.cli import main
from conformance.profile import load_profile
from tests.support.suite_process import run_suite_command

from .conftest import Provision, Tenant

pytestmark = pytest.mark.slow


def _profile(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def _story_ids(profile: dict[str, Any]) -> list[int]:
    return [entry["story_id"] for entry in profile["provisioned"]["stories"].values()]


def test_provision_then_run_passes(
    tenant: Tenant,
    tmp_path: Path,
    provision: Provision,
) -> None:
    out = tmp_path / "tenant.yaml"
    code, output = provision("--profile-out", str(out), "--exit-timeout", "3")
    assert code == 0, output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    written = _profile(out)
    tines_spec.validator("profile.schema.json").validate(written)
    assert written["webhooks"]["probe_url"].startswith(f"{tenant.url}/webhook/")
    reports = tmp_path / "reports"
    done = run_suite_command(
        *("run", "--profile", str(out), "--report-dir", str(reports), "--max-examples", "3"),
        env={**os.environ, "TINES_API_KEY": tenant.key},
        timeout=300,
    )
    summary = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    status = {r["id"]: r["status"] for r in summary["requirements"]}
    # A provisioned profile names no concurrency limit (a tenant's is not published), no draft
    # and no Send to Story story, so those requirements are skipped for the profile setting
    # they need, and the run is incomplete (exit 1, as the gate would say); all else passed.
    needs = {r.id: r.needs for r in tines_spec.catalogue().requirements}
    skipped = {rid for rid, st in status.items() if st == "skipped"}
    assert "limits.concurrency" in {needs[rid] for rid in skipped}, status
    assert all(needs[rid] for rid in skipped), status
    judged = {st for rid, st in status.items() if rid not in skipped}
    assert judged <= {"passed", "not-observable"}, (done.stdout + done.stderr)[-3000:]
    assert done.returncode == 1, (done.stdout + done.stderr)[-3000:]
    # The race story's requirement and the probe's contract ran on the imported stories.
    assert status["WH-BODY-003"] == "passed"
    assert status["WH-CONV-001"] == "passed"
    assert provision("--profile-out", str(out), "--remove")[0] == 0


def test_second_provision_creates_nothing_new(
    tenant: Tenant,
    tmp_path: Path,
    provision: Provision,
) -> None:
    out = tmp_path / "tenant.yaml"
    assert provision("--profile-out", str(out))[0] == 0
    first = _profile(out)
    before = tenant.actions()
    code, output = provision("--profile-out", str(out))
    assert code == 0, output
    assert "imported" not in output
    assert output.count("reused story") == 2
    assert tenant.actions() == before
    assert _profile(out) == first
    assert provision("--profile-out", str(out), "--remove")[0] == 0


def test_remove_leaves_the_reference_as_it_was(
    tenant: Tenant,
    tmp_path: Path,
    provision: Provision,
) -> None:
    out = tmp_path / "tenant.yaml"
    before = tenant.actions()
    assert provision("--profile-out", str(out))[0] == 0
    made = _story_ids(_profile(out))
    assert len(tenant.actions()) == len(before) + 8  # the probe's 3 actions, the race's 5
    # The tenant and the team come from the profile.
    assert main(["provision", "--profile-out", str(out), "--remove"]) == 0
    assert tenant.actions() == before
    assert [tenant.api("GET", f"/api/v1/stories/{i}").status_code for i in made] == [404, 404]
    assert not out.exists()


def test_remove_never_deletes_a_story_it_did_not_make(
    tenant: Tenant,
    tmp_path: Path,
    provision: Provision,
) -> None:
    out = tmp_path / "tenant.yaml"
    assert provision("--profile-out", str(out))[0] == 0
    profile = _profile(out)
    probe = profile["provisioned"]["stories"]["probe"]
    probe["guid"] = "f" * 32  # the recorded story is no longer the one provision made
    out.write_text(yaml.safe_dump(profile), encoding="utf-8")
    code, output = provision("--profile-out", str(out), "--remove")
    assert code == 0, output
    assert "not the one provision made; left alone" in output
    assert tenant.api("GET", f"/api/v1/stories/{probe['story_id']}").status_code == 200
    race = profile["provisioned"]["stories"]["race"]["story_id"]
    assert tenant.api("GET", f"/api/v1/stories/{race}").status_code == 404
    assert out.exists()  # it still names a story that is left
    assert tenant.api("DELETE", f"/api/v1/stories/{probe['story_id']}").status_code == 204


def test_built_in_stories_cannot_be_removed_through_a_forged_record(
    tenant: Tenant,
    tmp_path: Path,
    provision: Provision,
) -> None:
    """A record naming a story by its real name and GUID still gets no delete of a built-in."""
    sample = tenant.api("GET", "/api/v1/stories/7981").json()
    out = tmp_path / "tenant.yaml"
    record = {"story_id": 7981, "name": sample["name"], "guid": sample["guid"]}
    out.write_text(yaml.safe_dump({"provisioned": {"team_id": 1, "stories": {"probe": record}}}))
    code, output = provision("--profile-out", str(out), "--remove")
    assert code == 1
    assert "DELETE /api/v1/stories/7981: forbidden (403): a built-in story" in output
    assert tenant.api("GET", "/api/v1/stories/7981").status_code == 200


def test_env_file_keeps_the_secrets_out_of_the_profile(
    tenant: Tenant,
    tmp_path: Path,
    provision: Provision,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, env = tmp_path / "tenant.yaml", tmp_path / "tenant.env"
    code, output = provision("--profile-out", str(out), "--env-file", str(env))
    assert code == 0, output
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    urls = dict(line.split("=", 1) for line in env.read_text(encoding="utf-8").splitlines())
    assert set(urls) == {"TINES_PROBE_URL", "TINES_RACE_URL"}
    text = out.read_text(encoding="utf-8")
    for url in urls.values():
        secret = url.rsplit("/", 1)[1]
        assert secret not in text
        assert secret not in output
    assert tenant.key not in output
    monkeypatch.setenv("TINES_PROBE_URL", urls["TINES_PROBE_URL"])
    monkeypatch.setenv("TINES_RACE_URL", urls["TINES_RACE_URL"])
    assert load_profile(out).webhooks.race_url == urls["TINES_RACE_URL"]
    code, _ = provision("--profile-out", str(out), "--env-file", str(env), "--remove")
    assert code == 0
    assert not out.exists()
    assert not env.exists()


def test_a_refused_key_is_one_line_without_the_key(
    tenant: Tenant,
    tmp_path: Path,
    provision: Provision,
) -> None:
    wrong = "not-the-key-0123456789"
    out = tmp_path / "tenant.yaml"
    code, output = provision("--profile-out", str(out), key=wrong)
    assert code == 1
    assert output.strip().count("\n") == 0
    assert "refused the API key (401)" in output
    assert wrong not in output
    assert not out.exists()


def test_an_unreachable_tenant_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TINES_API_KEY", "some-key-0123")
    argv = ["provision", "--tenant", "http://127.0.0.1:9", "--team-id", "1"]
    assert main([*argv, "--profile-out", str(tmp_path / "p.yaml")]) == 3
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0
    assert "cannot reach http://127.0.0.1:9" in err


def test_dry_run_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Against a port nothing listens on: a single request would make it exit 3."""
    monkeypatch.setenv("TINES_API_KEY", "some-key-0123")
    out = tmp_path / "p.yaml"
    argv = ["provision", "--tenant", "http://127.0.0.1:9", "--team-id", "1", "--dry-run"]
    assert main([*argv, "--profile-out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert 'would import spec/stories/probe.json as "Conformance probe"' in printed
    assert "spec/stories/race.json" in printed
    assert "nothing was sent" in printed
    assert not out.exists()


def test_a_profile_provision_did_not_write_is_never_overwritten(
    tenant: Tenant,
    tmp_path: Path,
    provision: Provision,
) -> None:
    own = tmp_path / "mine.yaml"
    own.write_text(tenant.reference.profile_path.read_text(encoding="utf-8"))
    before = own.read_text()
    code, output = provision("--profile-out", str(own))
    assert code == 2
    assert f"{own}: provisioned: missing" in output
    assert own.read_text() == before


def test_a_profile_of_another_team_is_not_reused_or_overwritten(
    tenant: Tenant,
    tmp_path: Path,
    provision: Provision,
) -> None:
    out = tmp_path / "tenant.yaml"
    record = {"story_id": 1, "name": "Conformance probe", "guid": "a" * 32}
    out.write_text(yaml.safe_dump({"provisioned": {"team_id": 7, "stories": {"probe": record}}}))
    before = out.read_text()
    code, output = provision("--profile-out", str(out))
    assert code == 2
    assert "records stories in team 7" in output
    assert out.read_text() == before


def test_provision_needs_a_tenant_and_a_team(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TINES_API_KEY", "some-key-0123")
    assert main(["provision", "--profile-out", str(tmp_path / "p.yaml")]) == 2
    assert "needs --tenant URL and --team-id N" in capsys.readouterr().err
    assert main(["provision", "--profile-out", str(tmp_path / "p.yaml"), "--remove"]) == 2
    assert "no such profile" in capsys.readouterr().err
