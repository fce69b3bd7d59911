"""spec/openapi.bundled.json is scripts/bundle-openapi's output of spec/, and is self-contained."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from tines_spec.bundle import bundled_openapi, bundled_openapi_path, bundled_text

from .seed_examples import stories_get_sample
from .spec_files import iter_refs, openapi_document

REPO = Path(__file__).resolve().parents[2]


def test_the_bundle_is_in_sync_with_spec() -> None:
    """Never hand-edited: a change to openapi.yaml or a schema file needs the script re-run."""
    assert bundled_openapi_path().read_text(encoding="utf-8") == bundled_text(), (
        "spec/openapi.bundled.json is out of date: run scripts/bundle-openapi"
    )


def test_the_script_checks_and_writes_the_bundle() -> None:
    script = REPO / "scripts" / "bundle-openapi"
    done = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.usefixtures("no_network")
def test_the_bundle_validates_with_no_base_uri() -> None:
    """With nothing to resolve against, every reference must point inside the one file."""
    validate(json.loads(bundled_text()))


def test_every_bundle_ref_is_internal_and_resolves() -> None:
    document = bundled_openapi()
    refs = list(iter_refs(document))
    assert refs
    for pointer, ref in refs:
        assert ref.startswith("#/"), f"{pointer}: {ref} leaves the bundle"
        node: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict), f"{pointer}: {ref} does not resolve"
            assert part in node, f"{pointer}: {ref} does not resolve"
            node = node[part]


def test_no_schema_in_the_bundle_carries_an_id() -> None:
    """An `$id` makes tools such as Prism resolve `#/$defs/...` against a host that is not there."""
    schemas = bundled_openapi()["components"]["schemas"]
    assert "story" in schemas
    for name, body in schemas.items():
        assert not [key for key in _keys(body) if key == "$id"], name


def _keys(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [*node, *(k for value in node.values() for k in _keys(value))]
    if isinstance(node, list):
        return [k for value in node for k in _keys(value)]
    return []


def test_every_schema_file_the_document_uses_is_inlined() -> None:
    used = {ref.split("#")[0] for _, ref in iter_refs(openapi_document())}
    files = {ref.removeprefix("./schemas/").removesuffix(".schema.json") for ref in used if ref}
    assert files <= set(bundled_openapi()["components"]["schemas"])


def test_the_story_example_is_the_documents_sample(seed_text: Callable[[str], str]) -> None:
    """Prism's mock answers this example; it must be the Get document's own sample."""
    get = openapi_document()["paths"]["/api/v1/stories/{story_id}"]["get"]
    example = get["responses"]["200"]["content"]["application/json"]["examples"]["sample"]
    assert example["value"] == stories_get_sample(seed_text("stories-get"))
