"""report.html: the run for a person with a browser, in one file that opens without a network.

Rendered from the summary document (summary.json, `report.schema.json`) and nothing else, so a
report can be rebuilt from an archived summary. The page carries its own CSS and JS inline and a
Content-Security-Policy that allows only those two blocks (by hash): even if a text of the target
ever slipped past autoescaping, an injected script or a remote resource would not load. The
filters are progressive: without JS every row is shown and the filter form stays hidden.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup, escape

import tines_spec
from conformance.redaction import redact

TEMPLATE = "report.html.j2"
STYLESHEET = "report.css"
SCRIPT = "report.js"

# The schemes a source link may use: anything else (javascript:, data:) is shown as text only.
_LINK_SCHEMES = frozenset({"http", "https"})


def _inline_code(text: str) -> Markup:
    """`code` in the catalogue's titles and sentences as <code>, every piece escaped; text with
    an odd number of backticks is left as it is."""
    pieces = text.split("`")
    if len(pieces) % 2 == 0:
        return escape(text)
    return Markup("").join(
        Markup("<code>{}</code>").format(piece) if odd else escape(piece)
        for odd, piece in ((i % 2 == 1, p) for i, p in enumerate(pieces))
    )


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("conformance.reporting", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["inline_code"] = _inline_code
    return env


def _asset(name: str) -> str:
    env = _environment()
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, name)
    return source


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def _redacted(value: Any) -> Any:
    """Every string of the document, redacted before it is escaped (an escaped secret with a
    `&` or `<` in it would no longer match the redactor)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def _statuses() -> tuple[str, ...]:
    return tuple(tines_spec.schema("report.schema.json")["$defs"]["status"]["enum"])


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.2f} s" if value < 1 else f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s"


def _when(value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (moment.strftime(" %z") if moment.tzinfo else "")


def _link(url: str | None) -> str | None:
    if url and urlsplit(url).scheme.lower() in _LINK_SCHEMES:
        return url
    return None


def _requirement_view(requirement: Mapping[str, Any]) -> dict[str, Any]:
    failure = requirement.get("failure")
    shown = requirement["status"] in ("failed", "blocked") and failure is not None
    shown = (
        shown or requirement["status"] == "failed" or (requirement["flaky"] and failure is not None)
    )
    return {
        **requirement,
        "expectation": requirement.get("expectation"),
        "link": _link(requirement["source_url"]),
        "row_anchor": f"req-{requirement['id']}",
        "failure_anchor": f"failure-{requirement['id']}" if shown else None,
    }


def _check_view(check: Mapping[str, Any], anchors: Mapping[str, str]) -> dict[str, Any]:
    return {
        **check,
        "duration": _seconds(check["duration_seconds"]),
        "requirement_links": [(rid, anchors.get(rid)) for rid in check["requirements"]],
    }


def _context(document: Mapping[str, Any]) -> dict[str, Any]:
    doc = _redacted(document)
    statuses = _statuses()
    requirements = [_requirement_view(r) for r in doc["requirements"]]
    anchors = {r["id"]: r["row_anchor"] for r in requirements}
    areas = Counter(r["area"] for r in requirements)
    present_levels = {r["level"] for r in requirements} | set(doc["levels"])
    levels = [level for level in tines_spec.LEVELS if level in present_levels]
    level_counts = Counter(r["level"] for r in requirements)
    status_counts = Counter(r["status"] for r in requirements)
    failures = [r for r in requirements if r["failure_anchor"] and r["status"] == "failed"]
    failures += [r for r in requirements if r["failure_anchor"] and r["status"] != "failed"]
    target = doc["target"]
    return {
        "doc": doc,
        "title": f"Conformance run {doc['run_id']}: {doc['outcome']}",
        "target_name": target.get("name"),
        "target_profile": target.get("profile"),
        "started": _when(doc["started_at"]),
        "duration": _seconds(doc["duration_seconds"]),
        "statuses": statuses,
        "levels": levels,
        "totals": [(level, doc["totals"].get(level)) for level in levels],
        "requirements": requirements,
        "areas": list(areas.items()),  # in the document's order, which is the catalogue's
        "level_counts": level_counts,
        "status_counts": status_counts,
        "flaky_count": sum(1 for r in requirements if r["flaky"]),
        "failures": failures,
        "checks": [_check_view(c, anchors) for c in doc["checks"]],
        "only": doc.get("only") or [],
        "expectations_file": doc.get("expectations_file"),
        "artifacts": doc.get("artifacts") or [],
        "root_causes": doc.get("root_causes") or [],
    }


def prepare_html() -> None:
    """Compile the template now, for `render_html` later (`conformance.report_writing`)."""
    _environment().get_template(TEMPLATE)


def render_html(document: Mapping[str, Any]) -> str:
    """The page for one summary document (valid against report.schema.json)."""
    css, js = _asset(STYLESHEET), _asset(SCRIPT)
    csp = "; ".join(
        [
            "default-src 'none'",
            f"style-src {_csp_hash(css)}",
            f"script-src {_csp_hash(js)}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    # Markup: the two files beside the template, never the document's text; the CSP names them
    # by hash, so they must reach the page byte for byte.
    style, script = Markup(css), Markup(js)  # noqa: S704
    template = _environment().get_template(TEMPLATE)
    return template.render(**_context(document), css=style, js=script, csp=csp)


def write_html(document: Mapping[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(document), encoding="utf-8")
