"""A cap on request body size and on the time the body may take, enforced before any route
reads the body (and before admission: see `gate`).

The body is read in full (up to the cap) and then handed to the app, so a body that goes over
the cap is refused with 413 whether or not it declared its length. Request bodies here are
small JSON documents, so buffering them costs nothing worth streaming for. A body that has not
arrived in full within `timeout_s` gets 408: a client trickling a byte every few seconds holds
a connection, never a slot.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkswitch.server.errors import Refusal


class BodyLimit:
    """ASGI middleware: bodies over `max_bytes` get 413 in the dialect's error format."""

    def __init__(self, app: ASGIApp, max_bytes: int, refuse: Refusal,
                 timeout_s: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refuse = refuse
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        message = f"request body is larger than the server's limit of {self.max_bytes} bytes"
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self.refuse(scope["path"], 413, message)(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            async with asyncio.timeout(self.timeout_s):
                read = await self._read(receive, chunks)
        except TimeoutError:
            late = (f"the request body did not arrive within {self.timeout_s:g} s; "
                    "send it at once")
            refusal = self.refuse(scope["path"], 408, late, None, {"Connection": "close"})
            await refusal(scope, receive, send)
            return
        if read is None:  # the client left
            return
        if not read:
            await self.refuse(scope["path"], 413, message)(scope, receive, send)
            return
        body = b"".join(chunks)
        await self.app(scope, replaying(body, receive), send)

    async def _read(self, receive: Receive, chunks: list[bytes]) -> bool | None:
        """Collect the body into `chunks`: True when whole, False when over the cap, None when
        the client disconnected."""
        size = 0
        while True:
            incoming = await receive()
            if incoming["type"] == "http.disconnect":
                return None
            chunk = incoming.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return False
            chunks.append(chunk)
            if not incoming.get("more_body", False):
                return True


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app `body`, already read whole, then the connection's own
    messages (a disconnect), so a middleware can read a body before the route does."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
