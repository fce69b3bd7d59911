"""The broken targets for one test session: reference servers, the proxy, one profile per variant.

The reference runs as a subprocess (the suite and the tests never import it). Two of them: the
concurrency-limit variants get a reference of their own, with a limit of 2, because their
bursts fill every slot of the server they hit and would turn another run's probes into 201s;
every other variant shares one reference whose limit no run reaches.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from conformance import demo

from .proxy import BrokenProxy, Mutation, TargetPaths, serving

API_KEY = "broken-variants-key-0123456789"
EXIT_TIMEOUT_SECONDS = 2.0
# What the variant profiles set beside the reference's own profile, the control's included: a
# polling deadline that keeps a response URL that never delivers from holding a run for the
# default minute (the reference's data appears when due, so 4 s past that is ample), and a run
# deadline that bounds a run hanging on a broken target (its checks are then `untested`).
PROFILE_SETTINGS = {"response_url_deadline_seconds": 4.0}
RUN_DEADLINE_SECONDS = 90


@dataclass(frozen=True)
class Reference:
    base_url: str
    profile: dict[str, Any]


@contextmanager
def reference_server(workdir: Path, name: str, max_concurrent_runs: int) -> Iterator[Reference]:
    """A reference server subprocess (the suite's own launcher); stopped on exit."""
    home = workdir / name
    home.mkdir(parents=True, exist_ok=True)
    with demo.reference_server(
        home,
        log_path=home / "reference.log",
        exit_timeout=EXIT_TIMEOUT_SECONDS,
        max_concurrent_runs=max_concurrent_runs,
        api_key=API_KEY,
    ) as running:
        profile = yaml.safe_load(running.profile_path.read_text(encoding="utf-8"))
        yield Reference(running.base_url, profile)


def variant_profile(reference: Reference, origin: str) -> dict[str, Any]:
    """The reference's profile with every URL's origin replaced by the variant's port."""

    def moved(url: str) -> str:
        return (
            origin + url[len(reference.base_url) :] if url.startswith(reference.base_url) else url
        )

    profile = yaml.safe_load(yaml.safe_dump(reference.profile))
    profile["target"]["base_url"] = moved(profile["target"]["base_url"])
    hooks = profile["webhooks"]
    for key in ("probe_url", "race_url"):
        if key in hooks:
            hooks[key] = moved(hooks[key])
    hooks.update(PROFILE_SETTINGS)
    profile.setdefault("safety", {})["run_deadline_seconds"] = RUN_DEADLINE_SECONDS
    return dict(profile)


def target_paths(profile: dict[str, Any]) -> TargetPaths:
    hooks = profile["webhooks"]
    race = hooks.get("race_url")
    return TargetPaths(urlsplit(hooks["probe_url"]).path, urlsplit(race).path if race else None)


@dataclass(frozen=True)
class BrokenTarget:
    """A variant's target: the profile file that points the suite at its port."""

    name: str
    profile_path: Path
    api_key_env: str


@contextmanager
def broken_targets(
    workdir: Path, shared: dict[str, Mutation], isolated: dict[str, Mutation]
) -> Iterator[dict[str, BrokenTarget]]:
    """Serve every variant (name -> mutation) behind the proxy; `isolated` ones on a reference
    of their own. Yields each variant's target, with its profile written under `workdir`."""
    targets: dict[str, BrokenTarget] = {}
    with ExitStack() as stack:
        for group, mutations, limit in (("shared", shared, 64), ("isolated", isolated, 2)):
            if not mutations:
                continue
            reference = stack.enter_context(reference_server(workdir, group, limit))
            proxy = BrokenProxy(
                reference.base_url,
                target_paths(reference.profile),
                API_KEY,
                EXIT_TIMEOUT_SECONDS,
            )
            origins = {name: proxy.listen(name, mutation) for name, mutation in mutations.items()}
            stack.enter_context(serving(proxy, proxy.sockets))
            for name, origin in origins.items():
                path = workdir / "profiles" / f"{name.replace(':', '--')}.yaml"
                path.parent.mkdir(parents=True, exist_ok=True)
                profile = variant_profile(reference, origin)
                path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
                targets[name] = BrokenTarget(name, path, profile["target"]["api_key_env"])
        yield targets
