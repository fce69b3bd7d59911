"""The order the checks run in, and the check after which the concurrency burst may open.

The checks that read a background probe's outcome go last, so that the fast checks run while the
long waits are under way. Among the fast ones, those that send webhook requests go first: the
burst fills the target's run slots, so it must not open while one of them may still send, but
the Stories checks take no run slot, and the burst can run beside them. Its flood then ends
seconds earlier than if it waited for a check to ask for its outcome.
"""

from __future__ import annotations

import pytest

from conformance.long_waits import open_burst
from conformance.profile import Profile
from conformance.setup_gate import item_areas
from conformance.setup_result import AREA_PROBE, AREA_RACE

_WEBHOOK_AREAS = frozenset({AREA_PROBE, AREA_RACE})


def _reads_a_probe(item: pytest.Item) -> bool:
    return "background" in getattr(item, "fixturenames", ())


def _sends_webhooks(item: pytest.Item) -> bool:
    """A check whose operations say nothing is taken to send webhook requests: the burst
    waits for it rather than risk starving it."""
    areas = item_areas(item)
    return not areas or bool(areas & _WEBHOOK_AREAS)


def order_checks(items: list[pytest.Item]) -> str | None:
    """Sort `items` in place (a stable sort: the rest keeps its order) and return the node ID of
    the last fast check that sends webhook requests (None when there is none: the burst may
    open at once)."""
    items.sort(key=lambda item: (_reads_a_probe(item), not _sends_webhooks(item)))
    fast = [item.nodeid for item in items if not _reads_a_probe(item) and _sends_webhooks(item)]
    return fast[-1] if fast else None


def open_burst_after(nodeid: str | None, last_webhook_check: str | None, profile: Profile) -> None:
    """Open the burst once `last_webhook_check` has run (`nodeid` None: before any check)."""
    if nodeid == last_webhook_check:
        open_burst(profile)
