"""The dry run's plan: each check, its requirement IDs, the operations it calls, its most requests.

Operations come from the check's marker (`operations=(...)`), or else from an `operations(...)`
marker on its module (`pytestmark`), where every check of an area calls the same ones; otherwise
they are derived from the spec: each requirement's `encoded_by` points into `openapi.yaml` (an
operation, a component) or at a schema, and the plan lists the OpenAPI operations whose definition
(with every component it references) contains that pointer or names that schema.

The most requests a check may send is its marker's `max_requests=N`, or
`max_requests_per_story=N` for a check that reads each of the profile's stories (N times their
number); for a hypothesis test N is per example, for every example and for the replays of a
failing one; and all of it once more per retry (`conformance.request_budget`, which holds each
check to that bound while it runs). A check that declares nothing says so: the plan never
guesses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

import tines_spec
from conformance.request_budget import REPLAYS, check_bound

MARKER = "requirement"
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_REF = re.compile(r'"\$ref": "(#/components/[^"]+)"')


@dataclass(frozen=True)
class PlannedCheck:
    nodeid: str
    requirement_ids: tuple[str, ...]
    operations: tuple[str, ...]
    operations_declared: bool
    max_requests: int | None
    per_example: bool


def requirement_ids(item: pytest.Item) -> tuple[str, ...]:
    ids: list[str] = []
    for mark in item.iter_markers(MARKER):
        ids.extend(str(a) for a in mark.args if str(a) not in ids)
    return tuple(ids)


def _marker_kwarg(item: pytest.Item, name: str) -> Any:
    for mark in item.iter_markers(MARKER):
        if name in mark.kwargs:
            return mark.kwargs[name]
    return None


@cache
def _operations() -> dict[str, str]:
    """Each operation ("POST /webhook/{path}/{secret}") and the text of its whole definition,
    components it references included, as one JSON string to search."""
    document = tines_spec.openapi()

    def resolve(pointer: str) -> Any:
        node: Any = document
        for part in pointer.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def closure(node: Any) -> str:
        seen: set[str] = set()
        texts = [json.dumps(node)]
        pending = _REF.findall(texts[0])
        while pending:
            ref = pending.pop()
            if ref in seen:
                continue
            seen.add(ref)
            text = json.dumps(resolve(ref))
            texts.append(ref)
            texts.append(text)
            pending.extend(_REF.findall(text))
        return "\n".join(texts)

    found: dict[str, str] = {}
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in _METHODS:
            if method in item:
                operation = {
                    **item[method],
                    "parameters": shared + item[method].get("parameters", []),
                }
                found[f"{method.upper()} {path}"] = closure(operation)
    return found


def operations_for(pointer: str) -> list[str]:
    """The operations an `encoded_by` pointer concerns."""
    document, _, fragment = pointer.partition("#")
    parts = [p.replace("~1", "/").replace("~0", "~") for p in fragment.strip("/").split("/")]
    every = _operations()
    if document.endswith("openapi.yaml"):
        if parts and parts[0] == "paths" and len(parts) >= 2:
            if len(parts) >= 3 and parts[2] in _METHODS:
                return [f"{parts[2].upper()} {parts[1]}"]
            return [name for name in every if name.split(" ", 1)[1] == parts[1]]
        if len(parts) >= 3 and parts[:2] == ["components", "x-probe-contract"]:
            return [f"the {parts[2]} story's webhook"]
        needle = "#/" + fragment.strip("/")
        return [name for name, text in every.items() if needle in text]
    schema_file = document.rsplit("/", 1)[-1]
    if not schema_file:
        return []
    return [name for name, text in every.items() if schema_file in text]


def plan_check(
    item: pytest.Item, max_examples: int, stories: int, retries: int = 0
) -> PlannedCheck:
    ids = requirement_ids(item)
    declared = _marker_kwarg(item, "operations")
    if not declared:
        module_marker = item.get_closest_marker("operations")
        declared = module_marker.args if module_marker is not None else None
    if declared:
        operations = tuple(str(op) for op in declared)
    else:
        catalogue = tines_spec.catalogue()
        found: list[str] = []
        for rid in ids:
            if rid not in catalogue:
                continue
            for pointer in catalogue[rid].encoded_by:
                found.extend(op for op in operations_for(pointer) if op not in found)
        operations = tuple(found)
    # A check that runs hypothesis inside itself (a `@given` function it calls) says so with
    # `per_example=True`: its bound is then per example, as for a `@given` check.
    per_example = bool(getattr(getattr(item, "obj", None), "is_hypothesis_test", False))
    per_example = per_example or bool(_marker_kwarg(item, "per_example"))
    most = _marker_kwarg(item, "max_requests")
    per_story = _marker_kwarg(item, "max_requests_per_story")
    if most is None and per_story is not None:
        most = int(per_story) * stories
    if most is not None:
        most = check_bound(
            int(most), per_example=per_example, max_examples=max_examples, retries=retries
        )
    return PlannedCheck(item.nodeid, ids, operations, bool(declared), most, per_example)


def render_plan(
    checks: Sequence[PlannedCheck],
    *,
    header: str,
    probes: Sequence[tuple[str, Sequence[str]]],
    max_examples: int,
    rate: float,
    in_flight: int,
    retries: int = 0,
    setup_requests: int = 0,
    run_limit: int | None = None,
    reads: Mapping[str, str] | None = None,
    not_run: Mapping[str, str] | None = None,
) -> list[str]:
    """`reads`: the background probe each check reads (its requests are the probe's);
    `not_run`: why a check will not run (the probe it reads is not started)."""
    reads, not_run = reads or {}, not_run or {}
    lines = [header, ""]
    if setup_requests:
        lines += ["the set-up check, before any check", f"    most requests: {setup_requests}"]
    total = setup_requests
    attempts = f"{1 + retries} attempts" if retries else ""
    undeclared = 0
    for check in checks:
        lines.append(check.nodeid)
        lines.append(f"    requirements:  {', '.join(check.requirement_ids) or '(none)'}")
        source = "" if check.operations_declared or not check.operations else " (from the spec)"
        lines.append(f"    operations:    {', '.join(check.operations) or '(none found)'}{source}")
        if check.nodeid in not_run:
            lines.append(f"    not run:       {not_run[check.nodeid]}")
            continue
        if check.max_requests is not None:
            total += check.max_requests
            notes = [f"{max_examples} examples + {REPLAYS} replays"] if check.per_example else []
            if check.nodeid in reads:
                notes.append(f"it reads the {reads[check.nodeid]} probe's answers")
            notes += [attempts] if attempts else []
            how = f" ({', '.join(notes)})" if notes else ""
            lines.append(f"    most requests: {check.max_requests}{how}")
        else:
            undeclared += 1
            how = f"; up to {max_examples} examples" if check.per_example else ""
            lines.append(f"    most requests: not declared{how}")
    if probes:
        lines += ["", "background probes, started together before the first check:"]
        lines += [f"    {name}: {', '.join(sorted(ids))}" for name, ids in probes]
    skipped = sum(1 for check in checks if check.nodeid in not_run)
    counted = f"{len(checks)} check{'' if len(checks) == 1 else 's'}"
    counted += f" ({skipped} not run)" if skipped else ""
    summary = f"{counted}; at most {total} requests from those that declare a bound"
    if undeclared:
        summary += f", {undeclared} without a declared bound"
    lines += ["", f"{summary}; capped at {rate:g} requests/s and {in_flight} in flight"]
    if run_limit is not None and (run_limit < total or undeclared or probes):
        lines.append(f"the whole run stops at {run_limit} requests (safety.max_requests)")
    return lines
