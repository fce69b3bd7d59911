"""The OpenAPI document as one self-contained file, for tools that cannot follow `spec/`'s refs.

`spec/openapi.yaml` points at the schema files (`./schemas/story.schema.json`), and each schema
file carries an `$id`. JSON Schema tools resolve a file's own `#/$defs/...` against that `$id`;
Stoplight Prism and others resolve it against the file's location and try to fetch the `$id`'s
host, so none of the story's rules apply there. The bundle inlines every schema file the document
uses under `components/schemas/<name>` without its `$id` and `$schema` (OpenAPI 3.1's default
dialect is 2020-12 already) and rewrites every reference into that one document.

`spec/openapi.bundled.json` is this function's output, written by `scripts/bundle-openapi`; a
test keeps the two equal, so the bundle is never edited by hand.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from tines_spec import openapi_path, schema, spec_dir

__all__ = ["BUNDLED_NAME", "bundled_openapi", "bundled_openapi_path", "bundled_text"]

BUNDLED_NAME = "openapi.bundled.json"
_SCHEMA_DIR = "./schemas/"
_SUFFIX = ".schema.json"


def bundled_openapi_path() -> Path:
    return spec_dir() / BUNDLED_NAME


def _component_name(file_name: str) -> str:
    return file_name.removesuffix(_SUFFIX)


def _split(ref: str) -> tuple[str, str]:
    target, _, fragment = ref.partition("#")
    return target, fragment


def _file_of(target: str, ids: dict[str, str]) -> str | None:
    """The schema file a reference's target names: by relative path, file name or `$id`."""
    if target.startswith(_SCHEMA_DIR):
        return target[len(_SCHEMA_DIR) :]
    if target in ids:
        return ids[target]
    if target.endswith(_SUFFIX) and "/" not in target:
        return target
    return None


def _rewrite(node: Any, here: str | None, ids: dict[str, str], used: set[str]) -> Any:
    """A copy of `node` whose `$ref`s point into the bundle; `here` is the schema file it is in
    (None for the OpenAPI document itself), against which a bare `#...` is resolved."""
    if isinstance(node, list):
        return [_rewrite(item, here, ids, used) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            target, fragment = _split(value)
            file_name = here if target == "" else _file_of(target, ids)
            if file_name is None:
                out[key] = value
                continue
            used.add(file_name)
            out[key] = f"#/components/schemas/{_component_name(file_name)}{fragment}"
        else:
            out[key] = _rewrite(value, here, ids, used)
    return out


def bundled_openapi() -> dict[str, Any]:
    """The OpenAPI document with every schema file it reaches inlined (see the module's doc)."""
    document = yaml.safe_load(openapi_path().read_text(encoding="utf-8"))
    files = sorted(p.name for p in (spec_dir() / "schemas").glob(f"*{_SUFFIX}"))
    ids = {schema(name)["$id"]: name for name in files if "$id" in schema(name)}
    used: set[str] = set()
    bundled: dict[str, Any] = _rewrite(document, None, ids, used)
    inlined: dict[str, Any] = {}
    pending = sorted(used)
    while pending:
        name = pending.pop()
        if name in inlined:
            continue
        body = copy.deepcopy(schema(name))
        body.pop("$id", None)
        body.pop("$schema", None)
        reached: set[str] = set()
        inlined[name] = _rewrite(body, name, ids, reached)
        pending.extend(sorted(reached - inlined.keys()))
    components = bundled.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in sorted(inlined):
        schemas[_component_name(name)] = inlined[name]
    return bundled


def bundled_text() -> str:
    """The bundle as `spec/openapi.bundled.json` holds it: stable order, a trailing newline."""
    return json.dumps(bundled_openapi(), indent=2, ensure_ascii=False) + "\n"
