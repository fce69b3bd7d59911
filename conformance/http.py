"""Every request the suite sends goes through here, within the profile's safety caps.

`TargetClient` (sync, for checks) and `AsyncTargetClient` (for the background probes) share, per
process, one `RateLimiter` (requests per second) and one `InFlightCap` (requests outstanding at
once): a check, a probe and schemathesis's calls made through `request` all draw on the same
budget, so the profile's caps hold for the run as a whole. Each request carries the run's ID and
the suite's User-Agent, has a timeout, and comes back as an `Exchange`: an HTTP answer of any kind
or a transport failure (`response=None`, `error` one line), never an exception, so a misbehaving
target becomes a failed check with a reason rather than a crashed suite. The one stop is the
request budget (`request_budget.OverBudget`): a check past its share of the printed bound.
Every exchange is also handed to the run's `recording` log (exchanges.har, the Allure evidence).

It is the one name the rest of the suite imports the clients by; they live by job in
`client_core.py` (what both share: constants, request building, caps, recording),
`target_client.py` (the blocking client) and `async_target_client.py` (the awaited one).
"""

from __future__ import annotations

from conformance.async_target_client import AsyncTargetClient
from conformance.client_core import (
    NO_ANSWER,
    POLL_BACKOFF,
    PREFLIGHT_TIMEOUT_SECONDS,
    RUN_ID_HEADER,
    USER_AGENT,
    WRONG_KEY,
    Auth,
    describe_transport_error,
    story_url,
)
from conformance.target_client import TargetClient

__all__ = [
    "NO_ANSWER",
    "POLL_BACKOFF",
    "PREFLIGHT_TIMEOUT_SECONDS",
    "RUN_ID_HEADER",
    "USER_AGENT",
    "WRONG_KEY",
    "AsyncTargetClient",
    "Auth",
    "TargetClient",
    "describe_transport_error",
    "story_url",
]
