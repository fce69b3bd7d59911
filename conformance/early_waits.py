"""The long waits started before pytest: by `conformance run`, as soon as its set-up check has
seen the probe story answer an undelayed probe right.

A full run cannot take less than one exit timeout (the timeout probe must see it pass), so every
second before that probe starts is a second on the run. Started at collection, it waited for the
CLI's imports, the whole set-up check, pytest's start and collection: a third of a 10 s exit
timeout. Here it starts once the set-up's first probe came back right, and the rest of the set-up
check, pytest's start and collection happen while it waits. Should the rest of the set-up find
the probe story broken after all (a delay not applied), the plugin cancels these probes with the
webhook checks they serve: the few requests they sent are in the HAR and counted.

Which probes to start comes from the checks' own markers, read as the plugin reads them: the
check modules that name the probe marker are imported (cheap: they need nothing the set-up
check has not imported) and serve the probes they read. The plugin then reconciles with what
it collected (`Scheduler.start` adds what is missing, `Scheduler.keep_only` cancels what is not
needed), so this is a head start, never a second source of truth.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from conformance.async_target_client import AsyncTargetClient
from conformance.background import PROBE_MARKER, Scheduler
from conformance.check_marks import CHECKS_PACKAGE, serve_module_checks
from conformance.profile import Profile
from conformance.request_budget import RequestBudget

__all__ = ["EarlyWaits", "start_early"]


@dataclass(frozen=True)
class EarlyWaits:
    """The scheduler and the client its probes use, with the profile they were given: the
    plugin adopts all three (a probe and its readers meet on the same profile and client)."""

    scheduler: Scheduler
    client: AsyncTargetClient
    profile: Profile


def _probe_reader_modules() -> list[str]:
    """The built-in check modules whose source names the probe marker: only they can read one."""
    package = importlib.import_module(CHECKS_PACKAGE)
    needle = f"mark.{PROBE_MARKER}("
    return [
        f"{CHECKS_PACKAGE}.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if needle in (Path(package.__path__[0]) / f"{info.name}.py").read_text(encoding="utf-8")
    ]


def start_early(
    profile: Profile,
    run_id: str,
    budget: RequestBudget,
    selected_requirement_ids: frozenset[str],
    include_limit_test: bool,
) -> EarlyWaits:
    """Start the probes that serve the selected requirements, on a client held to `budget`."""
    import conformance.long_waits  # noqa: F401  (the probes register themselves)

    for module in _probe_reader_modules():
        serve_module_checks(importlib.import_module(module))
    client = AsyncTargetClient(profile, run_id)
    client.budget = budget
    scheduler = Scheduler()
    scheduler.start(client, profile, selected_requirement_ids, include_limit_test)
    return EarlyWaits(scheduler, client, profile)
