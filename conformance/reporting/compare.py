"""`conformance compare OLD NEW`: what changed between two runs, requirement by requirement.

Its exit code is 1 when a requirement is newly failing (failed now, and passed, was skipped or
was untested before) and 0 otherwise, so a pipeline can gate on regressions alone: a target that
has always failed a requirement does not stop it, one that just started to does. Every other
change is reported without changing the exit code: newly passing, other status changes
(passed -> untested is lost coverage, not a regression of the target), newly flaky, and
requirements that one run has and the other has not (the catalogue grew, or the levels differ).

Two runs against different targets or spec versions can still be compared, but the lines that
name each run say so, since their differences may then be the targets', not the changes'.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conformance.redaction import redact

__all__ = ["Change", "Comparison", "compare", "render_comparison"]


@dataclass(frozen=True)
class Change:
    id: str
    level: str
    old_status: str | None
    new_status: str | None
    reason: str | None
    """The new run's reason (for a removed requirement, the old run's)."""


@dataclass(frozen=True)
class Comparison:
    old: Mapping[str, Any]
    new: Mapping[str, Any]
    newly_failing: tuple[Change, ...]
    newly_passing: tuple[Change, ...]
    other_changes: tuple[Change, ...]
    became_flaky: tuple[Change, ...]
    added: tuple[Change, ...]
    removed: tuple[Change, ...]

    @property
    def exit_code(self) -> int:
        return 1 if self.newly_failing else 0


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> Comparison:
    """Compare two validated summary documents, the older one first."""
    before = {r["id"]: r for r in old["requirements"]}
    after = {r["id"]: r for r in new["requirements"]}
    newly_failing: list[Change] = []
    newly_passing: list[Change] = []
    other: list[Change] = []
    flaky: list[Change] = []
    added: list[Change] = []
    for rid, now in after.items():
        change = Change(rid, now["level"], None, now["status"], now["reason"])
        was = before.get(rid)
        if was is None:
            added.append(change)
            continue
        change = Change(rid, now["level"], was["status"], now["status"], now["reason"])
        if now["status"] != was["status"]:
            if now["status"] == "failed":
                newly_failing.append(change)
            elif was["status"] == "failed" and now["status"] == "passed":
                newly_passing.append(change)
            else:
                other.append(change)
        if now["flaky"] and not was["flaky"]:
            flaky.append(change)
    removed = [
        Change(rid, was["level"], was["status"], None, was["reason"])
        for rid, was in before.items()
        if rid not in after
    ]
    return Comparison(
        old=old,
        new=new,
        newly_failing=tuple(newly_failing),
        newly_passing=tuple(newly_passing),
        other_changes=tuple(other),
        became_flaky=tuple(flaky),
        added=tuple(added),
        removed=tuple(removed),
    )


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _target(document: Mapping[str, Any]) -> str:
    target = document["target"]
    name = target.get("name")
    return f"{name} at {target['base_url']}" if name else str(target["base_url"])


def _identity(label: str, document: Mapping[str, Any]) -> str:
    return (
        f"{label}: run {document['run_id']} started {document['started_at']}, "
        f"target {_target(document)}, spec {document['spec_version']}, "
        f"levels {', '.join(document['levels'])}, outcome {document['outcome']}"
    )


def _with_reason(head: str, reason: str | None) -> str:
    folded = _one_line(reason)
    return f"{head}: {folded}" if folded else head


def render_comparison(comparison: Comparison) -> list[str]:
    """A verdict line, the two runs, warnings, then one line per change, for CI logs."""
    c = comparison
    lines = [
        f"compare: {len(c.newly_failing)} newly failing, {len(c.newly_passing)} newly passing, "
        f"{len(c.other_changes)} other status changes, {len(c.became_flaky)} newly flaky, "
        f"{len(c.added)} added, {len(c.removed)} removed",
        _identity("old", c.old),
        _identity("new", c.new),
    ]
    if _target(c.old) != _target(c.new):
        lines.append(
            f"warning: the targets differ ({_target(c.old)} vs {_target(c.new)}): "
            "a difference may be between the targets, not a change of one"
        )
    if c.old["spec_version"] != c.new["spec_version"]:
        lines.append(
            f"warning: the spec versions differ ({c.old['spec_version']} vs "
            f"{c.new['spec_version']}): requirements may have changed meaning"
        )
    if list(c.old["levels"]) != list(c.new["levels"]):
        lines.append(
            f"warning: the levels differ ({', '.join(c.old['levels'])} vs "
            f"{', '.join(c.new['levels'])}): requirements of one level show as added or removed"
        )
    for x in c.newly_failing:
        lines.append(
            _with_reason(f"newly failing: {x.id} ({x.level}, was {x.old_status})", x.reason)
        )
    lines += [f"newly passing: {x.id} ({x.level})" for x in c.newly_passing]
    for x in c.other_changes:
        head = f"changed: {x.id} ({x.level}, {x.old_status} -> {x.new_status})"
        lines.append(_with_reason(head, x.reason))
    for x in c.became_flaky:
        lines.append(_with_reason(f"newly flaky: {x.id} ({x.level}); first attempt", x.reason))
    lines += [f"added: {x.id} ({x.level}, {x.new_status})" for x in c.added]
    lines += [f"removed: {x.id} ({x.level}, was {x.old_status})" for x in c.removed]
    return [redact(line) for line in lines]
