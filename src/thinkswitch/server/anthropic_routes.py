"""The Anthropic routes: `POST /v1/messages` and `POST /v1/messages/count_tokens`.

The translation lives in `anthropic_api` (messages, blocks, events), `anthropic_tools` and
`anthropic_thinking`; here the request becomes a switch request. `max_tokens` bounds thinking
and text together (`thinkswitch.output_cap`). Any other path under `/v1/messages` is answered
in Anthropic's error shape (`server/errors.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from thinkswitch.kernel.decision import Decision, RequestedMode
from thinkswitch.kernel.errors import UnsupportedParameterError
from thinkswitch.kernel.request import Request as SwitchRequest
from thinkswitch.server import anthropic_api
from thinkswitch.server.anthropic_thinking import control
from thinkswitch.server.switch_calls import CLIENT_GONE, Started, Whole
from thinkswitch.server.token_count import prompt_token_count
from thinkswitch.switch.degrade import HEADER as DEADLINE_HEADER
from thinkswitch.switch.degrade import parse_deadline
from thinkswitch.switch.pipeline import Switch

#: Fields of a Messages request that change nothing thinkswitch produces.
HARMLESS = frozenset({"metadata"})



class CountTokensRequest(anthropic_api.MessagesRequest):
    """A Messages request without the need for `max_tokens`."""

    max_tokens: int = Field(1 << 30, ge=1, description="not needed to count")


def switch_request(body: anthropic_api.MessagesRequest, switch: Switch, key: bytes,
                   default_mode: RequestedMode, effort_budgets: Mapping[str, int],
                   deadline_s: float | None = None) -> SwitchRequest:
    extra = sorted(k for k, v in (body.model_extra or {}).items()
                   if v is not None and k not in HARMLESS)
    if extra:  # top_k and the like have no OpenAI name to translate to
        raise UnsupportedParameterError(extra[0], switch.engine.name)
    mode, budget = control(body.thinking, body.output_config, body.max_tokens, default_mode,
                           effort_budgets)
    return SwitchRequest(messages=anthropic_api.chat_messages(body, key), think=mode,
                         budget=budget, output_cap=body.max_tokens,
                         temperature=body.temperature,
                         options=anthropic_api.engine_options(body, switch.engine),
                         deadline_s=deadline_s)


def add_messages(app: FastAPI, switch: Switch, whole: Whole, started: Started,
                 default_mode: RequestedMode, key: bytes,
                 budgets_for: Callable[[str], Mapping[str, int]]) -> None:
    """Register the Messages routes; `whole` and `started` run the switch as the app does."""

    @app.post("/v1/messages", response_model=None)
    async def messages(http: Request, body: anthropic_api.MessagesRequest) -> Response:
        request = switch_request(body, switch, key, default_mode, budgets_for(body.model),
                                 parse_deadline(http.headers.get(DEADLINE_HEADER)))
        display = body.thinking.display if body.thinking else None
        if not body.stream:
            result = await whole(request, http)
            if result is None:
                return Response(status_code=CLIENT_GONE)
            return JSONResponse(anthropic_api.message(result, body.model, key, display))

        def input_tokens(decision: Decision) -> int:
            return prompt_token_count(switch, request, decision)

        pairs = anthropic_api.events(await started(request, http),
                                     body.model or switch.engine.model, key, input_tokens,
                                     display)
        return StreamingResponse(anthropic_api.sse(pairs), media_type="text/event-stream")

    @app.post("/v1/messages/count_tokens")
    async def count_tokens(body: CountTokensRequest) -> JSONResponse:
        request = switch_request(body, switch, key, default_mode, budgets_for(body.model))

        def count() -> int:
            return prompt_token_count(switch, request, switch.decide(request))

        return JSONResponse({"input_tokens": await run_in_threadpool(count)})
