"""Settings shared by every test of the project; each area keeps its fixtures in its conftest."""

from __future__ import annotations

import os

from hypothesis import settings

# On a loaded 2-core machine an example's wall time says nothing about the code under test, so
# hypothesis' per-example deadline would only add flaky failures. HYPOTHESIS_PROFILE picks another.
settings.register_profile("tines-conformance", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "tines-conformance"))
