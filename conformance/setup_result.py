"""What the set-up check found: its areas, each `SetupProblem`, and the `SetupResult` of a run.

Kept apart from the check itself (`conformance.setup_check`) so that the session's side
(`conformance.setup_gate`, `conformance.run_state`) reads the result without the requests that
made it; `areas_of` maps a check's markers to the areas it depends on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.errors import TargetUnreachable
from conformance.exchange import Exchange
from conformance.redaction import redact

__all__ = [
    "AREA_PROBE",
    "AREA_RACE",
    "AREA_STORIES",
    "AREA_TARGET",
    "RACE_MARKER",
    "SetupProblem",
    "SetupResult",
    "areas_of",
]

AREA_TARGET = "target"
AREA_STORIES = "stories"
AREA_PROBE = "probe story"
AREA_RACE = "race story"

# The operations (the checks' `operations` markers) each area's checks call.
STORIES_OPERATION = "GET /api/v1/stories/{story_id}"
WEBHOOK_OPERATION = "POST /webhook/{path}/{secret}"
# The marker a check carries when it drives the race story rather than the probe story.
RACE_MARKER = "race_story"


@dataclass(frozen=True)
class SetupProblem:
    """One precondition that does not hold, with what blocks on it."""

    area: str
    url: str
    expected: str
    got: str
    hint: str
    part: str = ""
    # The requirements what came back contradicts (empty when it names no rule: a wrong story ID,
    # a delay not applied, a shape no rule speaks of): their checks fail with `exchange` as their
    # evidence, and the area's other checks are blocked by them.
    requirement_ids: tuple[str, ...] = ()
    exchange: Exchange | None = field(default=None, compare=False, repr=False)

    def said(self) -> str:
        """The line without its hint: the reason of the requirements it fails or blocks."""
        where = f" ({self.part})" if self.part else ""
        text = f"{self.area}{where} at {self.url}: expected {self.expected}; got {self.got}"
        return redact(" ".join(text.split()))

    def line(self) -> str:
        """One line, fit to print after `conformance: set-up: `."""
        where = f" ({self.part})" if self.part else ""
        text = (
            f"{self.area}{where} at {self.url}: expected {self.expected}; got {self.got}. "
            f"See {self.hint}."
        )
        return redact(" ".join(text.split()))


@dataclass(frozen=True)
class SetupResult:
    """The set-up check's verdict: its problems, the exchanges it sent, the areas that passed."""

    problems: tuple[SetupProblem, ...] = ()
    exchanges: tuple[Exchange, ...] = field(default=())
    passed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def unreachable(self) -> bool:
        return any(p.area == AREA_TARGET for p in self.problems)

    @property
    def broken_areas(self) -> frozenset[str]:
        areas = {p.area for p in self.problems}
        if AREA_TARGET in areas:
            return frozenset({AREA_TARGET, AREA_STORIES, AREA_PROBE, AREA_RACE})
        return frozenset(areas)

    def unreachable_error(self) -> TargetUnreachable:
        problem = self.problem_of(AREA_TARGET)
        assert problem is not None, "only for an unreachable target"
        return TargetUnreachable(problem.url, problem.got)

    def problem_of(self, area: str) -> SetupProblem | None:
        return next((p for p in self.problems if p.area == area), None)

    def lines(self) -> list[str]:
        out = [f"set-up: {p.line()}" for p in self.problems]
        out.extend(f"set-up: {area}: ok" for area in self.passed)
        return out


def areas_of(operations: tuple[str, ...], markers: tuple[str, ...]) -> frozenset[str]:
    """The set-up areas a check depends on, from its `operations` marker and its other markers."""
    areas: set[str] = set()
    if any(op.startswith(STORIES_OPERATION) for op in operations):
        areas.add(AREA_STORIES)
    if any(op.startswith(WEBHOOK_OPERATION) for op in operations):
        areas.add(AREA_RACE if RACE_MARKER in markers else AREA_PROBE)
    return frozenset(areas)
