"""Time limits on reading a request, which uvicorn does not set: head and body.

uvicorn bounds an idle keep-alive connection (`timeout_keep_alive`) and the size of a request's
head (`h11_max_incomplete_event_size`), but not the time a client takes to send them: a client
that sends its headers a byte at a time (slowloris), or a body shorter than its Content-Length,
holds its connection, and for the body the request's task, for as long as it likes. uvicorn's two
protocol classes, each with one timer per connection, close that gap:

- `limited_httptools` (served when httptools imports) and `limited_h11` (the fallback). The
  request line and headers must be complete within the header timeout of the connection opening
  (or of the first byte of a later request on it), else the client gets 408 with the JSON error
  body and the connection is closed. The body must be complete within the body timeout of the
  read that completed the headers, else the client gets 408 with the JSON error body (and
  `X-Tines-Status: error` on a webhook) when nothing was answered yet, and the connection is
  closed either way: the app, if still reading, reads a disconnect (`error_answers.client_left`).
  Both answer a request that is not HTTP with the JSON 400 instead of uvicorn's text/plain.

The body's deadline is the protocol's, not an ASGI middleware's `asyncio.timeout` around each
`receive`: a body that came with its headers, the usual request, then costs no timer at all,
where a timeout per request was a twentieth of the webhook's CPU.

Hand-written, on uvicorn's protocol classes: uvicorn (0.55) has no option for either limit, and
the usual answer, a reverse proxy in front (nginx's client_header_timeout), is not something a
test server started by `reference-impl serve` can rely on.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

import tines_spec
from reference_impl.error_answers import error_bytes, is_webhook_path
from reference_impl.one_write import hold_heads

__all__ = ["limited_h11", "limited_httptools", "limited_protocol"]

_WEBHOOK_ERROR = f"{tines_spec.metadata_headers().status.lower()}: error\r\n"


def _raw_response(status: int, reason: str, message: str, *, webhook: bool = False) -> bytes:
    """A whole response with the JSON error body and `Connection: close`, written straight to
    the transport: there is no request to answer yet, or the app's answer is to be dropped."""
    body = error_bytes(message)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{_WEBHOOK_ERROR if webhook else ''}"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Late:
    """The 408s of one limited protocol class, built once."""

    def __init__(self, header_timeout: float, body_timeout: float) -> None:
        late = "Request Timeout"
        self.head = _raw_response(
            408, late, f"the request headers did not arrive within {header_timeout:g} s"
        )
        body = f"the request body did not arrive within {body_timeout:g} s"
        self.body = _raw_response(408, late, body)
        self.webhook_body = _raw_response(408, late, body, webhook=True)


class _ReadTimer:
    """The one timer of a limited connection, which both protocol classes share: armed for the
    head ("head") or for the body ("body"), it answers 408 when nothing was answered yet and
    closes the connection when it expires. Each class sets the seconds and the answers."""

    _head_seconds: float
    _body_seconds: float
    _late: _Late
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any  # uvicorn's RequestResponseCycle of the request being read, if any
    _timer: asyncio.TimerHandle | None = None
    _timing: str | None = None  # "head" or "body": what the armed timer waits for

    def _arm(self, timing: str) -> None:
        if self._timing == timing:
            return  # a deadline runs from the start of what it waits for, not the last byte
        self._disarm()
        seconds = self._head_seconds if timing == "head" else self._body_seconds
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
            self.transport.write(self._late.head)
        else:
            cycle = self.cycle
            if cycle is not None and not cycle.response_started:
                # Closing tells the app (uvicorn's connection_lost): it reads a disconnect, and
                # what it sends after it goes nowhere.
                webhook = is_webhook_path(cycle.scope["path"])
                self.transport.write(self._late.webhook_body if webhook else self._late.body)
        self.transport.close()


def limited_h11(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol class with these limits (uvicorn instantiates it per connection)."""
    late = _Late(header_timeout, body_timeout)

    class LimitedH11Protocol(_ReadTimer, H11Protocol):
        parser_name = "h11"
        _head_seconds, _body_seconds, _late = header_timeout, body_timeout, late

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
            body = error_bytes("the request is not valid HTTP/1.1")
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
            elif state is h11.SEND_BODY:
                self._arm("body")  # the headers are in and the body is not: it has a deadline
            else:
                self._disarm()  # the request is in

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

    late = _Late(header_timeout, body_timeout)
    not_http = _raw_response(400, "Bad Request", "the request is not valid HTTP/1.1")

    class LimitedHttpToolsProtocol(_ReadTimer, HttpToolsProtocol):
        parser_name = "httptools"
        _head_seconds, _body_seconds, _late = header_timeout, body_timeout, late
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
            elif not self._message_done and not self.transport.is_closing():
                # The headers are in and the body is not (it did not come with them, or the
                # app answered without reading it): the body has a deadline.
                self._arm("body")
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
            self._disarm()  # the body's deadline, if it needs one, is armed after the read
            before = self.cycle
            super().on_headers_complete()
            if self.cycle is not before:  # not an upgrade: a request cycle was made
                hold_heads(self.transport, self.cycle)

        def on_message_complete(self) -> None:
            # From here the bytes that come are the next request's head.
            self._message_done, self._in_head, self._head_bytes = True, True, 0
            self._begun = False
            if self._timing == "body":
                self._disarm()
            super().on_message_complete()

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
