"""The HTTP connection layer under the app: a header timeout and a header size cap, and the
writes of each event-loop turn joined into one (`corked`: a JSON answer's headers and body go
out in one write).

uvicorn's httptools protocol waits for headers as long as a client likes (its keep-alive timer
runs only between requests) and buffers headers of any size (a 32 MB header was read whole).
This subclass closes a connection whose request headers are not complete `header_timeout_s`
after it opened, or after the request's first byte (408), and refuses headers beyond
`max_header_bytes` (431) — both before the app sees anything. The body has its own timeout in
the app (`BodyLimit`), which is where admission waits for it.

The other direction: a client that stops reading a response fills its socket buffer, the
transport pauses writing, and the app's next `send` waits for room — for ever, holding its
admission slot (two such streams took a server of capacity 2 off the air for good; the
streaming layer's stall timer frees the engine, not the response). A connection whose writes
stay paused `write_timeout_s` is aborted, which ends the response and frees its slot.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from thinkswitch.server.corked import CorkedTransport

HEADER_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 64 * 1024
WRITE_TIMEOUT_S = 60.0
#: How long an idle kept-alive connection stays open. uvicorn's default (5 s) equals httpx's
#: keep-alive expiry (the openai and anthropic SDKs, the benches' load), and the server's
#: clock starts first (when it has written the response, the client's when it has read it),
#: so such a client could send its next request on a connection that was closing: a reset
#: (httpx ReadError) instead of an answer. Longer than the clients' expiry, the client is
#: always the one that closes an idle connection.
KEEP_ALIVE_S = 20.0


def _response(status: bytes, text: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n"
            + text)


_TIMEOUT = _response(b"408 Request Timeout", b"the request headers did not arrive in time")
_TOO_LARGE = _response(b"431 Request Header Fields Too Large",
                       b"the request headers are too large")


def guarded_protocol(header_timeout_s: float = HEADER_TIMEOUT_S,
                     max_header_bytes: int = MAX_HEADER_BYTES,
                     write_timeout_s: float = WRITE_TIMEOUT_S) -> type[asyncio.Protocol]:
    """The protocol class for `uvicorn.Config(http=...)` with these limits."""

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_headers = True
            self._header_bytes = 0
            self._header_timer: asyncio.TimerHandle | None = None
            self._write_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(CorkedTransport(transport, self.loop))
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            self._resumed()
            super().connection_lost(exc)

        def pause_writing(self) -> None:
            super().pause_writing()
            if self._write_timer is None:
                self._write_timer = self.loop.call_later(write_timeout_s, self._stalled)

        def resume_writing(self) -> None:
            self._resumed()
            super().resume_writing()

        def _resumed(self) -> None:
            if self._write_timer is not None:
                self._write_timer.cancel()
                self._write_timer = None

        def _stalled(self) -> None:
            self._write_timer = None
            self.transport.abort()  # close() would wait to flush what the client never reads

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                return
            if self._in_headers:  # still incomplete after this chunk
                self._header_bytes += len(data)
                if self._header_bytes > max_header_bytes:
                    self._refuse(_TOO_LARGE)
                    return
                self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_headers = True

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._header_bytes = 0
            self._disarm()
            super().on_headers_complete()

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout_s, self._late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _late(self) -> None:
            self._header_timer = None
            if self._in_headers and not self.transport.is_closing():
                self._refuse(_TIMEOUT)

        def _refuse(self, response: bytes) -> None:
            self._disarm()
            self.transport.write(response)
            self.transport.close()

    return GuardedHttpToolsProtocol


def server_config(app: Any, host: str, port: int, header_timeout_s: float = HEADER_TIMEOUT_S,
                  max_header_bytes: int = MAX_HEADER_BYTES,
                  write_timeout_s: float = WRITE_TIMEOUT_S, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration with the guarded protocol (what `thinkswitch serve` runs)."""
    return uvicorn.Config(app, host=host, port=port, http=guarded_protocol(
        header_timeout_s, max_header_bytes, write_timeout_s),
        **{"timeout_keep_alive": KEEP_ALIVE_S, **options})
