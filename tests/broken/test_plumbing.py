"""The plumbing around the broken variants: profiles moved to a variant's port, runs shared out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .suite_runs import WORKERS, RunPlan, _share
from .targets import PROFILE_SETTINGS, BrokenTarget, Reference, target_paths, variant_profile

UPSTREAM = "http://127.0.0.1:5000"
PROFILE: dict[str, Any] = {
    "target": {"base_url": UPSTREAM, "api_key_env": "KEY"},
    "stories": {"ids": [1], "missing_id": 2},
    "webhooks": {
        "probe_url": f"{UPSTREAM}/webhook/probe/secret",
        "race_url": f"{UPSTREAM}/webhook/race/secret",
        "exit_timeout_seconds": 2,
    },
}


def test_every_url_of_the_profile_moves_to_the_variants_port() -> None:
    moved = variant_profile(Reference(UPSTREAM, PROFILE), "http://127.0.0.1:6000")
    assert moved["target"]["base_url"] == "http://127.0.0.1:6000"
    assert moved["webhooks"]["probe_url"] == "http://127.0.0.1:6000/webhook/probe/secret"
    assert moved["webhooks"]["race_url"] == "http://127.0.0.1:6000/webhook/race/secret"
    assert moved["webhooks"].items() >= PROFILE_SETTINGS.items()
    assert PROFILE["target"]["base_url"] == UPSTREAM, "the reference's profile is left as it was"


def test_routes_are_told_apart_by_the_profiles_webhook_paths() -> None:
    paths = target_paths(PROFILE)
    assert paths.route("/webhook/probe/secret") == "probe"
    assert paths.route("/webhook/race/secret") == "race"
    assert paths.route("/webhook/probe/secret/abc") == "response_url"
    assert paths.route("/api/v1/stories/1") == "stories"
    assert paths.route("/elsewhere") == "other"


def test_limit_runs_share_one_worker_and_the_rest_are_balanced() -> None:
    target = BrokenTarget("t", Path("p.yaml"), "KEY")
    limit = [RunPlan(f"limit-{n}", target, ("WH-CONC-001",), True, True) for n in range(3)]
    fast = [RunPlan(f"fast-{n}", target, ("WH-BODY-001",), False, False) for n in range(20)]
    shares = _share(limit + fast)
    assert len(shares) == WORKERS
    first, *others = shares
    assert {p.label for p in limit} <= {p.label for p in first}
    assert not any(p.limit_test for share in others for p in share)
    dealt = [p.label for share in shares for p in share]
    assert sorted(dealt) == sorted(p.label for p in limit + fast)
    # The first worker's limit runs count against its share of the rest.
    assert all(len(share) > len(first) - len(limit) for share in others)
