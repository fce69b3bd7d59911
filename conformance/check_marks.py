"""The built-in checks' markers, read without a pytest session: which requirements read a probe.

The plugin reads the markers off collected items; a benchmark or a test that drives the scheduler
on its own reads them here, from the check functions of `conformance/checks/`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from conformance.background import PROBE_MARKER, serve_checks

CHECKS_PACKAGE = "conformance.checks"


def check_functions() -> list[tuple[str, Any]]:
    """Every check function of the built-in check modules, as (module.name, function)."""
    package = importlib.import_module(CHECKS_PACKAGE)
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{CHECKS_PACKAGE}.{info.name}")
        for name, function in vars(module).items():
            if name.startswith("test_") and inspect.isfunction(function):
                found.append((f"{info.name}.{name}", function))
    return found


def marks(function: Any, name: str) -> list[Any]:
    """The arguments of a function's `name` markers, in order."""
    return [
        arg
        for mark in getattr(function, "pytestmark", [])
        if mark.name == name
        for arg in mark.args
    ]


def serve_builtin_checks() -> frozenset[str]:
    """Do what the plugin does at collection for the built-in checks (each probe serves the
    requirements of the checks marked as reading it); returns those requirements."""
    readers = [
        (name, marks(function, "requirement"), getattr(function, "pytestmark", []))
        for name, function in check_functions()
        if marks(function, PROBE_MARKER)
    ]
    serve_checks(readers)
    return frozenset(rid for _, ids, _ in readers for rid in ids)
