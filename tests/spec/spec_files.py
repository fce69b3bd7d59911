"""Every file of `spec/` in one offline registry, to look references up the way a validator does.

`tines_spec.schema_registry()` holds the schemas under their `$id`s; the references that the
OpenAPI document and the catalogue's `encoded_by` make are relative file paths
(`./schemas/story.schema.json`, `openapi.yaml#/paths/...`), so the same files are added here under
their file URIs. The registry has no `retrieve` hook: a reference to anything outside `spec/`
cannot resolve, which is the point (no network, no file outside the spec).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

import yaml
from referencing import Registry, Specification
from referencing.jsonschema import DRAFT202012

import tines_spec


def spec_base_uri() -> str:
    """The URI of the spec directory, with the trailing slash that relative references need."""
    return tines_spec.spec_dir().resolve().as_uri() + "/"


def openapi_uri() -> str:
    return tines_spec.openapi_path().resolve().as_uri()


def schema_file_names() -> list[str]:
    return sorted(path.name for path in (tines_spec.spec_dir() / "schemas").glob("*.json"))


@cache
def openapi_document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(tines_spec.openapi_path().read_text(encoding="utf-8"))
    return loaded


@cache
def spec_registry() -> Registry[Any]:
    registry: Registry[Any] = tines_spec.schema_registry()
    # The OpenAPI document is not a JSON Schema: OPAQUE makes a pointer into it a plain walk.
    registry = registry.with_resource(
        openapi_uri(), Specification.OPAQUE.create_resource(openapi_document())
    )
    for name in schema_file_names():
        registry = registry.with_resource(
            spec_base_uri() + "schemas/" + name,
            DRAFT202012.create_resource(tines_spec.schema(name)),
        )
    return registry


def iter_refs(node: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """(JSON pointer of the object holding it, reference) for every `$ref` under `node`."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield pointer, ref
        for key, value in node.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            yield from iter_refs(value, f"{pointer}/{escaped}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from iter_refs(value, f"{pointer}/{index}")


def iter_key(node: Any, key: str) -> Iterator[Any]:
    """Every value stored under `key` at any depth (e.g. every `$id` of a schema)."""
    if isinstance(node, dict):
        if key in node:
            yield node[key]
        for value in node.values():
            yield from iter_key(value, key)
    elif isinstance(node, list):
        for value in node:
            yield from iter_key(value, key)


def report_entry(requirement: tines_spec.Requirement) -> dict[str, Any]:
    """A requirement as the summary lists it before any check covered it."""
    catalogue = tines_spec.catalogue()
    return {
        "id": requirement.id,
        "title": requirement.title,
        "level": requirement.level,
        "area": requirement.id.rsplit("-", 1)[0],
        "document": catalogue.document_title(requirement),
        "sentence": requirement.sentence,
        "source_url": catalogue.source_url(requirement),
        "status": "untested",
        "flaky": False,
        "tests": [],
        "reason": requirement.why,
        "failure": None,
    }
