"""The gates in front of `/v1/`: API keys (401), then — once the body is in — admission
(429 with Retry-After).

Plain ASGI rather than decorator middleware, so a streamed response passes through untouched
(no per-chunk hop through a task group), and so the admission slot is released exactly when
the last byte of the response has been sent, or when the request ends any other way.

The two are separate layers with the body reader between them (see `create_app`): the key is
checked on the headers alone, and a slot is taken only after the whole body has arrived (under
the body timeout), so clients that trickle their bodies in cannot hold the slots that requests
ready to run need.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkswitch.server.admission import Admission, ApiKeys
from thinkswitch.server.errors import Refusal


def _guarded(scope: Scope) -> bool:
    return scope["type"] == "http" and str(scope["path"]).startswith("/v1/")


class KeyGate:
    """401 unless the request under `/v1/` presents one of the keys; names its caller."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, refuse: Refusal) -> None:
        self.app = app
        self.keys = keys
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _guarded(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        presented = headers.get("x-api-key") or bearer(headers.get("authorization", ""))
        identity = self.keys.identify(presented)
        if identity is None:
            refusal = self.refuse(scope["path"], 401, "missing or invalid API key",
                                  "authentication_error", {})
            await refusal(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["caller"], state["caller_aliases"] = identity
        await self.app(scope, receive, send)


class AdmissionGate:
    """At most `admission.capacity` POSTs under `/v1/` inside at once; beyond, 429."""

    def __init__(self, app: ASGIApp, admission: Admission, refuse: Refusal) -> None:
        self.app = app
        self.admission = admission
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _guarded(scope) or scope["method"] != "POST":
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


def caller_aliases(request: Request) -> tuple[str, ...]:
    """Earlier ids of the same key (records written before caller ids were keyed)."""
    return tuple(getattr(request.state, "caller_aliases", ()))


def bearer(authorization: str) -> str:
    """The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive)."""
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
