"""A freshly started reference per test module, and `conformance provision` run in-process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.cli import main
from conformance.demo import RunningReference, reference_server


@dataclass(frozen=True)
class Tenant:
    """The reference, as a tenant: its URL, its key, and a client that reads its API."""

    reference: RunningReference
    workdir: Path

    @property
    def url(self) -> str:
        return self.reference.base_url

    @property
    def key(self) -> str:
        return self.reference.api_key

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def actions(self) -> list[dict[str, Any]]:
        """Every action of every story: the reference's state, as far as provision can change it."""
        answer = self.api("GET", "/api/v1/actions", params={"per_page": 500})
        assert answer.status_code == 200
        agents: list[dict[str, Any]] = answer.json()["agents"]
        return agents


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    workdir = tmp_path_factory.mktemp("tenant")
    with reference_server(workdir, log_path=workdir / "server.log", exit_timeout=3) as reference:
        yield Tenant(reference, workdir)


def provision(
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    key: str | None = None,
) -> tuple[int, str]:
    """`conformance provision --tenant URL --team-id 1 ARGS`, its exit code and all it printed."""
    monkeypatch.setenv("TINES_API_KEY", key or tenant.key)
    code = main(["provision", "--tenant", tenant.url, "--team-id", "1", *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err
