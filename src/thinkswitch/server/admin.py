"""`POST /admin/policy/reload`: take the trace store's latest promoted policy, no restart.

Admin calls need an API key: a server without keys refuses them (403), since anyone could
otherwise swap its policy. The reload itself is atomic (see triage.promotion.LivePolicy), and
runs in a worker thread (it reads a file and the store). In a server of several worker
processes, the worker that answers reloads before it answers and asks the supervisor to SIGHUP
every worker, which follow within milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from thinkswitch.kernel.errors import ThinkswitchError
from thinkswitch.server.admission import ApiKeys
from thinkswitch.server.errors import openai_error
from thinkswitch.server.gate import bearer
from thinkswitch.switch.pipeline import Switch


def reload_switch_policy(switch: Switch) -> str:
    """Reload `switch`'s live policy from its trace store; one line on what it serves now."""
    from thinkswitch.shadow.promotion import reload_live

    return reload_live(switch.policy, switch.trace_store, switch.settings.triage_model,
                       switch.settings.knob)


def add_admin(app: FastAPI, switch: Switch, keys: ApiKeys,
              reloaded: Callable[[], None] | None = None) -> None:
    """`reloaded` (a worker of several) tells the other workers to reload too."""

    @app.post("/admin/policy/reload", response_model=None)
    async def reload_policy(request: Request) -> JSONResponse:
        if not keys.required:
            return openai_error(403, "admin endpoints need the server to run with API keys",
                                "permission_error", None)
        presented = request.headers.get("x-api-key") or bearer(
            request.headers.get("authorization", ""))
        if keys.identify(presented) is None:
            return openai_error(401, "missing or invalid API key", "authentication_error", None)
        try:
            message = await run_in_threadpool(reload_switch_policy, switch)
        except ThinkswitchError as error:
            return openai_error(409, str(error), "invalid_request_error", None)
        if reloaded is not None:
            reloaded()
        return JSONResponse({"reloaded": True, "policy": message})
