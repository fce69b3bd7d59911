"""Known deviations: the requirements a target is known not to meet yet, with why and until when.

The file (spec/schemas/expectations.schema.json) is what lets a team gate CI on a target that
cannot meet every requirement today without hiding the ones it misses: `conformance gate` does
not fail on an expected deviation but still lists it, reports one that now passes so the file
gets cleaned, and fails again once an entry's date has passed, so no excuse outlives its review.

Dates stay text until the schema has judged them. YAML reads a bare `2026-12-31` as a date and
raises a bare ValueError on `2026-13-40`, so the loader turns YAML's implicit timestamps off and
lets the schema's `format: date` reject what is not a calendar day, with the field named.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import yaml
from jsonschema.exceptions import best_match

import tines_spec
from conformance.errors import FileFieldError
from conformance.yamlfile import field_of, message_of, read_yaml

__all__ = [
    "Expectation",
    "ExpectationsError",
    "State",
    "annotate",
    "load_expectations",
    "state_of",
]

SCHEMA = "expectations.schema.json"
State = Literal["expected", "expired", "now-passing"]


class ExpectationsError(FileFieldError):
    """The expectations file is missing, malformed or names what the catalogue does not hold."""


@dataclass(frozen=True)
class Expectation:
    id: str
    reason: str
    expires: date | None

    def expired(self, today: date) -> bool:
        """True from the day after `expires`: the date itself is the last day it excuses."""
        return self.expires is not None and today > self.expires


def state_of(expectation: Expectation, status: str, today: date) -> State:
    """How an entry stands against one run: an expired date wins over a pass, so it is reviewed."""
    if expectation.expired(today):
        return "expired"
    if status == "passed":
        return "now-passing"
    return "expected"


class _TextDatesLoader(yaml.SafeLoader):
    """SafeLoader that leaves `2026-12-31` a string, for the schema to judge as a date."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_expectations(path: str | os.PathLike[str]) -> tuple[Expectation, ...]:
    """Read and validate an expectations file; any problem is one `ExpectationsError` line."""
    file = str(path)
    data = read_yaml(path, ExpectationsError, _TextDatesLoader)
    if data is None:
        raise ExpectationsError(file, "", "the file is empty; it needs an `expectations:` list")
    error = best_match(tines_spec.validator(SCHEMA).iter_errors(data))
    if error is not None:
        raise ExpectationsError(file, field_of(error, "/"), message_of(error))
    catalogue = tines_spec.catalogue()
    seen: dict[str, int] = {}
    entries = []
    for index, entry in enumerate(data["expectations"]):
        field = f"expectations/{index}/id"
        requirement_id = entry["id"]
        if requirement_id not in catalogue:
            raise ExpectationsError(
                file,
                field,
                f"{requirement_id!r} is not a requirement of the catalogue "
                f"(spec {catalogue.spec_version}; `conformance requirements` lists them)",
            )
        if requirement_id in seen:
            raise ExpectationsError(
                file,
                field,
                f"{requirement_id!r} is listed twice (also at expectations/{seen[requirement_id]})",
            )
        seen[requirement_id] = index
        expires = entry.get("expires")
        entries.append(
            Expectation(
                id=requirement_id,
                reason=" ".join(entry["reason"].split()),
                expires=date.fromisoformat(expires) if expires is not None else None,
            )
        )
    return tuple(entries)


def annotate(
    document: Mapping[str, Any],
    expectations: Iterable[Expectation],
    today: date,
    *,
    file: str | None = None,
) -> dict[str, Any]:
    """A copy of a summary document with each listed requirement's `expectation` as it stands.

    The given expectations replace whatever the document carried: a summary re-annotated with
    another file must not keep the entries of the first. `expectations_file` is set when `file`
    is given.
    """
    annotated = copy.deepcopy(dict(document))
    by_id = {e.id: e for e in expectations}
    for requirement in annotated["requirements"]:
        requirement.pop("expectation", None)
        expectation = by_id.get(requirement["id"])
        if expectation is None:
            continue
        requirement["expectation"] = {
            "reason": expectation.reason,
            "expires": expectation.expires.isoformat() if expectation.expires else None,
            "state": state_of(expectation, requirement["status"], today),
        }
    if file is not None:
        annotated["expectations_file"] = file
    return annotated
