"""Fixtures of the spec's tests: the source documents (when present) and a network ban."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from .seed_examples import SEEDS_DIR, seed_path


@pytest.fixture
def seed_text() -> Callable[[str], str]:
    """Reads a source document by its catalogue key; skips only when the seeds are not here at all.

    A seeds directory that exists but lacks a document is a failure, not a skip.
    """

    def read(document: str) -> str:
        if not SEEDS_DIR.is_dir():
            pytest.skip(f"the source documents are not in this checkout ({SEEDS_DIR} is absent)")
        return seed_path(document).read_text(encoding="utf-8")

    return read


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes any attempt to open a connection fail, so that a test proves it works offline."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network use attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
