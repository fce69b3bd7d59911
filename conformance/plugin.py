"""The pytest plugin of the suite (entry point `pytest11`).

It is loaded in every pytest run of this environment, the project's own tests included, so it
does nothing unless asked to: here it only registers the `requirement` marker.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requirement(*ids): the requirement IDs (spec/requirements.yaml) a check covers"
    )
