"""The built-in checks' markers, read without a pytest session: which requirements read a probe.

The plugin reads the markers off collected items; a benchmark or a test that drives the scheduler
on its own reads them here, from the check functions of `conformance/checks/`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType
from typing import Any

from conformance.background import PROBE_MARKER, serve_checks

CHECKS_PACKAGE = "conformance.checks"


def check_functions() -> list[tuple[str, Any]]:
    """Every check function of the built-in check modules, as (module.name, function)."""
    package = importlib.import_module(CHECKS_PACKAGE)
    found = []
    for info in pkgutil.iter_modules(package.__path__):
        found += _functions(importlib.import_module(f"{CHECKS_PACKAGE}.{info.name}"))
    return found


def _functions(module: ModuleType) -> list[tuple[str, Any]]:
    short = module.__name__.rpartition(".")[2]
    return [
        (f"{short}.{name}", function)
        for name, function in vars(module).items()
        if name.startswith("test_") and inspect.isfunction(function)
    ]


def marks(function: Any, name: str) -> list[Any]:
    """The arguments of a function's `name` markers, in order."""
    return [
        arg
        for mark in getattr(function, "pytestmark", [])
        if mark.name == name
        for arg in mark.args
    ]


def _serve(functions: list[tuple[str, Any]]) -> frozenset[str]:
    readers = [
        (name, marks(function, "requirement"), getattr(function, "pytestmark", []))
        for name, function in functions
        if marks(function, PROBE_MARKER)
    ]
    serve_checks(readers)
    return frozenset(rid for _, ids, _ in readers for rid in ids)


def serve_builtin_checks() -> frozenset[str]:
    """Do what the plugin does at collection for the built-in checks (each probe serves the
    requirements of the checks marked as reading it); returns those requirements."""
    return _serve(check_functions())


def serve_module_checks(module: ModuleType) -> frozenset[str]:
    """The same for the checks of one module."""
    return _serve(_functions(module))
