"""Time limits on reading a request, which uvicorn does not set: head, body, unread rest.

uvicorn bounds an idle keep-alive connection (`timeout_keep_alive`) and the size of a request's
head (`h11_max_incomplete_event_size`), but not the time a client takes to send them: a client
that sends its headers a byte at a time (slowloris), or a body shorter than its Content-Length,
holds its connection, and for the body the request's task, for as long as it likes. Two pieces
close that gap:

- `limited_h11`: uvicorn's h11 protocol with a timer per request. The request line and headers
  must be complete within the header timeout of the connection opening (or of the first byte of
  a later request on it), else the client gets 408 with the JSON error body and the connection is
  closed. When the app has answered without reading the whole body (a 404, a 413), the rest must
  arrive within the body timeout, else the connection is closed. It also answers uvicorn's own 400
  for a request that is not HTTP with the JSON error body, instead of text/plain.
- `BodyDeadline`: ASGI middleware. The whole body must reach the app within the body timeout of
  its headers, else 408 with the JSON error body and `Connection: close`. A client that goes away
  mid-body gets a 400 nobody reads, rather than an exception in the log.

Hand-written, on uvicorn's h11 protocol class: uvicorn (0.54) has no option for either limit, and
the usual answer, a reverse proxy in front (nginx's client_header_timeout), is not something a
test server started by `reference-impl serve` can rely on.
"""

from __future__ import annotations

import asyncio

import h11
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from reference_impl.negotiation import render_json

__all__ = ["BodyDeadline", "limited_h11", "limited_httptools", "limited_protocol"]


def _error_body(message: str) -> bytes:
    return render_json({"errors": [{"message": message}]})


def _raw_response(status: int, reason: str, body: bytes) -> bytes:
    """A whole response with `Connection: close`, for when h11 has no request to answer."""
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _ReadTimer:
    """The one timer of a limited connection, which both protocol classes share: armed for the
    head ("head": a late one is answered `_head_late`) or for the unread rest of a body ("rest"),
    it closes the connection when it expires. Each class sets the seconds and the answer."""

    _head_seconds: float
    _rest_seconds: float
    _head_late: bytes
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    _timer: asyncio.TimerHandle | None = None
    _timing: str | None = None  # "head" or "rest": what the armed timer waits for

    def _arm(self, timing: str) -> None:
        if self._timing == timing:
            return  # a deadline runs from the start of what it waits for, not the last byte
        self._disarm()
        seconds = self._head_seconds if timing == "head" else self._rest_seconds
        self._timing = timing
        self._timer = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timing = None

    def _expired(self) -> None:
        timing, self._timer, self._timing = self._timing, None, None
        if self.transport.is_closing():
            return
        if timing == "head":
            self.transport.write(self._head_late)
        self.transport.close()


def limited_h11(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol class with these limits (uvicorn instantiates it per connection)."""
    head_late = _raw_response(
        408,
        "Request Timeout",
        _error_body(f"the request headers did not arrive within {header_timeout:g} s"),
    )

    class LimitedH11Protocol(_ReadTimer, H11Protocol):
        parser_name = "h11"
        _head_seconds, _rest_seconds, _head_late = header_timeout, body_timeout, head_late

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm("head")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._watch()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._watch()

        def send_400_response(self, msg: str) -> None:
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                # The head was valid and the app is running (a bad chunk came later): its answer
                # is dropped and it reads a disconnect, or h11 would refuse its second response.
                cycle.disconnected = True
                cycle.message_event.set()
                if cycle.response_started:
                    self.transport.close()
                    return
            body = _error_body("the request is not valid HTTP/1.1")
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            response = h11.Response(status_code=400, headers=headers, reason=b"Bad Request")
            self.transport.write(self.conn.send(response))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
            self.transport.close()

        def _watch(self) -> None:
            """Arm or disarm the timer for what the connection now waits for."""
            if self.transport.is_closing():
                self._disarm()
                return
            state = self.conn.their_state
            if state is h11.IDLE:
                if self.conn.trailing_data[0]:
                    self._arm("head")  # part of a request head is in: it has a deadline
                else:
                    self._disarm()  # idle between requests: uvicorn's keep-alive timer's job
            elif state is h11.SEND_BODY and self.cycle is not None and self.cycle.response_complete:
                self._arm("rest")  # answered without reading the body: it has a deadline
            else:
                # Reading the body (BodyDeadline's job, the app's pace), or the request is in.
                self._disarm()

    return LimitedH11Protocol


def limited_httptools(
    header_timeout: float, body_timeout: float, max_header_bytes: int
) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol class with the same limits as `limited_h11`.

    httptools (llhttp) is uvicorn's fast parser, but it has no size limit of its own for a head
    still arriving, which h11 has (`h11_max_incomplete_event_size`): the bytes of an unfinished
    head are counted here, and past `max_header_bytes` the client gets the JSON 400.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    head_late = _raw_response(
        408,
        "Request Timeout",
        _error_body(f"the request headers did not arrive within {header_timeout:g} s"),
    )
    not_http = _raw_response(400, "Bad Request", _error_body("the request is not valid HTTP/1.1"))

    class LimitedHttpToolsProtocol(_ReadTimer, HttpToolsProtocol):
        parser_name = "httptools"
        _head_seconds, _rest_seconds, _head_late = header_timeout, body_timeout, head_late
        _in_head = True  # between a message's first byte (or the connection's) and its headers
        _head_bytes = 0
        _message_done = False
        _begun = False  # a message began in the read being parsed

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm("head")

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                self._head_bytes += len(data)
            super().data_received(data)
            if self._in_head:
                if self._head_bytes > max_header_bytes and not self.transport.is_closing():
                    self.send_400_response("request head too large")
                elif self._begun:
                    # Armed only now, for a head that did not come whole in one read: the usual
                    # request costs no timer.
                    self._arm("head")
            self._begun = False

        def send_400_response(self, msg: str) -> None:
            self._disarm()
            self.transport.write(not_http)
            self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head, self._message_done, self._begun = True, False, True

        def on_headers_complete(self) -> None:
            self._in_head, self._head_bytes = False, 0
            self._disarm()  # the body is read at the app's pace, under BodyDeadline
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            # From here the bytes that come are the next request's head.
            self._message_done, self._in_head, self._head_bytes = True, True, 0
            self._begun = False
            if self._timing == "rest":
                self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # Answered without reading the whole body (and no later request has begun): the rest
            # of the body has a deadline.
            if not (self._message_done or self._in_head or self.transport.is_closing()):
                self._arm("rest")

    return LimitedHttpToolsProtocol


def limited_protocol(
    header_timeout: float, body_timeout: float, max_header_bytes: int
) -> type[asyncio.Protocol]:
    """The fastest limited protocol installed: httptools when it imports (what uvicorn's "auto"
    picks), else h11, whose head size limit is uvicorn's `h11_max_incomplete_event_size`."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return limited_h11(header_timeout, body_timeout)
    return limited_httptools(header_timeout, body_timeout, max_header_bytes)


class BodyDeadline:
    """ASGI middleware: the request body must arrive within `seconds` of the request's start."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        complete = False
        started = False

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:
                return await receive()  # after the body: a disconnect, whenever it comes
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"the request body did not arrive within {self.seconds:g} s",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] == "http.disconnect":
                # Raised as a client error, not Starlette's ClientDisconnect, which its error
                # middleware would log with a traceback: the client is gone, nobody reads this.
                raise HTTPException(400, "the client left before the request body was complete")
            if not message.get("more_body", False):
                complete = True
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except HTTPException as exc:
            # Raised outside Starlette's exception handlers (a bare ASGI route read the body).
            if started:
                raise
            body = _error_body(exc.detail)
            await send(
                {
                    "type": "http.response.start",
                    "status": exc.status_code,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
