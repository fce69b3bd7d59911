"""spec/openapi.yaml is a valid OpenAPI 3.1 document whose references all stay inside spec/."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from referencing.exceptions import Unresolvable

from .spec_files import iter_refs, openapi_document, openapi_uri, spec_registry


@pytest.mark.usefixtures("no_network")
def test_openapi_document_validates_offline() -> None:
    """With its own file URI as base, the relative schema files resolve from disk, not the web."""
    validate(openapi_document(), base_uri=openapi_uri())


def test_openapi_declares_version_3_1() -> None:
    assert str(openapi_document()["openapi"]).startswith("3.1.")


@pytest.mark.parametrize(
    ("pointer", "ref"), list(iter_refs(openapi_document())), ids=lambda value: str(value)
)
def test_every_openapi_ref_resolves_locally(pointer: str, ref: str) -> None:
    resolver = spec_registry().resolver(base_uri=openapi_uri())
    try:
        resolver.lookup(ref)
    except Unresolvable as error:
        pytest.fail(f"openapi.yaml#{pointer}: $ref {ref!r} does not resolve inside spec/: {error}")


def test_openapi_refs_were_found() -> None:
    """The walk above must see the document's references, or its parametrisation proves nothing."""
    refs = {ref for _, ref in iter_refs(openapi_document())}
    assert any(ref.startswith("#/components/") for ref in refs)
    assert any(ref.startswith("./schemas/") for ref in refs)
