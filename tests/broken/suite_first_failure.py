"""A pytest plugin for the worker's suite runs: hypothesis stops at the first failing example.

Against a broken target most generated examples fail, and shrinking each failure sends many more
requests (a minute and more per run) without changing the verdict the tests read: the run fails
the same requirement either way. So the runs skip the shrink and explain phases. Loaded by the
worker through PYTEST_PLUGINS; it derives from the profile the suite's plugin loaded, so every
other setting (max_examples, deadline, seed handling) stays the suite's own.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, settings

PROFILE = "broken-variants-first-failure"


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    settings.register_profile(
        PROFILE, parent=settings(), phases=[Phase.explicit, Phase.reuse, Phase.generate]
    )
    settings.load_profile(PROFILE)
