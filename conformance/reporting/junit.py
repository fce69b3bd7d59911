"""junit.xml from a summary document: what CI test-report views show, per check and per requirement.

One testcase per check, carrying each requirement it covers, that requirement's level and the
sentence of the documentation it comes from as properties, so the report answers "which rule
broke" without a second file. A second testsuite, "requirements without a check", holds one
skipped testcase per requirement that no check covered: a CI view that counts only what ran
would otherwise show a clean report for a catalogue that was never fully checked.

JUnit has no "expected failure" and no "flaky": an expected deviation stays a failure whose
message starts with `[expected deviation: reason]` (the gate, not the test view, excuses it), and
a flaky check passes with its failed attempt in `<system-out>` and the property `flaky=true`.

Written with xml.etree.ElementTree: the format needs eight element types, ElementTree escapes text
and attributes, and pytest writes its own junit.xml with it; junitparser or junit-xml would add a
dependency for no gain. What ElementTree does not do is keep out the characters XML 1.0 forbids
(a NUL in a binary body): `_xml_text` redacts every text, then writes those as `\\x00`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance.redaction import redact

__all__ = ["CHECKLESS_SUITE", "SUITE", "render_junit", "write_junit"]

SUITE = "tines-conformance"
CHECKLESS_SUITE = "requirements without a check"

# XML 1.0 allows tab, newline, carriage return and everything from U+0020 up, less surrogates
# and U+FFFE/U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: object) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", redact(str(text)))


def _element(parent: ET.Element, tag: str, **attributes: object) -> ET.Element:
    return ET.SubElement(parent, tag, {k: _xml_text(v) for k, v in attributes.items()})


def _classname_and_name(node_id: str) -> tuple[str, str]:
    """`conformance/checks/test_x.py::TestY::test_z[a]` -> (`conformance.checks.test_x.TestY`,
    `test_z[a]`), as pytest's own junit.xml names them."""
    path, _, rest = node_id.partition("::")
    module = path.removesuffix(".py").replace("/", ".").replace("\\", ".")
    *classes, name = rest.split("::") if rest else [path]
    return ".".join([module, *classes]), name


def _properties(
    testcase: ET.Element,
    requirement_ids: list[str],
    requirements: Mapping[str, Mapping[str, Any]],
    extra: list[tuple[str, object]],
) -> None:
    properties = _element(testcase, "properties")
    for rid in requirement_ids:
        _element(properties, "property", name="requirement", value=rid)
    for rid in requirement_ids:
        requirement = requirements.get(rid)
        if requirement is not None:
            _element(properties, "property", name="level", value=f"{rid}: {requirement['level']}")
            _element(
                properties, "property", name="sentence", value=f"{rid}: {requirement['sentence']}"
            )
    for name, value in extra:
        _element(properties, "property", name=name, value=value)


def _expected_prefix(failed_ids: list[str], requirements: Mapping[str, Mapping[str, Any]]) -> str:
    """`[expected deviation: reason] ` when the check's failed requirements are all expected;
    the requirement's ID is named when only some are, so the prefix never excuses the others."""
    expected = {
        rid: requirements[rid]["expectation"]["reason"]
        for rid in failed_ids
        if requirements.get(rid, {}).get("expectation", {}).get("state") == "expected"
    }
    if not expected:
        return ""
    if len(expected) == len(failed_ids):
        return f"[expected deviation: {'; '.join(dict.fromkeys(expected.values()))}] "
    named = "; ".join(f"{rid}: {reason}" for rid, reason in expected.items())
    return f"[expected deviation of {named}] "


def _check_case(
    suite: ET.Element, check: Mapping[str, Any], requirements: Mapping[str, Mapping[str, Any]]
) -> None:
    classname, name = _classname_and_name(check["id"])
    testcase = _element(
        suite, "testcase", classname=classname, name=name, time=f"{check['duration_seconds']:.3f}"
    )
    failure = check["failure"]
    extra: list[tuple[str, object]] = [
        ("attempts", check["attempts"]),
        ("flaky", "true" if check["flaky"] else "false"),
    ]
    if check["status"] == "failed" and failure is not None:
        extra.append(("reproduce", failure["reproduce"]))
    # What the check recorded beside its verdict (the burst's status counts, say).
    extra.extend(sorted(check.get("properties", {}).items()))
    _properties(testcase, list(check["requirements"]), requirements, extra)
    if check["status"] == "failed":
        failed_ids = list(check["failed_requirements"]) or list(check["requirements"])
        summary = failure["summary"] if failure else check["reason"] or "failed"
        details = failure["details"] if failure else check["reason"] or ""
        element = _element(
            testcase,
            "failure",
            message=_expected_prefix(failed_ids, requirements) + summary,
            type="CheckFailure",
        )
        element.text = _xml_text(details)
    elif check["status"] in ("skipped", "notrun", "blocked"):
        # JUnit has no "blocked": it is a skip whose message names the failure that caused it.
        default = {"notrun": "not run", "blocked": "blocked"}.get(check["status"], "skipped")
        _element(testcase, "skipped", message=check["reason"] or default)
    elif check["flaky"] and failure is not None:
        out = _element(testcase, "system-out")
        out.text = _xml_text(
            f"passed on attempt {check['attempts']}; an earlier attempt failed:\n"
            f"{failure['details']}\nreproduce: {failure['reproduce']}"
        )


def _suite(parent: ET.Element, name: str, timestamp: str) -> ET.Element:
    return _element(parent, "testsuite", name=name, timestamp=timestamp)


def _count(suite: ET.Element) -> dict[str, int]:
    cases = suite.findall("testcase")
    return {
        "tests": len(cases),
        "failures": sum(1 for c in cases if c.find("failure") is not None),
        "errors": 0,
        "skipped": sum(1 for c in cases if c.find("skipped") is not None),
    }


def _set_totals(element: ET.Element, counts: Mapping[str, int], seconds: float) -> None:
    for key, value in counts.items():
        element.set(key, str(value))
    element.set("time", f"{seconds:.3f}")


def render_junit(document: Mapping[str, Any]) -> str:
    """The junit.xml text of a summary document (report.schema.json)."""
    requirements = {r["id"]: r for r in document["requirements"]}
    root = ET.Element("testsuites", {"name": SUITE})
    started = str(document["started_at"])

    checks_suite = _suite(root, SUITE, started)
    run_properties = _element(checks_suite, "properties")
    target = document["target"]
    for name, value in (
        ("run_id", document["run_id"]),
        ("target", target.get("name") or ""),
        ("base_url", target["base_url"]),
        ("spec_version", document["spec_version"]),
        ("levels", ", ".join(document["levels"])),
        ("seed", "" if document["seed"] is None else document["seed"]),
        ("outcome", document["outcome"]),
        ("command", document["command"]),
    ):
        _element(run_properties, "property", name=name, value=value)
    for check in document["checks"]:
        _check_case(checks_suite, check, requirements)
    check_seconds = sum(c["duration_seconds"] for c in document["checks"])
    _set_totals(checks_suite, _count(checks_suite), check_seconds)

    covered = {rid for check in document["checks"] for rid in check["requirements"]}
    checkless_suite = _suite(root, CHECKLESS_SUITE, started)
    for requirement in document["requirements"]:
        if requirement["status"] not in ("untested", "not-observable"):
            continue
        if requirement["id"] in covered:
            continue
        rid = requirement["id"]
        testcase = _element(
            checkless_suite, "testcase", classname=f"requirements.{requirement['area']}", name=rid
        )
        _properties(testcase, [rid], requirements, [])
        expectation = requirement.get("expectation")
        reason = requirement["reason"] or "no check covers it"
        if expectation is not None and expectation["state"] == "expected":
            reason = f"[expected deviation: {expectation['reason']}] {reason}"
        _element(testcase, "skipped", message=reason)
    _set_totals(checkless_suite, _count(checkless_suite), 0.0)

    totals = {key: 0 for key in ("tests", "failures", "errors", "skipped")}
    for suite in (checks_suite, checkless_suite):
        for key, value in _count(suite).items():
            totals[key] += value
    _set_totals(root, totals, check_seconds)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(document: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_junit(document), encoding="utf-8")
