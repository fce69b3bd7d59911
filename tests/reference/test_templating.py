"""templating.py: pills, the single-pill rule and META."""

from __future__ import annotations

from reference_impl.templating import render, resolve

CONTEXT = {
    "META": {"story": {"name": "My Story", "is_test": True}},
    "webhook": {"body": {"exit": {"a": [1, 2]}, "items": ["x", "y"], "n": None}},
    "generate_random_number": {"number": 4},
}


def test_single_pill_yields_the_raw_value() -> None:
    assert render("<<webhook.body.exit>>", CONTEXT) == {"a": [1, 2]}
    assert render("<< META.story.is_test >>", CONTEXT) is True


def test_pills_in_text_are_replaced_by_text() -> None:
    template = "The generated random number is <<generate_random_number.number>>"
    assert render(template, CONTEXT) == "The generated random number is 4"
    assert render("<<webhook.body.exit>>!", CONTEXT) == '{"a":[1,2]}!'
    assert render("[<<webhook.body.n>>]", CONTEXT) == "[]"


def test_indexes_and_missing_paths() -> None:
    assert resolve("webhook.body.items.1", CONTEXT) == "y"
    assert resolve("webhook.body.items[0]", CONTEXT) == "x"
    assert resolve("webhook.body.items.5", CONTEXT) is None
    assert resolve("webhook.body.missing.deeper", CONTEXT) is None
    assert resolve("generate_random_number.number.x", CONTEXT) is None


def test_templates_nest() -> None:
    template = {"story": "<<META.story.name>>", "list": ["<<webhook.body.items>>", 3, None]}
    assert render(template, CONTEXT) == {"story": "My Story", "list": [["x", "y"], 3, None]}
