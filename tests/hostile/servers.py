"""Hostile targets: raw asyncio servers on 127.0.0.1 that misbehave as a target can.

Each speaks just enough HTTP/1.1 by hand (a framework would refuse to send what these send) and
closes every connection after one answer. `door` says whether the first request (the suite's
reachability check) gets an ordinary answer, so that the run goes on to its checks and meets the
hostility there, or is met at once.

    huge      a body of gigabytes (declared, or until close), sent as fast as the socket takes it
    trickle   the status line and headers a byte at a time, then the body likewise
    silent    reads the request, never answers
    garbage   bytes that are not HTTP, holding the credentials it was sent, base64-encoded
    echo      200 JSON echoing the request line and headers in many encodings, and in headers
    foreign   a 504 whose response URL (and a 302's Location) point at another server
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import html
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

# However long the suite reads, a huge answer stops here, so that a suite that buffers answers
# (the defect these targets exist to catch) uses a few hundred MB and not the test machine's all.
HUGE_SEND_LIMIT = 600 * 1024 * 1024
HUGE_DECLARED = 3 * 1024**3
TRICKLE_PAUSE = 0.5
_CHUNK = b"0" * (1024 * 1024)
DOOR_STORY = b'{"id": 1, "name": "door"}'


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def head(self) -> str:
        lines = [f"{self.method} {self.target} HTTP/1.1"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return "\r\n".join(lines)


def _response(status: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def encodings(text: str) -> dict[str, str]:
    """The forms of `text` an echoing target hands back."""
    raw = text.encode()
    return {
        "raw": text,
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "quote": quote(text, safe=""),
        "quote_plus": quote_plus(text),
        "json": json.dumps(text),
        "hex": binascii.hexlify(raw).decode(),
        "html": html.escape(text),
    }


@dataclass
class HostileTarget:
    kind: str
    door: bool = True
    foreign_url: str = ""
    base_url: str = ""
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _count(self) -> int:
        with self._lock:
            self.requests += 1
            return self.requests

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is None:
                return
            number = self._count()
            if self.door and number == 1:
                writer.write(_response("200 OK", {"Content-Type": "application/json"}, DOOR_STORY))
            else:
                await getattr(self, f"_{self.kind}")(request, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _huge(self, request: Request, writer: asyncio.StreamWriter) -> None:
        declared = request.method == "POST"  # webhooks: declared; stories: until close
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
        if declared:
            head += f"Content-Length: {HUGE_DECLARED}\r\n"
        writer.write((head + "\r\n").encode())
        sent = 0
        while sent < HUGE_SEND_LIMIT:
            writer.write(_CHUNK)
            await writer.drain()
            sent += len(_CHUNK)

    async def _trickle(self, request: Request, writer: asyncio.StreamWriter) -> None:
        answer = _response("200 OK", {"Content-Type": "application/json"}, b"[" + b"1," * 10_000)
        for byte in answer:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(TRICKLE_PAUSE)  # the target's pace, not synchronisation

    async def _silent(self, request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()  # until the suite gives up and the server is closed

    async def _garbage(self, request: Request, writer: asyncio.StreamWriter) -> None:
        # The credentials first, so that even a one-line error that quotes only the start of
        # the garbage would carry them.
        sent = [v for k, v in request.headers if k.lower() in ("authorization", "x-user-token")]
        words = base64.b64encode(" ".join(sent).encode()).decode()
        blob = base64.b64encode(request.head.encode()).decode()
        writer.write(f"\x00\x16\x03 {words} {blob} {request.target}\r\n\r\n".encode())

    async def _echo(self, request: Request, writer: asyncio.StreamWriter) -> None:
        echoed = {
            "request": encodings(request.head),
            "url": encodings(request.target),
            "headers": {name: encodings(value) for name, value in request.headers},
            "body": encodings(request.body.decode("utf-8", errors="replace")),
        }
        headers = {"Content-Type": "application/json"}
        for name, value in request.headers:
            if name.lower() in ("authorization", "x-user-token"):
                headers["X-Echo-" + name] = base64.b64encode(value.encode()).decode()
                headers["X-Echo-Quoted-" + name] = quote(value, safe="")
        body = json.dumps(echoed).encode()
        writer.write(_response("200 OK", headers, body))

    async def _foreign(self, request: Request, writer: asyncio.StreamWriter) -> None:
        elsewhere = f"{self.foreign_url}/webhook/elsewhere/{self.requests}"
        if request.method == "GET":
            writer.write(_response("302 Found", {"Location": elsewhere}, b""))
            return
        body = json.dumps({"limit_reached": "time", "response_url": elsewhere}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Tines-Status": "ok",
            "X-Tines-Limit-Reached": "time",
            "X-Tines-Response-Location": elsewhere,
        }
        writer.write(_response("504 Gateway Timeout", headers, body))


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
    headers = []
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
    body = await reader.readexactly(length) if length else b""
    return Request(method, target, headers, body)


@contextlib.contextmanager
def serving(target: HostileTarget) -> Iterator[HostileTarget]:
    """The target listening on 127.0.0.1 (a free port) in a thread of its own, until the block
    ends; its connections are dropped then, whatever they were doing."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Future[None] | None = None
    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await target.serve(reader, writer)
        finally:
            tasks.discard(task)

    async def main() -> None:
        nonlocal stop
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        target.base_url = f"http://127.0.0.1:{port}"
        stop = loop.create_future()
        ready.set()
        async with server:
            await stop
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the hostile target did not start"
    try:
        yield target
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set_result, None)
        thread.join(10)
        loop.close()
