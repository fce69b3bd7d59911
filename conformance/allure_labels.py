"""What Allure shows of a check: labels and links per requirement, and the exchanges it sent.

Used only when allure-pytest is loaded; its imports stay inside the functions for that reason.
"""

from __future__ import annotations

import json

import pytest

import tines_spec
from conformance.run_state import RunState

_ALLURE_SEVERITY = {"MUST": "critical", "SHOULD": "normal", "MAY": "minor"}


def allure_active(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin("allure_listener")


def label_for_allure(item: pytest.Item, ids: tuple[str, ...]) -> None:
    """Epic = the source document, feature = the requirement's area (its ID's prefix), story =
    the ID, severity = the strictest level; `requirement` and `level` labels carry the IDs and
    levels as such, and each requirement links to its sentence on the published page."""
    from allure_pytest.utils import ALLURE_LABEL_MARK, ALLURE_LINK_MARK

    catalogue = tines_spec.catalogue()
    label = getattr(pytest.mark, ALLURE_LABEL_MARK)
    link = getattr(pytest.mark, ALLURE_LINK_MARK)
    requirements = [catalogue[rid] for rid in ids]
    epics = sorted({catalogue.document_title(r) for r in requirements})
    areas = sorted({rid.rsplit("-", 1)[0] for rid in ids})
    item.add_marker(label(*epics, label_type="epic"))
    item.add_marker(label(*areas, label_type="feature"))
    item.add_marker(label(*ids, label_type="story"))
    item.add_marker(label(*ids, label_type="requirement"))
    levels = sorted({f"{r.id}: {r.level}" for r in requirements})
    item.add_marker(label(*levels, label_type="level"))
    strictest = min(requirements, key=lambda r: tines_spec.LEVELS.index(r.level))
    item.add_marker(label(_ALLURE_SEVERITY[strictest.level], label_type="severity"))
    for requirement in requirements:
        item.add_marker(
            link(catalogue.source_url(requirement), name=requirement.id, link_type="requirement")
        )


def attach_exchanges(item: pytest.Item, state: RunState) -> None:
    """Each exchange the check sent, as evidence on its Allure result (already redacted)."""
    log = state.exchange_log
    if log is None:
        return
    entries = log.take(item.nodeid)
    if not entries or not item.config.pluginmanager.has_plugin("allure_listener"):
        return
    import allure

    for number, entry in enumerate(entries, start=1):
        request, response = entry["request"], entry["response"]
        status = response["status"] or response.get("_error", "no answer")
        allure.attach(
            json.dumps({"request": request, "response": response}, indent=2, ensure_ascii=False),
            name=f"exchange {number}: {request['method']} {request['url']} -> {status}",
            attachment_type=allure.attachment_type.JSON,
        )
