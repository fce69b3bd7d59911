"""The spec as data: one loader that both the suite and the reference use.

`spec/` holds the contract (OpenAPI, JSON Schemas, requirements catalogue). Neither
`conformance` nor `reference_impl` may restate it in code, and neither may import the other,
so the few lines that find and parse it live here, in a package of their own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "LEVELS",
    "Catalogue",
    "MetadataHeaders",
    "Requirement",
    "catalogue",
    "live_activity_fields",
    "metadata_headers",
    "openapi",
    "openapi_path",
    "probe_request",
    "race_request",
    "schema",
    "schema_registry",
    "spec_dir",
    "story_export",
    "story_export_names",
    "validator",
]

Level = Literal["MUST", "SHOULD", "MAY"]
LEVELS: tuple[Level, ...] = ("MUST", "SHOULD", "MAY")

_ENV = "TINES_CONFORMANCE_SPEC_DIR"


def spec_dir() -> Path:
    """Where `spec/` is: $TINES_CONFORMANCE_SPEC_DIR, the source tree, or the wheel's copy."""
    override = os.environ.get(_ENV)
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "spec", here / "data"):
        if (candidate / "requirements.yaml").is_file():
            return candidate
    raise FileNotFoundError(
        f"the spec directory was not found beside {here}; set {_ENV} to the folder holding "
        "requirements.yaml"
    )


# libyaml's parser where PyYAML was built with it: the same safe constructors, and the spec's two
# large files read in a tenth of the time, which every suite run and server start pays.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 (safe)


def openapi_path() -> Path:
    return spec_dir() / "openapi.yaml"


@cache
def openapi() -> dict[str, Any]:
    """The OpenAPI document, parsed once for every reader (callers must not change it)."""
    document: dict[str, Any] = _load_yaml(openapi_path())
    return document


@dataclass(frozen=True)
class MetadataHeaders:
    """The webhook's metadata headers, by role; the names are the OpenAPI document's
    `components/headers`, so that neither side spells them (a header `X-Tines-Event-ID` is the
    role `event_id`)."""

    status: str
    event_id: str
    exit_action_id: str
    limit_reached: str
    response_location: str

    @property
    def all(self) -> tuple[str, ...]:
        return (
            self.status,
            self.event_id,
            self.exit_action_id,
            self.limit_reached,
            self.response_location,
        )


_HEADER_PREFIX = "x-tines-"


@cache
def metadata_headers() -> MetadataHeaders:
    names = openapi()["components"]["headers"]
    by_role = {
        name.lower().removeprefix(_HEADER_PREFIX).replace("-", "_"): name
        for name in names
        if name.lower().startswith(_HEADER_PREFIX)
    }
    return MetadataHeaders(**by_role)


@cache
def live_activity_fields() -> tuple[str, ...]:
    """The Get document's live-activity fields (`story.schema.json#/$defs/liveActivityFields`),
    which only `include_live_activity=true` adds."""
    return tuple(schema("story.schema.json")["$defs"]["liveActivityFields"]["enum"])


def _contract_fields(story: str) -> tuple[str, ...]:
    """The request fields of a story of `components/x-probe-contract`, in the spec's order."""
    request = openapi()["components"]["x-probe-contract"][story]["request"]
    return tuple(request["properties"])


def probe_request(exit: Any, delay_seconds: float) -> dict[str, Any]:
    """The probe story's request body: emit `exit` after `delay_seconds` (the spec's names, in
    its order: exit, delay_seconds), so that no caller spells the contract's fields."""
    return dict(zip(_contract_fields("probe"), (exit, delay_seconds), strict=True))


def race_request(
    token: str, first_delay_seconds: float, second_delay_seconds: float
) -> dict[str, Any]:
    """The race story's request body (the spec's order: token, first and second delay)."""
    values = (token, first_delay_seconds, second_delay_seconds)
    return dict(zip(_contract_fields("race"), values, strict=True))


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    level: Level
    kind: Literal["stated", "inferred"]
    document: str
    quote: str
    verification: Literal["black-box", "not-black-box"]
    encoded_by: tuple[str, ...] = ()
    needs: str | None = None
    basis: str | None = None
    why: str | None = None
    # For a not-black-box requirement: the necessary condition a check tests in its place.
    checked_instead: str | None = None

    @property
    def sentence(self) -> str:
        """The quoted source sentence with its white space folded, as reports print it."""
        return " ".join(self.quote.split())


@dataclass(frozen=True)
class Catalogue:
    spec_version: str
    documents: dict[str, dict[str, str]]
    requirements: tuple[Requirement, ...]
    by_id: dict[str, Requirement] = field(repr=False)

    def __getitem__(self, requirement_id: str) -> Requirement:
        return self.by_id[requirement_id]

    def __contains__(self, requirement_id: object) -> bool:
        return requirement_id in self.by_id

    def at_levels(self, levels: tuple[str, ...] | list[str]) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.level in levels)

    def document_title(self, requirement: Requirement) -> str:
        return self.documents[requirement.document]["title"]

    def source_url(self, requirement: Requirement) -> str:
        """The published page of the requirement's sentence, with a text fragment (`#:~:text=`)
        that browsers which support it scroll to and highlight; others just open the page."""
        page = self.documents[requirement.document]["url"]
        return f"{page}#:~:text={quote(requirement.sentence, safe='')}"


@cache
def catalogue() -> Catalogue:
    raw = _load_yaml(spec_dir() / "requirements.yaml")
    reqs = tuple(
        Requirement(
            id=entry["id"],
            title=entry["title"],
            level=entry["level"],
            kind=entry["kind"],
            document=entry["source"]["document"],
            quote=entry["source"]["quote"],
            verification=entry["verification"],
            encoded_by=tuple(entry.get("encoded_by", ())),
            needs=entry.get("needs"),
            basis=entry.get("basis"),
            why=entry.get("why"),
            checked_instead=entry.get("checked_instead"),
        )
        for entry in raw["requirements"]
    )
    return Catalogue(
        spec_version=str(raw["spec_version"]),
        documents=raw["documents"],
        requirements=reqs,
        by_id={r.id: r for r in reqs},
    )


@cache
def schema(name: str) -> dict[str, Any]:
    """A schema file of `spec/schemas/` by file name, e.g. `story.schema.json`."""
    loaded: dict[str, Any] = json.loads((spec_dir() / "schemas" / name).read_text(encoding="utf-8"))
    return loaded


def story_export_names() -> tuple[str, ...]:
    """The story export files of `spec/stories/` by name (`probe`, `race`)."""
    return tuple(sorted(p.stem for p in (spec_dir() / "stories").glob("*.json")))


def story_export(name: str) -> dict[str, Any]:
    """A story export file of `spec/stories/` (`probe`, `race`): what a tenant imports.

    A fresh copy each call: importers rewrite parts of it (a new name, a new webhook secret).
    """
    path = spec_dir() / "stories" / f"{name}.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@cache
def schema_registry() -> Registry[Any]:
    """Every schema, under its `$id` and its file name, so that no reference is ever fetched."""
    registry: Registry[Any] = Registry()
    for path in sorted((spec_dir() / "schemas").glob("*.schema.json")):
        resource = Resource.from_contents(schema(path.name), default_specification=DRAFT202012)
        registry = registry.with_resource(schema(path.name)["$id"], resource)
        registry = registry.with_resource(path.name, resource)
    return registry


@cache
def validator(name: str, pointer: str = "") -> Draft202012Validator:
    """A validator for a schema file, or for a `$defs` entry of it (`pointer="/$defs/plain"`).

    Formats (date-time, uri) are asserted, not just annotated: the spec relies on them.
    """
    root = schema(name)
    target: dict[str, Any] = {"$ref": f"{root['$id']}#{pointer}"} if pointer else root
    return Draft202012Validator(
        target,
        registry=schema_registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
