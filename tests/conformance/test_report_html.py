"""report.html: every requirement in the matrix, every failure's evidence, nothing loaded from
elsewhere, hostile text inert; and in a real chromium, filters that hide rows without errors."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

import tines_spec
from conformance import redaction
from conformance.reporting.html import render_html, write_html
from tests.conformance.browser import chromium, require_chromium

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "summaries" / "failing.json"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;"\'</td></tr>'
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


def example() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return document


def catalogue_document() -> dict[str, Any]:
    """A run over the whole catalogue, shaped like the example: what a real report looks like."""
    base = example()
    catalogue = tines_spec.catalogue()
    evidence = base["requirements"][0]["failure"]
    requirements: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for index, req in enumerate(catalogue.requirements):
        area = req.id.rsplit("-", 1)[0]
        check = f"conformance/checks/test_{area.lower().replace('-', '_')}.py::test_{index}"
        reason: str | None
        if req.verification == "not-black-box":
            status, reason = "untested", req.why or "no HTTP exchange can show it"
        elif req.needs:
            status, reason = "skipped", f"{check}: the profile has no {req.needs}"
        else:
            status = "failed" if index % 5 == 2 else "passed"
            reason = f"{check}: expected one thing; got another" if status == "failed" else None
        flaky = status == "passed" and index % 7 == 3
        failure = None
        if status == "failed" or flaky:
            reproduce = f"{base['command']} --only {req.id}"
            failure = {**evidence, "check": check, "reproduce": reproduce}
            reason = reason or f"{check}: TimeoutError: no answer within 10 s"
        source = catalogue.documents[req.document]
        entry: dict[str, Any] = {
            "id": req.id,
            "title": req.title,
            "level": req.level,
            "area": area,
            "document": source["title"],
            "sentence": req.sentence,
            "source_url": f"{source['url']}#:~:text={quote(req.sentence[:60])}",
            "status": status,
            "flaky": flaky,
            "tests": [] if status == "untested" else [check],
            "reason": reason,
            "failure": failure,
        }
        if index % 6 == 0:
            state = "now-passing" if status == "passed" else "expected"
            entry["expectation"] = {"reason": "known since 1.2", "expires": None, "state": state}
        requirements.append(entry)
        if status != "untested":
            checks.append(
                {
                    "id": check,
                    "requirements": [req.id],
                    "status": status,
                    "attempts": 2 if flaky or status == "failed" else 1,
                    "flaky": flaky,
                    "duration_seconds": 0.01 * index,
                    "reason": reason if status != "passed" else None,
                    "failed_requirements": [req.id] if status == "failed" else [],
                    "failure": failure,
                }
            )
    totals = {
        level: dict.fromkeys(("passed", "failed", "skipped", "untested"), 0)
        for level in tines_spec.LEVELS
    }
    for entry in requirements:
        totals[entry["level"]][entry["status"]] += 1
    return {
        **base,
        "spec_version": catalogue.spec_version,
        "outcome": "failed",
        "requirements": requirements,
        "checks": checks,
        "totals": totals,
    }


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    children: list[Element | str] = field(default_factory=list)

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Element]:
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag)
            and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def by_id(self, element_id: str) -> Element:
        (found,) = [e for e in self.iter() if e.attrs.get("id") == element_id]
        return found

    def text(self) -> str:
        """The text as a reader sees it: white space folded, `code` marks gone."""
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join("".join(parts).split())


class Page(HTMLParser):
    """The stdlib parser, building a tree and noting every end tag that closes the wrong element."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]
        self.mismatches: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.stack[-1].tag != tag:
            self.mismatches.append(f"</{tag}> closes <{self.stack[-1].tag}>")
        while len(self.stack) > 1 and self.stack.pop().tag != tag:
            pass

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def rows(page: Page) -> list[Element]:
    return [e for e in page.root.by_id("matrix").iter() if "data-requirement" in e.attrs]


def shown_failures(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r
        for r in document["requirements"]
        if r["status"] == "failed" or (r["flaky"] and r["failure"] is not None)
    ]


@pytest.mark.parametrize("make", [example, catalogue_document], ids=["example", "catalogue"])
def test_page_is_well_formed_with_one_matrix_row_per_requirement(make: Any) -> None:
    document = make()
    html = render_html(document)
    page = Page(html)
    assert html.startswith("<!DOCTYPE html>")
    assert page.mismatches == []
    assert page.stack == [page.root]  # every element closed
    ids = [e.attrs["id"] for e in page.root.iter() if "id" in e.attrs]
    assert [item for item, n in Counter(ids).items() if n > 1] == []
    found = [
        (
            r.attrs["data-requirement"],
            r.attrs["data-area"],
            r.attrs["data-level"],
            r.attrs["data-status"],
        )
        for r in rows(page)
    ]
    assert found == [
        (r["id"], r["area"], r["level"], r["status"]) for r in document["requirements"]
    ]
    for row, requirement in zip(rows(page), document["requirements"], strict=True):
        (label,) = [e for e in row.iter() if "status" in (e.attrs.get("class") or "").split()]
        assert label.text() == requirement["status"]  # a word, not colour alone


def test_catalogue_document_is_a_valid_summary() -> None:
    document = catalogue_document()
    tines_spec.validator("report.schema.json").validate(document)
    assert len(document["requirements"]) == len(tines_spec.catalogue().requirements)
    assert {r["status"] for r in document["requirements"]} == {
        "passed",
        "failed",
        "skipped",
        "untested",
    }


def test_rows_mark_flaky_and_expectations_in_words() -> None:
    document = example()
    page = Page(render_html(document))
    by_id = {r.attrs["data-requirement"]: r for r in rows(page)}
    for requirement in document["requirements"]:
        text = by_id[requirement["id"]].text()
        assert ("flaky" in text) == requirement["flaky"]
        expectation = requirement.get("expectation")
        if expectation is None:
            assert "expectation" not in text
            continue
        assert f"expectation: {expectation['state']}" in text
        assert expectation["reason"] in text
        assert (expectation["expires"] or "no expiry") in text


def test_each_failure_shows_its_evidence_and_the_row_links_to_it() -> None:
    document = catalogue_document()
    page = Page(render_html(document))
    failures = shown_failures(document)
    articles = page.root.find_all("article")
    assert [a.attrs["id"] for a in articles] == [
        f"failure-{r['id']}" for r in failures if r["status"] == "failed"
    ] + [f"failure-{r['id']}" for r in failures if r["status"] != "failed"]
    for requirement in failures:
        article = page.root.by_id(f"failure-{requirement['id']}")
        failure = requirement["failure"]
        text = article.text()
        assert " ".join(requirement["sentence"].replace("`", "").split()) in text
        for part in ("expected", "actual", "reproduce", "curl", "check"):
            if failure[part]:
                assert " ".join(failure[part].split()) in text
        (details,) = article.find_all("details")
        assert [" ".join(p.text().split()) for p in details.find_all("pre")] == [
            " ".join(failure["details"].split())
        ]
        assert article.find_all("a", href=requirement["source_url"])
        assert ("flaky" in text) == requirement["flaky"]
        row = page.root.by_id(f"req-{requirement['id']}")
        assert row.find_all("a", href=f"#failure-{requirement['id']}")
    quiet = [r for r in document["requirements"] if r not in failures]
    assert all(not page.root.find_all(id=f"failure-{r['id']}") for r in quiet)


def test_every_internal_link_has_a_target() -> None:
    page = Page(render_html(catalogue_document()))
    ids = {e.attrs["id"] for e in page.root.iter() if "id" in e.attrs}
    targets = [
        str(a.attrs["href"])[1:]
        for a in page.root.find_all("a")
        if str(a.attrs.get("href")).startswith("#")
    ]
    assert targets
    assert [t for t in targets if t not in ids] == []


def test_header_states_the_run_and_how_to_repeat_it() -> None:
    document = example()
    page = Page(render_html(document))
    text = page.root.find_all("header")[0].text() + " " + page.root.by_id("run").text()
    for value in (
        document["outcome"],
        document["target"]["name"],
        document["target"]["base_url"],
        document["run_id"],
        "2026-11-22 12:00:00",
        "12.5 s",
        str(document["seed"]),
        str(document["requests_sent"]),
        document["tool"]["version"],
        document["spec_version"],
        document["versions"]["hypothesis"],
        document["command"],
        *document["notes"],
    ):
        assert value in text, value
    (totals,) = page.root.find_all("table", **{"class": "totals"})
    table = {
        row.find_all("th")[0].text(): [int(td.text()) for td in row.find_all("td")]
        for row in totals.find_all("tbody")[0].find_all("tr")
    }
    statuses = tines_spec.schema("report.schema.json")["$defs"]["status"]["enum"]
    assert table == {
        level: [*(counts.get(status, 0) for status in statuses), sum(counts.values())]
        for level, counts in document["totals"].items()
    }


def test_checks_table_lists_every_check() -> None:
    document = example()
    page = Page(render_html(document))
    found = [
        (row.attrs["data-check"], row.text())
        for row in page.root.by_id("checks").find_all("tr")
        if "data-check" in row.attrs
    ]
    assert [check for check, _ in found] == [c["id"] for c in document["checks"]]
    for (_, text), check in zip(found, document["checks"], strict=True):
        assert all(rid in text for rid in check["requirements"])
        assert check["status"] in text
        assert f"{check['attempts']} " in text + " "
        assert ("flaky" in text) == check["flaky"]


def test_nothing_is_loaded_from_elsewhere() -> None:
    document = catalogue_document()
    html = render_html(document)
    page = Page(html)
    assert [e.tag for e in page.root.iter() if "src" in e.attrs] == []
    assert page.root.find_all("link") == []
    sources = {r["source_url"] for r in document["requirements"]}
    hrefs = [(e.tag, str(e.attrs["href"])) for e in page.root.iter() if "href" in e.attrs]
    outward = [(tag, href) for tag, href in hrefs if not href.startswith("#")]
    assert outward  # the sources are linked ...
    assert [(tag, href) for tag, href in outward if tag != "a" or href not in sources] == []
    (style,) = page.root.find_all("style")
    (script,) = page.root.find_all("script")
    assert not re.search(r"url\(|@import", str(style.children[0]))
    (csp,) = page.root.find_all("meta", http_equiv="Content-Security-Policy")
    policy = str(csp.attrs["content"])
    assert "default-src 'none'" in policy
    # The inline blocks are allowed by hash: a mismatch would silently disable the filters.
    for block in (style, script):
        (body,) = block.children
        assert isinstance(body, str)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy


def test_hostile_text_is_rendered_inert() -> None:
    document = example()
    document["target"]["name"] = HOSTILE
    document["notes"].append(HOSTILE)
    document["command"] = HOSTILE
    first = document["requirements"][0]
    first["title"] = HOSTILE
    first["reason"] = HOSTILE
    first["source_url"] = "javascript:alert(1)"
    first["failure"] = {key: HOSTILE for key in first["failure"]}
    document["checks"][0]["id"] = HOSTILE
    second = document["requirements"][1]
    second["title"] = f"`{HOSTILE}` and `<b>bold</b>`"
    second["sentence"] = f"odd ` backtick {HOSTILE}"
    page = Page(render_html(document))
    assert len(page.root.find_all("script")) == 1
    assert page.root.find_all("img") == []
    assert [e.tag for e in page.root.iter() if any(a.startswith("on") for a in e.attrs)] == []
    assert [a for a in page.root.find_all("a") if "javascript" in str(a.attrs.get("href"))] == []
    assert len(rows(page)) == len(document["requirements"])
    article = page.root.by_id(f"failure-{first['id']}")
    assert " ".join(HOSTILE.split()) in article.text()  # shown as text, whole
    assert "javascript:alert(1)" in article.text()  # the bad link is shown, not followed
    assert page.root.find_all("b") == []
    coded = page.root.by_id(f"req-{second['id']}").find_all("code")
    assert [c.text() for c in coded] == [" ".join(HOSTILE.split()), "<b>bold</b>"]
    assert (
        f"odd ` backtick {' '.join(HOSTILE.split())}"
        in page.root.by_id(f"failure-{second['id']}").text()
    )


def test_registered_secrets_are_masked() -> None:
    secret = "html-report-s3cret-value"
    redaction.register_secret(secret)
    document = example()
    document["notes"].append(f"token {secret}")
    document["requirements"][0]["failure"]["actual"] = f'{{"leak": "{secret}"}}'
    html = render_html(document)
    assert secret not in html
    assert redaction.MASK in html


def test_without_script_every_row_shows_and_the_filters_stay_hidden() -> None:
    document = catalogue_document()
    page = Page(render_html(document))
    assert [r for r in rows(page) if "hidden" in r.attrs or "style" in r.attrs] == []
    assert "hidden" in page.root.by_id("filters").attrs
    n = len(document["requirements"])
    assert page.root.by_id("visible-count").text() == f"Showing {n} of {n} requirements"


def test_a_clean_run_says_nothing_failed() -> None:
    document = example()
    document["outcome"] = "passed"
    document["requirements"] = [
        r for r in document["requirements"] if r["status"] != "failed" and not r["flaky"]
    ]
    page = Page(render_html(document))
    assert page.root.find_all("article") == []
    assert "No requirement failed" in page.root.by_id("failures").text()


def test_write_html_creates_the_file(tmp_path: Path) -> None:
    document = example()
    path = tmp_path / "out" / "report.html"
    write_html(document, path)
    assert path.read_text(encoding="utf-8") == render_html(document)


# ---------------------------------------------------------------------------- in a real browser

VISIBLE_ROWS = """
return Array.from(document.querySelectorAll('#matrix tbody tr[data-requirement]'))
  .filter((row) => row.getClientRects().length > 0)
  .map((row) => row.dataset.requirement);
"""
ALL_ROWS = """
return Array.from(document.querySelectorAll('#matrix tbody tr[data-requirement]'))
  .map((row) => row.dataset.requirement);
"""


def pick_filters(document: dict[str, Any]) -> tuple[str, str, bool]:
    """An area and a level whose rows are fewer than the area's and fewer than the level's, so
    that both filters visibly hide something; False when the document has no such pair."""
    reqs = document["requirements"]
    pairs = Counter((r["area"], r["level"]) for r in reqs)
    areas = Counter(r["area"] for r in reqs)
    levels = Counter(r["level"] for r in reqs)
    for (area, level), n in pairs.items():
        if n < areas[area] and n < levels[level]:
            return area, level, True
    area, level = next(iter(pairs))
    return area, level, False


def visible(driver: Any) -> list[str]:
    found: list[str] = driver.execute_script(VISIBLE_ROWS)
    return found


def expect_rows(driver: Any, document: dict[str, Any], **wanted: str) -> None:
    expected = [
        r["id"]
        for r in document["requirements"]
        if all(r[key] == value for key, value in wanted.items() if value)
    ]
    WebDriverWait(driver, 5).until(lambda d: visible(d) == expected)
    total = len(document["requirements"])
    count = driver.find_element(By.ID, "visible-count").text
    assert count == f"Showing {len(expected)} of {total} requirements"


def choose(driver: Any, name: str, value: str) -> None:
    Select(driver.find_element(By.NAME, name)).select_by_value(value)


def test_a_missing_browser_fails_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(
        pytest.fail.Exception, match="install Debian's chromium and chromium-driver"
    ):
        require_chromium((tmp_path / "chromium",))


@pytest.mark.slow
def test_report_in_chromium(tmp_path: Path) -> None:
    documents = {"example": example(), "catalogue": catalogue_document()}
    with chromium(tmp_path / "chromium-profile") as driver:
        for name, document in documents.items():
            path = tmp_path / f"{name}.html"
            write_html(document, path)
            driver.get(path.as_uri())
            WebDriverWait(driver, 5).until(
                lambda d: d.find_element(By.ID, "filters").is_displayed()
            )
            ids = [r["id"] for r in document["requirements"]]
            assert driver.execute_script(ALL_ROWS) == ids
            assert visible(driver) == ids

            area, level, both_hide = pick_filters(document)
            assert both_hide or name == "example"
            choose(driver, "area", area)
            expect_rows(driver, document, area=area)
            choose(driver, "level", level)
            expect_rows(driver, document, area=area, level=level)
            choose(driver, "area", "")
            expect_rows(driver, document, level=level)
            choose(driver, "status", "failed")
            expect_rows(driver, document, level=level, status="failed")
            driver.find_element(By.ID, "filters-clear").click()
            expect_rows(driver, document)

        # A failure's link back to a row the filters hide shows every row again.
        document = documents["catalogue"]
        ids = [r["id"] for r in document["requirements"]]
        path = tmp_path / "catalogue.html"
        failed = next(r["id"] for r in document["requirements"] if r["status"] == "failed")
        choose(driver, "status", "passed")
        expect_rows(driver, document, status="passed")
        driver.get(f"{path.as_uri()}#failure-{failed}")
        driver.find_element(By.CSS_SELECTOR, f'#failure-{failed} a[href="#req-{failed}"]').click()
        WebDriverWait(driver, 5).until(
            lambda d: d.find_element(By.ID, f"req-{failed}").is_displayed()
        )
        expect_rows(driver, document)

        # The header row of the matrix stays in view while its rows scroll under it.
        driver.execute_script(
            "document.getElementById(arguments[0]).scrollIntoView()", f"req-{ids[30]}"
        )
        header_top = driver.execute_script(
            "return document.querySelector('#matrix thead th').getBoundingClientRect().top"
        )
        assert abs(header_top) < 1
        driver.save_screenshot(str(tmp_path / "report.png"))
        shutil.copyfile(tmp_path / "report.png", "/tmp/report-screenshot.png")

        # A narrow window: nothing wider than the window.
        driver.set_window_size(500, 900)
        WebDriverWait(driver, 5).until(lambda d: d.execute_script("return innerWidth") <= 520)
        widths = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1]
        driver.save_screenshot(str(tmp_path / "report-narrow.png"))

        errors = [e for e in driver.get_log("browser") if e["level"] in {"SEVERE", "WARNING"}]
        assert errors == []

        # Without JS: every row shows, and the filters that could do nothing stay hidden.
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
        driver.get(path.as_uri())
        WebDriverWait(driver, 5).until(lambda d: visible(d) == ids)
        assert not driver.find_element(By.ID, "filters").is_displayed()
