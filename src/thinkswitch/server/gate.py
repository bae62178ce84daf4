"""The gate in front of `/v1/`: API keys (401) and admission (429 with Retry-After).

Plain ASGI rather than a decorator middleware, so a streamed response passes through untouched
(no per-chunk hop through a task group), and so the admission slot is released exactly when
the last byte of the response has been sent, or when the request ends any other way.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkswitch.server.admission import Admission, ApiKeys
from thinkswitch.server.errors import Refusal


class Gate:
    def __init__(self, app: ASGIApp, keys: ApiKeys, admission: Admission,
                 refuse: Refusal) -> None:
        self.app = app
        self.keys = keys
        self.admission = admission
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        presented = headers.get("x-api-key") or _bearer(headers.get("authorization", ""))
        caller = self.keys.caller(presented)
        if caller is None:
            refusal = self.refuse(scope["path"], 401, "missing or invalid API key",
                                  "authentication_error", {})
            await refusal(scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not self.admission.try_enter():
            refusal = self.refuse(
                scope["path"], 429, f"server busy: {self.admission.capacity} requests already "
                "inside; retry shortly", "rate_limit_error", {"Retry-After": "1"})
            await refusal(scope, receive, send)
            return
        inside = True

        def leave() -> None:
            nonlocal inside
            if inside:
                inside = False
                self.admission.leave()

        async def send_then_release(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                leave()

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            leave()


def caller_of(request: Request) -> str:
    """The key id the gate admitted `request` under ('' when the server needs no key)."""
    return str(getattr(request.state, "caller", ""))


def _bearer(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive)."""
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
