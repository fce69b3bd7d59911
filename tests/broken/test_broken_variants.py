"""Every check of the suite can fail, and blames only what is broken: the suite is run against
broken variants of the reference, one run per variant with every requirement of its group
(`exact.py`), and must exit 1 failing exactly the requirement the variant breaks.

A variant the suite lets pass is a finding about the suite (a check that cannot fail), not a
reason to change the variant.
"""

from __future__ import annotations

import pytest

import tines_spec

from .exact import (
    ALSO_FAILS,
    KNOWN_WRONG,
    expected_failures,
    failed_set,
    tolerated_failures,
)
from .suite_runs import CONTROL, CONTROL_IDS, CONTROL_LIMIT_IDS, CONTROL_LIMITS, SuiteRun
from .variants import VARIANTS


def test_every_black_box_requirement_has_a_broken_variant() -> None:
    black_box = {r.id for r in tines_spec.catalogue().requirements if r.verification == "black-box"}
    covered = {variant.requirement for variant in VARIANTS.values()}
    assert sorted(black_box - covered) == [], "requirements no broken variant breaks"


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_suite_fails_exactly_what_the_broken_variant_breaks(
    variant: str, suite_runs: dict[str, SuiteRun]
) -> None:
    """Run with every requirement of its group, the suite fails the variant's requirement and
    no other (a second rule the one defect also breaks is listed, with why, in ALSO_FAILS)."""
    broken = VARIANTS[variant]
    run = suite_runs[variant]
    failed = failed_set(run.summary)
    expected = expected_failures(variant, broken.requirement)
    if failed != expected and failed - expected <= set(KNOWN_WRONG.get(variant, ())):
        expected = tolerated_failures(variant, broken.requirement) & failed | expected
    assert (run.exit_code, failed) == (1, expected), (
        f"against: {broken.how}\nfailed {sorted(failed)}, expected {sorted(expected)}\n"
        + "\n".join(run.describe(rid) for rid in sorted(failed ^ expected))
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("control", "requirement_ids"),
    [(CONTROL, CONTROL_IDS), (CONTROL_LIMITS, CONTROL_LIMIT_IDS)],
)
def test_suite_passes_the_unmutated_proxy(
    control: str, requirement_ids: tuple[str, ...], suite_runs: dict[str, SuiteRun]
) -> None:
    run = suite_runs[control]
    statuses = {rid: (run.requirement(rid) or {}).get("status") for rid in requirement_ids}
    assert statuses == dict.fromkeys(requirement_ids, "passed"), run.describe(requirement_ids[0])
    assert run.summary is not None
    assert run.summary["outcome"] == "incomplete", "a run limited with --only never passes"


def test_every_also_fails_entry_names_a_variant_and_says_why() -> None:
    for name, (ids, why) in ALSO_FAILS.items():
        assert name in VARIANTS, name
        assert ids, name
        assert why, name
        assert VARIANTS[name].requirement not in ids, name
