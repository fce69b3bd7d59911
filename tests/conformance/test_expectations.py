"""The expectations file: what it accepts, how each mistake is named, and how a summary is marked.

A typo in this file must never excuse the wrong requirement or nothing at all, so every way it can
be wrong is an error that names the file and the field.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import tines_spec
from conformance.errors import ConformanceError
from conformance.expectations import (
    Expectation,
    ExpectationsError,
    annotate,
    load_expectations,
    state_of,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "summaries" / "failing.json"
TODAY = date(2026, 11, 22)


def example() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return loaded


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "expectations.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ExpectationsError) as caught:
        load_expectations(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def test_bare_and_quoted_dates_load_as_dates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "expectations:\n"
        "  - id: WH-BODY-001\n"
        "    reason: fixed in 1.3\n"
        "    expires: 2026-12-31\n"
        "  - id: WH-CT-001\n"
        "    reason: >-\n"
        "      folded over\n"
        "      two lines\n"
        "    expires: '2027-01-15'\n"
        "  - id: STORY-FIELD-013\n"
        "    reason: cannot be seen through the Get API\n",
    )
    assert load_expectations(path) == (
        Expectation("WH-BODY-001", "fixed in 1.3", date(2026, 12, 31)),
        Expectation("WH-CT-001", "folded over two lines", date(2027, 1, 15)),
        Expectation("STORY-FIELD-013", "cannot be seen through the Get API", None),
    )


def test_an_empty_list_is_valid(tmp_path: Path) -> None:
    assert load_expectations(write(tmp_path, "expectations: []\n")) == ()


@pytest.mark.parametrize(
    ("expires", "message"),
    [
        ("2026-13-40", "expectations/0/expires: '2026-13-40' is not a 'date'"),
        ("'2026-02-30'", "expectations/0/expires: '2026-02-30' is not a 'date'"),
        ("2026-1-5", "expectations/0/expires: '2026-1-5' is not a 'date'"),
        ("20261231", "expectations/0/expires: 20261231 is not of type 'string'"),
        ("next year", "expectations/0/expires: 'next year' is not a 'date'"),
    ],
)
def test_a_date_that_is_not_a_calendar_day_is_named(
    tmp_path: Path, expires: str, message: str
) -> None:
    text = f"expectations:\n  - id: WH-BODY-001\n    reason: r\n    expires: {expires}\n"
    assert load_error(tmp_path, text) == message


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{id: WH-BODY-001}", "expectations/0/reason: 'reason' is a required property"),
        ("{id: WH-BODY-001, reason: ''}", "expectations/0/reason: '' should be non-empty"),
        ("{reason: r}", "expectations/0/id: 'id' is a required property"),
        ("{id: wh-body-001, reason: r}", "expectations/0/id: 'wh-body-001' does not match"),
        (
            "{id: WH-BODY-001, reason: r, until: 2026-12-31}",
            "expectations/0: unknown field 'until'; allowed here: expires, id, reason",
        ),
    ],
)
def test_a_malformed_entry_names_its_field(tmp_path: Path, entry: str, message: str) -> None:
    assert load_error(tmp_path, f"expectations:\n  - {entry}\n").startswith(message)


def test_an_id_the_catalogue_does_not_hold_is_an_error(tmp_path: Path) -> None:
    text = "expectations:\n  - {id: WH-BODY-001, reason: r}\n  - {id: WH-BODY-999, reason: r}\n"
    message = load_error(tmp_path, text)
    assert message.startswith("expectations/1/id: 'WH-BODY-999' is not a requirement")
    assert tines_spec.catalogue().spec_version in message


def test_an_id_listed_twice_is_an_error(tmp_path: Path) -> None:
    text = (
        "expectations:\n"
        "  - {id: WH-BODY-001, reason: r}\n"
        "  - {id: WH-CT-001, reason: r}\n"
        "  - {id: WH-BODY-001, reason: other}\n"
    )
    assert load_error(tmp_path, text) == (
        "expectations/2/id: 'WH-BODY-001' is listed twice (also at expectations/0)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty; it needs an `expectations:` list"),
        ("- {id: WH-BODY-001, reason: r}\n", "(top level): [{"),
        ("{}\n", "expectations: 'expectations' is a required property"),
        ("expectations: [\n", "line 2, column 1: invalid YAML"),
    ],
)
def test_a_file_that_is_not_an_expectations_file_is_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    assert message in load_error(tmp_path, text)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(ExpectationsError) as caught:
        load_expectations(missing)
    assert str(caught.value) == f"{missing}: No such file or directory"
    assert isinstance(caught.value, ConformanceError)  # the CLI turns it into one line, exit 2


def test_the_expiry_date_is_the_last_day_it_excuses() -> None:
    entry = Expectation("WH-BODY-001", "r", date(2026, 11, 22))
    assert state_of(entry, "failed", date(2026, 11, 22)) == "expected"
    assert state_of(entry, "failed", date(2026, 11, 23)) == "expired"
    assert state_of(entry, "passed", date(2026, 11, 22)) == "now-passing"
    assert state_of(entry, "passed", date(2026, 11, 23)) == "expired"
    assert state_of(Expectation("WH-BODY-001", "r", None), "untested", date(9999, 1, 1)) == (
        "expected"
    )


def test_annotate_marks_each_listed_requirement_as_it_stands() -> None:
    document = example()
    original = copy.deepcopy(document)
    annotated = annotate(
        document,
        (
            Expectation("WH-BODY-001", "fix due in 1.3", date(2026, 12, 31)),
            Expectation("WH-BODY-003", "no race story yet", date(2026, 11, 1)),
            Expectation("WH-CONV-004", "was broken", None),
            Expectation("WH-CONV-001", "not in this run", None),
        ),
        TODAY,
        file="ci/expectations.yaml",
    )
    marks = {r["id"]: r.get("expectation") for r in annotated["requirements"]}
    assert marks == {
        "WH-BODY-001": {"reason": "fix due in 1.3", "expires": "2026-12-31", "state": "expected"},
        "WH-BODY-002": None,
        # The document's own annotations are replaced, not kept beside the new file's.
        "STORY-FIELD-013": None,
        "WH-CONV-004": {"reason": "was broken", "expires": None, "state": "now-passing"},
        "WH-BODY-003": {"reason": "no race story yet", "expires": "2026-11-01", "state": "expired"},
        "WH-CT-001": None,
    }
    assert annotated["expectations_file"] == "ci/expectations.yaml"
    tines_spec.validator("report.schema.json").validate(annotated)
    assert document == original


def test_annotate_without_a_file_keeps_the_documents_file_name() -> None:
    annotated = annotate(example(), (Expectation("WH-BODY-002", "flaky", None),), TODAY)
    assert annotated["expectations_file"] == "expectations.yaml"
    flaky = next(r for r in annotated["requirements"] if r["id"] == "WH-BODY-002")
    assert flaky["expectation"]["state"] == "now-passing"
    tines_spec.validator("report.schema.json").validate(annotated)
