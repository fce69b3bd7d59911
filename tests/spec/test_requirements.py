"""spec/requirements.yaml: well-formed, every quote real, every pointer and profile setting real.

The entry shape is the one the catalogue's header comment documents; the test checks both the
entries against that shape and the comment against the fields checked, so the two cannot drift.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any, get_args, get_type_hints

import pytest
import yaml
from referencing.exceptions import Unresolvable

import tines_spec

from .spec_files import report_entry, spec_base_uri, spec_registry

ID_FORMAT = re.compile(r"(WH|STORY)-[A-Z]+-[0-9]{3}")
REQUIRED_FIELDS = {"id", "title", "level", "kind", "source", "verification"}
OPTIONAL_FIELDS = {"encoded_by", "needs", "basis", "why", "checked_instead"}
SOURCE_FIELDS = {"document", "quote"}

CATALOGUE_PATH = tines_spec.spec_dir() / "requirements.yaml"
RAW: dict[str, Any] = yaml.safe_load(CATALOGUE_PATH.read_text(encoding="utf-8"))
REQUIREMENTS = tines_spec.catalogue().requirements
HINTS = get_type_hints(tines_spec.Requirement)


def by_id(requirement: tines_spec.Requirement) -> str:
    return requirement.id


def header_comment() -> str:
    lines = CATALOGUE_PATH.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    return "\n".join(header)


def folded(text: str) -> str:
    return " ".join(text.split())


def test_the_catalogue_is_not_empty() -> None:
    assert len(REQUIREMENTS) == len(RAW["requirements"]) > 0


def test_ids_are_unique() -> None:
    duplicates = [rid for rid, n in Counter(r["id"] for r in RAW["requirements"]).items() if n > 1]
    assert not duplicates


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=by_id)
def test_id_is_well_formed(requirement: tines_spec.Requirement) -> None:
    assert ID_FORMAT.fullmatch(requirement.id), requirement.id


def test_the_header_comment_documents_every_field() -> None:
    comment = header_comment()
    for field in REQUIRED_FIELDS | OPTIONAL_FIELDS | SOURCE_FIELDS:
        assert re.search(rf"\b{field}\b", comment), f"{field!r} is not described in the header"


@pytest.mark.parametrize("entry", RAW["requirements"], ids=lambda entry: str(entry.get("id")))
def test_entry_has_the_documented_fields(entry: dict[str, Any]) -> None:
    assert entry.keys() >= REQUIRED_FIELDS, f"missing {REQUIRED_FIELDS - entry.keys()}"
    assert entry.keys() <= REQUIRED_FIELDS | OPTIONAL_FIELDS, (
        f"undocumented {entry.keys() - REQUIRED_FIELDS - OPTIONAL_FIELDS}"
    )
    assert entry["source"].keys() == SOURCE_FIELDS
    for field in ("title", "basis", "why", "needs"):
        if field in entry:
            assert isinstance(entry[field], str), field
            assert entry[field].strip(), f"{field} is empty"
    assert isinstance(entry["source"]["quote"], str)
    assert entry["source"]["quote"].strip()
    assert isinstance(entry.get("encoded_by", []), list)


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=by_id)
def test_level_kind_and_verification_take_their_values(
    requirement: tines_spec.Requirement,
) -> None:
    assert requirement.level in tines_spec.LEVELS
    assert requirement.kind in get_args(HINTS["kind"])
    assert requirement.verification in get_args(HINTS["verification"])


@pytest.mark.parametrize(
    "requirement", [r for r in REQUIREMENTS if r.kind == "inferred"], ids=by_id
)
def test_an_inferred_requirement_is_never_must_and_says_why(
    requirement: tines_spec.Requirement,
) -> None:
    assert requirement.level != "MUST"
    assert requirement.basis


@pytest.mark.parametrize(
    "requirement", [r for r in REQUIREMENTS if r.verification == "not-black-box"], ids=by_id
)
def test_a_requirement_no_exchange_can_show_says_why(requirement: tines_spec.Requirement) -> None:
    assert requirement.why


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=by_id)
def test_source_document_is_declared(requirement: tines_spec.Requirement) -> None:
    assert requirement.document in tines_spec.catalogue().documents


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=by_id)
def test_quote_occurs_in_its_source_document(
    requirement: tines_spec.Requirement, seed_text: Callable[[str], str]
) -> None:
    """Word for word, with white space folded (quotes are wrapped over lines in the YAML)."""
    assert requirement.sentence in folded(seed_text(requirement.document))


# A JSON pointer does not follow `$ref`s: a pointer must name the referenced object itself
# (`#/components/responses/ExitData/...`), not walk through `.../responses/200`.
ENCODINGS = [(r.id, pointer) for r in REQUIREMENTS for pointer in r.encoded_by]


def test_some_requirements_are_encoded() -> None:
    assert ENCODINGS


@pytest.mark.parametrize(("requirement_id", "encoded_by"), ENCODINGS, ids=str)
def test_encoded_by_resolves(requirement_id: str, encoded_by: str) -> None:
    """The file exists in spec/ and the JSON pointer after `#` resolves in it (YAML included)."""
    file_part = encoded_by.partition("#")[0]
    assert (tines_spec.spec_dir() / file_part).is_file(), f"{requirement_id}: no {file_part}"
    try:
        spec_registry().resolver(base_uri=spec_base_uri()).lookup(encoded_by)
    except Unresolvable as error:
        pytest.fail(f"{requirement_id}: {encoded_by} does not resolve: {error}")


def profile_setting_exists(path: str) -> bool:
    node = tines_spec.schema("profile.schema.json")
    for part in path.split("."):
        properties = node.get("properties", {})
        if part not in properties:
            return False
        node = properties[part]
    return True


NEEDS = [r for r in REQUIREMENTS if r.needs is not None]


def test_some_requirements_need_a_setting() -> None:
    assert NEEDS


@pytest.mark.parametrize("requirement", NEEDS, ids=by_id)
def test_needs_names_a_profile_setting(requirement: tines_spec.Requirement) -> None:
    assert requirement.needs is not None
    assert profile_setting_exists(requirement.needs), requirement.needs


@pytest.mark.parametrize("path", ["target.base_url", "webhooks", "limits.concurrency.burst"])
def test_a_real_setting_is_found(path: str) -> None:
    assert profile_setting_exists(path)


@pytest.mark.parametrize("path", ["target.api_key", "webhooks.race", "base_url", ""])
def test_a_made_up_setting_is_not_found(path: str) -> None:
    assert not profile_setting_exists(path)


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=by_id)
def test_id_and_level_fit_the_report_schema(requirement: tines_spec.Requirement) -> None:
    """Every requirement can be reported: its ID and level fit report.schema.json."""
    entry = report_entry(requirement)
    validator = tines_spec.validator("report.schema.json", "/properties/requirements/items")
    assert validator.is_valid(entry)
