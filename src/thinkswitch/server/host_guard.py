"""Refuse requests whose `Host` names another site, when the server listens on loopback only.

DNS rebinding: a web page at `http://evil.example:8000/` has its name re-resolved to
127.0.0.1, and the browser then lets that page read the answers of the user's own local server
as same-origin (no CORS applies), `Host: evil.example:8000` and all. Without API keys that is
the whole history at `/v1/traces` and a model to run. A server bound to a loopback address is
only ever reached under a loopback name, so there every other `Host` is refused; the list can
be widened (`allowed_hosts`, e.g. for a reverse proxy that passes its own `Host` on) or the
check turned off (`*`). A server listening beyond loopback is reached under names it cannot
know, and checks only when `allowed_hosts` is given (use API keys there); it then takes the
loopback names too, which no rebinding page can send (its `Host` is its own name), so a
container's health check on `127.0.0.1` keeps working.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from thinkswitch.server.errors import Refusal

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ANY_HOST = "*"


def _is_loopback(name: str) -> bool:
    if name.lower().rstrip(".") in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def host_allowlist(bind_host: str, allowed: Sequence[str] = ()) -> tuple[str, ...]:
    """The `Host` names a server bound to `bind_host` accepts: () for any. Loopback binds get
    the loopback names plus `allowed`; others, with `allowed` given, the same, and without it
    any; `*` anywhere: any."""
    if ANY_HOST in allowed or not (allowed or _is_loopback(bind_host)):
        return ()
    return tuple(dict.fromkeys([*LOOPBACK_NAMES, *allowed]))


def host_name(header: str) -> str | None:
    """The name in a `Host` header, lower-case, without port or IPv6 brackets (None: not a
    host)."""
    if any(mark in header for mark in "@/?#\\") or not header.isprintable() or " " in header:
        return None  # a Host is `name[:port]`: no user part, path or blanks
    try:
        parts = urlsplit("//" + header)
        parts.port  # noqa: B018  raises ValueError for a port that is not one
    except ValueError:
        return None
    return parts.hostname.rstrip(".") if parts.hostname else None


class HostGuard:
    """ASGI middleware: a request whose `Host` is not in `allowed` (nor a loopback address
    when loopback names are allowed) is a 400 in the face's error format."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str], refuse: Refusal) -> None:
        self.app = app
        self.allowed = frozenset(name.lower().rstrip(".").strip("[]") for name in allowed)
        self.loopback = bool(self.allowed & set(LOOPBACK_NAMES))
        self.refuse = refuse

    def _accepts(self, header: str) -> bool:
        if not header:  # HTTP/1.0 without one: no browser sends that
            return True
        name = host_name(header)
        if name is None:
            return False
        return name in self.allowed or (self.loopback and _is_loopback(name))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((value.decode("latin-1") for key, value in scope["headers"]
                       if key == b"host"), "")
        if not self._accepts(header):
            refusal = self.refuse(scope["path"], 400, "this server is not served under the "
                                  "name in the Host header (see server.allowed_hosts)",
                                  "invalid_request_error")
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)
