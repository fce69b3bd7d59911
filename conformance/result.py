"""The objects a check's verdict is made of, and every reporter renders.

A check raises `CheckFailure` (an AssertionError, so pytest records a failure, not an error):
which requirements the observed answer contradicts, what was expected, what came back, the
exchange that shows it, and how to reproduce it. Its text is redacted when it is built, so no
reporter can leak a secret.

Not every stop is a failure of the requirement being checked. When the answer a check needs is
missing or unreadable because another requirement failed (the story read was refused, no request
was ever answered 201), the check's requirements are `Blocked` by that one: they neither pass nor
fail, and the report points at the root failure. When a check ran but no answer it saw was one
its rule applies to, it raises `NoEvidence`: its requirements are `untested`, never passed. Both
are pytest skips, so pytest neither counts them as failures nor runs them again, and hypothesis
stops at the first one.

`Blocked` is also how the plugin marks a check it will not run because a precondition of the run
failed (`conformance.plugin.block_check`): raised in the check's setup, it reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextvars import ContextVar

import pytest

import tines_spec
from conformance.exchange import Exchange
from conformance.redaction import redact
from conformance.reporting.outcomes import PRECONDITION

# The requirement IDs the running check names in its marker (set by the plugin around each
# check), so that a verifier can tell a failure of the check's own requirements from a failure
# of a requirement the check only depends on.
covered: ContextVar[tuple[str, ...] | None] = ContextVar("covered", default=None)

# Pytest's skip outcome, as a class: a blocked or unobserved check is reported as neither passed
# nor failed, and is not retried.
_Skip: type[BaseException] = pytest.skip.Exception


class Blocked(_Skip):  # type: ignore[misc,valid-type]
    """Requirements a check could not judge, because `because_of` failed first.

    `requirement_ids` None means every requirement of the check."""

    def __init__(
        self,
        requirement_ids: Sequence[str] | None,
        because_of: Sequence[str],
        reason: str,
        exchange: Exchange | None = None,
        *,
        cause: CheckFailure | None = None,
    ) -> None:
        self.requirement_ids = None if requirement_ids is None else tuple(requirement_ids)
        self.because_of = tuple(because_of)
        self.reason = redact(" ".join(reason.split()))[:300]
        self.exchange = exchange
        self.cause = cause
        super().__init__(msg=self.summary, pytrace=False)

    @property
    def summary(self) -> str:
        return f"blocked by {', '.join(self.because_of) or PRECONDITION}: {self.reason}"


class NoEvidence(_Skip):  # type: ignore[misc,valid-type]
    """The check ran, but nothing it saw was what its requirements are about."""

    def __init__(self, requirement_ids: Sequence[str] | None, reason: str) -> None:
        self.requirement_ids = None if requirement_ids is None else tuple(requirement_ids)
        self.reason = redact(" ".join(reason.split()))[:300]
        super().__init__(msg=f"no evidence: {self.reason}", pytrace=False)


class CheckFailure(AssertionError):
    def __init__(
        self,
        requirement_ids: Sequence[str],
        expected: str,
        actual: str,
        exchange: Exchange | None = None,
        *,
        extra_exchanges: Sequence[Exchange] = (),
        precondition: bool = False,
        blocks: Sequence[str] | None = None,
        reasons: Mapping[str, str] | None = None,
    ) -> None:
        self.requirement_ids = tuple(requirement_ids)
        # True when the rest of the check needed what this failure took away: the check's other
        # requirements (`blocks`, or all of them) are then blocked by it, not just unreached.
        self.precondition = precondition
        self.blocks = None if blocks is None else tuple(blocks)
        # One line per requirement where they differ (a schema error for each field's rule).
        self.reasons = {rid: redact(text)[:300] for rid, text in (reasons or {}).items()}
        self.expected = redact(expected)
        self.actual = redact(actual)
        self.exchange = exchange
        self.extra_exchanges = tuple(extra_exchanges)
        super().__init__(self.render())

    def reason_for(self, requirement_id: str) -> str:
        return self.reasons.get(requirement_id) or self.reason

    @property
    def reason(self) -> str:
        """One line for tables and the JSON summary."""
        if self.reasons:
            return next(iter(self.reasons.values()))
        first = self.actual.splitlines()[0] if self.actual else ""
        return f"expected {self.expected.splitlines()[0]}; got {first}"[:300]

    def render(self) -> str:
        catalogue = tines_spec.catalogue()
        lines: list[str] = []
        for rid in self.requirement_ids:
            if rid in catalogue:
                req = catalogue[rid]
                lines.append(f"[{rid}] {req.level}: {req.title}")
                lines.append(f'    source: "{req.sentence}"')
            else:
                lines.append(f"[{rid}]")
        lines.append(f"expected: {self.expected}")
        lines.append(f"actual:   {self.actual}")
        for number, exchange in enumerate((self.exchange, *self.extra_exchanges)):
            if exchange is None:
                continue
            label = "sent" if number == 0 else f"also sent ({number})"
            lines.append(f"{label}: {exchange.describe_request()}")
            lines.append("received:")
            lines.extend("    " + line for line in exchange.describe_response().splitlines())
            lines.append(f"reproduce: {exchange.curl()}")
        return "\n".join(lines)
