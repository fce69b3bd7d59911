"""The one object a failed check produces, and every reporter renders.

A check raises `CheckFailure` (an AssertionError, so pytest records a failure, not an error):
which requirements it breaks, what was expected, what came back, the exchange that shows it, and
how to reproduce it. Its text is redacted when it is built, so no reporter can leak a secret.
"""

from __future__ import annotations

from collections.abc import Sequence

import tines_spec
from conformance.exchange import Exchange
from conformance.redaction import redact


class CheckFailure(AssertionError):
    def __init__(
        self,
        requirement_ids: Sequence[str],
        expected: str,
        actual: str,
        exchange: Exchange | None = None,
        *,
        extra_exchanges: Sequence[Exchange] = (),
    ) -> None:
        self.requirement_ids = tuple(requirement_ids)
        self.expected = redact(expected)
        self.actual = redact(actual)
        self.exchange = exchange
        self.extra_exchanges = tuple(extra_exchanges)
        super().__init__(self.render())

    @property
    def reason(self) -> str:
        """One line for tables and the JSON summary."""
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
