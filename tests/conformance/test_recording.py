"""The run's exchange log: what the long waits send before pytest's session opens the log is
held for it, and nothing is held when nobody asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import recording
from conformance.exchange import Exchange, ReceivedResponse, SentRequest


def _exchange(path: str) -> Exchange:
    sent = SentRequest("POST", f"http://target.test/{path}")
    return Exchange(sent, ReceivedResponse(200, "OK", (), b"{}"))


@pytest.fixture(autouse=True)
def no_log() -> Iterator[None]:
    recording.install(None)
    yield
    recording.install(None)


def test_what_is_recorded_while_held_goes_to_the_log_once_installed(tmp_path: Path) -> None:
    recording.hold()
    recording.record(_exchange("early"), recording.now())
    log = recording.ExchangeLog(tmp_path / "spool.jsonl")
    try:
        recording.install(log)
        recording.record(_exchange("later"), recording.now())
        urls = [entry["request"]["url"] for entry in log.entries()]
    finally:
        log.close()
    assert urls == ["http://target.test/early", "http://target.test/later"]


def test_nothing_is_kept_without_a_hold(tmp_path: Path) -> None:
    recording.record(_exchange("dropped"), recording.now())
    recording.hold()
    recording.install(None)  # a session that never opened its log: the held are dropped
    recording.record(_exchange("dropped too"), recording.now())
    log = recording.ExchangeLog(tmp_path / "spool.jsonl")
    try:
        recording.install(log)
        assert list(log.entries()) == []
    finally:
        log.close()
