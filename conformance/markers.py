"""The suite's pytest markers, registered with their help text so `pytest --markers` explains them.

They are registered in every pytest run of this environment (the plugin is an entry point), so a
project test that marks a check does not warn about an unknown marker.
"""

from __future__ import annotations

import pytest

from conformance.background import PROBE_MARKER
from conformance.setup_gate import RACE_MARKER

MARKERS = (
    "requirement(*ids, max_requests=None, max_requests_per_story=None, per_example=False, "
    "operations=()): the requirement IDs (spec/requirements.yaml) a check covers; "
    "max_requests (per example for hypothesis tests and checks marked per_example, or per "
    "profile story) and operations feed the dry-run plan and each check's request budget",
    "operations(*operations): the OpenAPI operations ('POST /webhook/{path}/{secret}') the "
    "checks of a module call, for the dry-run plan",
    f"{PROBE_MARKER}(name): the check reads the outcome of this background probe, which then "
    "serves the check's requirements",
    f"{RACE_MARKER}: the check drives the race story, so a broken race story blocks it",
)


def register_markers(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
