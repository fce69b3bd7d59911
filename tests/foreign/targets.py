"""Two targets nobody on the project wrote the suite against, served in-process on 127.0.0.1.

- `naive`: what a first implementation might do. The probe answers its `exit` as JSON, whatever
  the delay, the Accept header or the convention; every story ID answers the documentation's
  sample story; no X-Tines-* header, no limit, no timeout, no key checked.
- `mock`: what a mock server built from spec/openapi.yaml answers (as Prism does without
  examples): each operation's first 2xx response, its body the schema's static example (every
  required field with the first value its type allows), its headers their documented examples.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import tines_spec

SAMPLE_STORY = Path(__file__).resolve().parents[1] / "spec" / "data" / "sample_story.json"
PROBE_PATH = "/webhook/probe/probe-secret"
STORY_PREFIX = "/api/v1/stories/"
# (status, headers, body) for a method and path, with the request body.
Answer = tuple[int, list[tuple[str, str]], bytes]
Handler = Callable[[str, str, bytes], Answer]
_JSON = ("Content-Type", "application/json")


def _json(status: int, value: Any, *headers: tuple[str, str]) -> Answer:
    return status, [_JSON, *headers], json.dumps(value).encode()


def naive(method: str, path: str, body: bytes) -> Answer:
    if method == "POST" and path == PROBE_PATH:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return _json(400, {"error": "bad JSON"})
        return _json(200, request.get("exit") if isinstance(request, dict) else None)
    if method == "GET" and path.startswith(STORY_PREFIX):
        return _json(200, json.loads(SAMPLE_STORY.read_text(encoding="utf-8")))
    return _json(404, {"error": "not found"})


_STATIC = {"string": "string", "integer": 0, "number": 0, "boolean": True, "null": None}


def static_example(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """The value a static mock gives a schema: enum's first, the first type's simplest value,
    every required property of an object; `$ref`s within the document followed."""
    if "$ref" in schema:
        pointer = schema["$ref"].partition("#")[2]
        node: Any = root
        for part in pointer.split("/")[1:]:
            node = node[part]
        return static_example(node, root)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if schema.get("format") == "date-time":
        return "2019-08-24T14:15:22Z"
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: static_example(properties.get(name, {}), root)
            for name in schema.get("required", [])
        }
    if kind == "array":
        return []
    return _STATIC.get(kind)


def mock(method: str, path: str, body: bytes) -> Answer:
    metadata = [("X-Tines-Status", "data_received"), ("X-Tines-Event-ID", "string")]
    metadata.append(("X-Tines-Exit-Action-ID", "string"))
    if path.startswith("/webhook/"):
        return _json(200, {}, *metadata)
    if method == "GET" and path.startswith(STORY_PREFIX):
        story = tines_spec.schema("story.schema.json")
        return _json(200, static_example(story, story))
    return _json(404, {"error": "not found"})


@contextmanager
def serving(handler: Handler) -> Iterator[str]:
    """Serve `handler` on a free port of 127.0.0.1; yields the base URL."""

    class Http(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, headers, content = handler(
                self.command, self.path.split("?", 1)[0], self.rfile.read(length)
            )
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Http)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
