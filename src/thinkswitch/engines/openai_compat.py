"""`openai`: any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp server, Ollama, OpenAI).

One request is one or more streamed `POST {base_url}/chat/completions` calls. The parts:
`openai_transport` (replicas, deadlines, errors, the one retry), `openai_body` (request bodies),
`openai_pass` (one call: thinking apart from the answer, counting, stopping), and budget forcing
from `thinking.forcing`, which this module plugs into with `UpstreamRun`:

- Budgets. `budget_style` (see `budget_styles`) sends vLLM's or llama.cpp server's
  server-side cap, or Ollama's `think` switch. The default,
  `"cut"`, works on every server: thinking deltas are counted here, and when they reach the
  budget while the model is still thinking the stream is closed (so the server stops), and a
  second call with thinking off asks for the answer, given the trace so far (`CUT_PROMPT`).
  The finish reason is then `"budget"`.
- A model that finishes with thinking and no answer (it ended inside its thinking, or the
  server put everything in `reasoning_content`) is asked for the answer the same way, with
  `ENDED_PROMPT`; the finish reason is then `"thinking_ended"`.
- `min_thinking` needs the server to continue an assistant prefill (`send_prefill`, vLLM and
  SGLang `continue_final_message`): when thinking ends early, the answer is dropped and a
  new call continues from start marker + trace + `wait_text`. Without prefill support the
  model cannot be pushed back into thinking, so `min_thinking` is ignored.
- Replicas. `base_url` may list several servers of one model; a request that failed through
  its replica's fault before anything was yielded is retried once on another replica.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import httpx

from thinkswitch.engines.base import Engine
from thinkswitch.engines.budget_styles import native_budget
from thinkswitch.engines.openai_body import chat_body, parse_start
from thinkswitch.engines.openai_pass import PassResult, Totals, stream_pass
from thinkswitch.engines.openai_transport import ChatTransport, retried_once
from thinkswitch.engines.pool import Route
from thinkswitch.kernel.events import EngineEvent, Finish, ThinkingDelta, UsageReport
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan
from thinkswitch.kernel.result import FinishReason
from thinkswitch.settings import BudgetStyle, Settings
from thinkswitch.thinking.dialects import Dialect, guess_dialect
from thinkswitch.thinking.forcing import BudgetForcing, ForcedReason, PassEnd, run_forced

CUT_PROMPT = (
    "Your reasoning so far, cut at the thinking budget:\n{trace}\n\nNow give the final answer only."
)
ENDED_PROMPT = (
    "Your reasoning so far (it ended before an answer):\n{trace}\n\n"
    "Now give the final answer only."
)
ANSWER_PROMPTS: dict[ForcedReason, str] = {"budget": CUT_PROMPT, "thinking_ended": ENDED_PROMPT}
#: How many times an early end of thinking is replaced by `wait_text` (guards against loops).
MAX_WAITS = 4
#: The upstream finish reasons a request reports as they are; any other is "stop".
UPSTREAM_FINISHES: dict[str, FinishReason] = {"length": "length", "tool_calls": "tool_calls"}


class OpenAICompatEngine(Engine):
    """A model behind an OpenAI-compatible HTTP server; see the module docstring."""

    name = "openai"
    passthrough = frozenset({
        "tools", "tool_choice", "parallel_tool_calls", "response_format", "top_p", "stop",
        "presence_penalty", "frequency_penalty", "logit_bias", "user", "metadata",
        "service_tier", "store",
    })

    def __init__(
        self,
        *,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
        first_token_timeout_s: float = 60.0,
        total_timeout_s: float = 600.0,
        breaker_failures: int = 3,
        breaker_cooldown_s: float = 10.0,
        health_interval_s: float = 5.0,
        budget_style: BudgetStyle = "cut",
        send_prefill: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.transport = ChatTransport(
            base_url,
            api_key=api_key,
            connect_timeout_s=connect_timeout_s,
            read_timeout_s=read_timeout_s,
            first_token_timeout_s=first_token_timeout_s,
            total_timeout_s=total_timeout_s,
            breaker_failures=breaker_failures,
            breaker_cooldown_s=breaker_cooldown_s,
            health_interval_s=health_interval_s,
            transport=transport,
        )
        self.pool = self.transport.pool
        self.budget_style = budget_style
        self.send_prefill = send_prefill
        self._model = model

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> OpenAICompatEngine:
        return cls(
            base_url=settings.base_url,
            model=settings.model,
            api_key=settings.api_key,
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            first_token_timeout_s=settings.first_token_timeout_s,
            total_timeout_s=settings.total_timeout_s,
            breaker_failures=settings.breaker_failures,
            breaker_cooldown_s=settings.breaker_cooldown_s,
            health_interval_s=settings.health_interval_s,
            budget_style=settings.budget_style,
            send_prefill=settings.send_prefill,
            transport=transport,
        )

    @property
    def model(self) -> str:
        """The configured model, else the first one the server lists (asked once)."""
        if self._model is None:
            self._model = self.transport.first_model()
        return self._model

    def suggested_dialect(self) -> str:
        """The dialect the model name suggests (`settings.dialect` overrides it)."""
        return guess_dialect(self.model)

    def close(self) -> None:
        self.transport.close()

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        """One request through budget forcing, retried once on another replica when the
        upstream failed through its replica's fault before anything was yielded."""
        return retried_once(self.pool, lambda route: self._execute(request, dialect, route))

    def _execute(
        self, request: GenerationRequest, dialect: Dialect, route: Route
    ) -> Generator[EngineEvent, None, None]:
        run = UpstreamRun(self, request, dialect, route)
        yield from run_forced(run, run.forcing, dialect.wait_text)
        yield UsageReport(run.totals.prompt, run.totals.thinking, run.totals.answer)
        yield Finish(run.forcing.finish(UPSTREAM_FINISHES.get(run.last.finish or "", "stop")))


class UpstreamRun:
    """The `ForcingHost` of the `openai` engine: every pass is a new streamed call; going on
    after a wait continues an assistant prefill, and a forced answer is a second call, thinking
    off, that carries the trace so far."""

    def __init__(
        self, engine: OpenAICompatEngine, request: GenerationRequest, dialect: Dialect,
        route: Route,
    ) -> None:
        plan = request.plan
        self._engine = engine
        self._request = request
        self._dialect = dialect
        self._route = route
        self._prompt = dialect.prepare(request.messages, plan)
        native = native_budget(engine.budget_style, plan, self._prompt.request_extras)
        self.forcing = BudgetForcing.for_plan(
            plan.mode, plan.budget if native.cut else None, plan.min_thinking,
            waits=MAX_WAITS if engine.send_prefill else 0,
        )
        self._extras: dict[str, object] = dict(native.fields)
        self._prefill = self._prompt.prefill if engine.send_prefill else ""
        start = dialect.parser.start
        # after a wait the prefill is the opening (the prefilled start marker) + the trace
        self._opening = self._prefill if self._prefill.lstrip().startswith(start) else start
        self._parser = dialect.parser(
            parse_start(self._prompt, dialect, engine.send_prefill), scrub=True)
        self.totals = Totals()
        self.trace: list[str] = []
        self.last = PassResult()

    @property
    def thinking_tokens(self) -> int:
        return self.totals.thinking

    def extend(self, text: str) -> EngineEvent:
        """The next call continues an assistant prefill: the opening, the trace and `text`."""
        self.trace.append(text)
        self._prefill = self._opening + "".join(self.trace)
        self._parser = self._dialect.parser("inside", scrub=True)
        return ThinkingDelta(text)

    def think(self) -> Generator[EngineEvent, None, PassEnd]:
        plan = self._request.plan
        dialect = self._dialect
        spent = self.totals.thinking
        max_tokens: int | None = plan.answer_max_tokens
        if plan.mode == "on":
            max_tokens = None if plan.budget is None else (
                plan.budget - spent + plan.answer_max_tokens)
        body = chat_body(self._engine.model, self._request, dialect, self._prompt,
                         max_tokens=max_tokens, prefill=self._prefill, extras=self._extras)
        chunks = self._engine.transport.stream(body, self._route)
        result = yield from stream_pass(chunks, self._parser, self.forcing, spent=spent)
        self.totals.add(result)
        self.trace.extend(result.trace)
        self.last = result
        return result.end

    def answer(self, reason: ForcedReason) -> Generator[EngineEvent, None, PassEnd]:
        request = self._request
        trace = "".join(self.trace).strip()
        note = ChatMessage(role="user", content=ANSWER_PROMPTS[reason].format(trace=trace))
        off = ThinkingPlan(mode="off", answer_max_tokens=request.plan.answer_max_tokens)
        prompt = self._dialect.prepare((*request.messages, note), off)
        send_prefill = self._engine.send_prefill
        extras = native_budget(self._engine.budget_style, off, prompt.request_extras).fields
        body = chat_body(self._engine.model, request, self._dialect, prompt,
                         max_tokens=off.answer_max_tokens,
                         prefill=prompt.prefill if send_prefill else "", extras=extras)
        parser = self._dialect.parser(parse_start(prompt, self._dialect, send_prefill),
                                      scrub=True)
        chunks = self._engine.transport.stream(body, self._route)
        result: PassResult = yield from stream_pass(chunks, parser, self.forcing, answer_only=True)
        self.totals.add(result, all_answer=True)
        self.last = result
        return result.end
