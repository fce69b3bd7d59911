"""Progress for people: one plain line as each area starts and ends, in place of pytest's dots.

`conformance run` without `--debug` hands pytest `-q --no-header -rN` and this module's hooks
take the per-check letters off its progress line: what a user of the run can act on is which area
is running, how far it is, and at the end the table; the file paths, `RF.s` letters and test
counts are the suite's own business, and `--debug` shows them again. The lines are plain (they go
to CI logs as well as to terminals); pytest's own colour follows the terminal and `NO_COLOR`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

__all__ = ["AreaProgress", "area_of"]


def area_of(nodeid: str) -> str:
    """A check's area, from its module: `checks/test_stories.py::...` is `stories`."""
    stem = PurePosixPath(nodeid.split("::", 1)[0]).stem
    return stem.removeprefix("test_").replace("_", " ")


@dataclass
class AreaProgress:
    """Counts each area's checks as they finish and says when one starts and ends."""

    write: Callable[[str], None]
    totals: Counter[str] = field(default_factory=Counter)
    done: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, nodeids: Sequence[str], write: Callable[[str], None]) -> AreaProgress:
        progress = cls(write)
        progress.totals.update(area_of(nodeid) for nodeid in nodeids)
        return progress

    def started(self, nodeid: str) -> None:
        area = area_of(nodeid)
        if self.done[area] == 0 and area not in self.statuses:
            self.statuses[area] = Counter()
            number = list(self.totals).index(area) + 1 if area in self.totals else 0
            self.write(
                f"[{number}/{len(self.totals)}] {area}: {self.totals[area]} "
                + ("check" if self.totals[area] == 1 else "checks")
            )

    def finished(self, nodeid: str, status: str) -> None:
        """A check's attempt ended; one that pytest-rerunfailures will run again is still
        `notrun`, and counts when its last attempt ends."""
        if status == "notrun":
            return
        area = area_of(nodeid)
        self.done[area] += 1
        self.statuses.setdefault(area, Counter())[status] += 1
        if self.done[area] == self.totals[area]:
            counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses[area].items()))
            self.write(f"    {area}: {self.done[area]} done ({counts})")
