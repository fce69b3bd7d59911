"""What a run hands to hypothesis and pytest-rerunfailures: the seed, the examples, the retries.

Both are configured from the run's options at pytest_configure, so that every failure can be
replayed with `--seed` and a failed check is run again before its failure is reported.
"""

from __future__ import annotations

import random

import pytest

from conformance.run_state import usage_exit

HYPOTHESIS_PROFILE = "conformance-run"


def settle_retries(config: pytest.Config, retries: int) -> int:
    """How many more times a failed check runs: pytest-rerunfailures does the running. Its own
    `--reruns`, if given, wins; otherwise ours is handed to it."""
    if not config.pluginmanager.has_plugin("rerunfailures"):
        if retries:
            usage_exit("--conformance-retries needs pytest-rerunfailures (pip install it)")
        return 0
    given = config.getoption("reruns", None)
    if given is not None:
        return int(given)
    config.option.reruns = retries
    return retries


def settle_seed(config: pytest.Config) -> int:
    """The hypothesis seed of the run: the one given, or a fresh one forced on every test, so that
    any failure can be replayed with `--seed`."""
    from hypothesis import core

    given = config.getoption("hypothesis_seed", None)
    if given is not None:
        try:
            return int(given)
        except ValueError:
            usage_exit(f"--hypothesis-seed must be an integer, not {given!r}")
    seed = random.SystemRandom().randrange(2**32)
    config.option.hypothesis_seed = str(seed)
    core.global_force_seed = seed  # type: ignore[assignment]
    return seed


def load_hypothesis_profile(max_examples: int) -> None:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        HYPOTHESIS_PROFILE,
        max_examples=max_examples,
        # A target's latency is not the code under test: no deadline, no too-slow health check.
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
        # A run is reproduced by its seed; an example database would replay old examples
        # against a target that may have changed, and litter the user's directory.
        database=None,
        print_blob=True,
    )
    settings.load_profile(HYPOTHESIS_PROFILE)
