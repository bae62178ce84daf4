"""A cap on request body size, enforced before any route reads the body.

The body is read in full (up to the cap) and then handed to the app, so a body that goes over
the cap is refused with 413 whether or not it declared its length. Request bodies here are
small JSON documents, so buffering them costs nothing worth streaming for.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkswitch.server.errors import Refusal


class BodyLimit:
    """ASGI middleware: bodies over `max_bytes` get 413 in the dialect's error format."""

    def __init__(self, app: ASGIApp, max_bytes: int, refuse: Refusal) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refuse = refuse

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
        size = 0
        while True:
            incoming = await receive()
            if incoming["type"] == "http.disconnect":
                return
            chunk = incoming.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self.refuse(scope["path"], 413, message)(scope, receive, send)
                return
            chunks.append(chunk)
            if not incoming.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
