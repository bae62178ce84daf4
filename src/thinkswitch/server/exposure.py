"""Who may read the server's own description: `/metrics` and `/openapi.json`.

Both tell an outsider what runs here (routes, engines, traffic). With API keys configured they
are closed by default (404, as if absent); `key` serves them to callers with a key, `open` to
anyone. Without keys the whole server is open anyway, so they default to `open`. There is no
docs UI (`/docs`, `/redoc`): FastAPI's loads Swagger UI and ReDoc from a CDN, which would run
third-party script on this origin; the schema itself is enough for any viewer.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from thinkswitch.server.admission import ApiKeys
from thinkswitch.server.errors import Refusal
from thinkswitch.server.gate import bearer
from thinkswitch.settings import Exposure

EXPOSURES: tuple[Exposure, ...] = ("open", "key", "closed")
META_PATHS = frozenset({"/metrics", "/openapi.json"})


def default_exposure(keys: ApiKeys) -> Exposure:
    return "closed" if keys.required else "open"


class MetaGate:
    """ASGI middleware applying the exposure to the meta paths; other paths pass."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, exposure: Exposure,
                 refuse: Refusal) -> None:
        self.app = app
        self.keys = keys
        self.exposure = exposure
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] not in META_PATHS
                or self.exposure == "open"):
            await self.app(scope, receive, send)
            return
        if self.exposure == "closed":
            refusal = self.refuse(scope["path"], 404, "Not Found", "not_found_error", {})
        else:
            headers = Headers(scope=scope)
            presented = headers.get("x-api-key") or bearer(headers.get("authorization", ""))
            if self.keys.identify(presented) is not None:
                await self.app(scope, receive, send)
                return
            refusal = self.refuse(scope["path"], 401, "missing or invalid API key",
                                  "authentication_error", {})
        await refusal(scope, receive, send)
