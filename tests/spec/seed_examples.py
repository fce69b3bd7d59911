"""The examples of the two source documents, read out of their fenced ```json blocks.

The documents mark every example as ```json, but some of those blocks are HTTP messages (a status
line, header lines, a blank line, a body) and one body is CSV. The tests need to tell the two
apart to find "the 504 body" or "the exit payloads" by what they are rather than by position, so
a block is read as an HTTP message when it starts with a status line and as a bare JSON value
otherwise. The format is this small and fixed, so it is parsed by hand rather than through
`http.client`, which wants a socket-shaped stream.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tines_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
SEEDS_DIR = REPO_ROOT.parent / "shared" / "seeds"
DATA_DIR = Path(__file__).resolve().parent / "data"

_FENCED_JSON = re.compile(r"```json\n(.*?)```", re.DOTALL)
_STATUS_LINE = re.compile(r"HTTP/1\.1 (\d{3}) (.*)")


@dataclass(frozen=True)
class HttpExample:
    """An HTTP message shown in a document: its status, header lines and raw body text."""

    status: int
    reason: str
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


def seed_path(document: str) -> Path:
    """The seed file of a catalogue document key (`workflows-as-apis`, `stories-get`)."""
    return SEEDS_DIR / tines_spec.catalogue().documents[document]["file"]


def fenced_json_blocks(text: str) -> list[str]:
    return [block.strip("\n") for block in _FENCED_JSON.findall(text)]


def parse_http_example(block: str) -> HttpExample | None:
    """The block as an HTTP message, or None when it is a bare JSON value."""
    lines = block.strip().splitlines()
    status = _STATUS_LINE.fullmatch(lines[0].strip()) if lines else None
    if status is None:
        return None
    headers: dict[str, str] = {}
    rest = lines[1:]
    while rest and rest[0].strip():
        name, _, value = rest.pop(0).partition(":")
        headers[name.strip()] = value.strip()
    return HttpExample(
        status=int(status.group(1)),
        reason=status.group(2),
        headers=headers,
        body="\n".join(rest).strip(),
    )


def http_examples(text: str) -> list[HttpExample]:
    parsed = (parse_http_example(block) for block in fenced_json_blocks(text))
    return [example for example in parsed if example is not None]


def bare_json_examples(text: str) -> list[Any]:
    """Every ```json block that is a JSON value rather than an HTTP message, in document order."""
    return [
        json.loads(block) for block in fenced_json_blocks(text) if parse_http_example(block) is None
    ]


def workflows_examples(text: str) -> dict[str, Any]:
    """The examples of "Workflows as APIs" the spec tests use, in the shape of the data file.

    exit_payloads: the payloads the document shows an exit action emitting (its bare JSON blocks);
    data_response_body: the body of its first example, a plain 200 data answer;
    timeout_body: the body of its 504 example;
    csv_data: the JSON side of its JSON/CSV comparison (the example answered with application/json
    whose sibling is answered as text/csv).
    """
    examples = http_examples(text)
    (timeout,) = [example for example in examples if example.status == 504]
    (as_json,) = [
        example for example in examples if example.headers.get("Accept") == "application/json"
    ]
    return {
        "exit_payloads": bare_json_examples(text),
        "data_response_body": examples[0].json(),
        "timeout_body": timeout.json(),
        "csv_data": as_json.json(),
    }


def stories_get_sample(text: str) -> Any:
    """The sample response of the Get document: its one ```json block."""
    (sample,) = fenced_json_blocks(text)
    return json.loads(sample)


def load_data(name: str) -> Any:
    """A copy of a seed example kept under tests/spec/data, for checkouts without the seeds."""
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
