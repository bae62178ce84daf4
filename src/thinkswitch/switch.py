"""The switch: one call that turns a request into a `Result`.

`Switch.stream` decides (off, on under a budget, or auto through a triage policy), runs the
engine with the dialect's thinking control, and yields the `Decision`, then thinking and answer
deltas as they come, then the finished `Result`. `Switch.run` is the same without the deltas.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from thinkswitch.deadline import DecodeSpeed, degrade
from thinkswitch.engines.base import Engine
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import (
    BudgetError,
    EngineUnavailableError,
    ThinkswitchError,
    UnsupportedParameterError,
    UsageError,
)
from thinkswitch.kernel.events import (
    AnswerDelta,
    EngineEvent,
    Finish,
    SwitchEvent,
    ThinkingDelta,
    ToolCallDelta,
    UsageReport,
)
from thinkswitch.kernel.messages import last_user_text
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import FinishReason, Result, Timings, Usage
from thinkswitch.settings import Settings
from thinkswitch.thinking.dialects import Dialect
from thinkswitch.tool_calls import merge_tool_calls
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.cascade import CascadePolicy


class Switch:
    """Ties an engine, its dialect and a triage policy together under one settings object."""

    def __init__(
        self,
        engine: Engine,
        dialect: Dialect,
        policy: TriagePolicy,
        settings: Settings,
        recorder: Recorder | None = None,
    ) -> None:
        if not engine.supports(dialect):
            raise UsageError(f"engine {engine.name!r} cannot drive dialect {dialect.name!r}")
        self.engine = engine
        self.dialect = dialect
        self.policy = policy
        self.settings = settings
        self.recorder = recorder
        self.speed = DecodeSpeed()  # the engine's decode speed, for deadlines

    def decide(self, request: Request) -> Decision:
        """The decision for `request`, with thinking off when it would miss the deadline."""
        return degrade(self._decide(request), request.deadline_s, self.speed)

    def budget_for(self, request: Request) -> int:
        """The thinking cap of `request` (the caller's, else the default); an empty question
        is refused here, before any policy or engine sees it."""
        if not last_user_text(request.messages).strip():
            raise UsageError("the question is empty")
        return request.budget or self.settings.default_budget

    def _decide(self, request: Request) -> Decision:
        budget = self.budget_for(request)
        if request.think == "on" and request.min_thinking > budget:
            raise BudgetError(
                f"min_thinking {request.min_thinking} is larger than the budget {budget}"
            )
        if request.think == "off":
            return Decision(requested="off", mode="off", budget=None, policy="user",
                            reason="thinking switched off by the caller")
        if request.think == "on":
            return Decision(requested="on", mode="on", budget=budget, policy="user",
                            reason=f"thinking switched on by the caller, budget {budget}")
        return self.policy.decide(request.messages, budget)

    def stream(self, request: Request, caller: str = "") -> Iterator[SwitchEvent]:
        """Decision, deltas, then the `Result`, which is recorded before it is yielded.

        An engine failure after the decision is recorded with its error, then raised; a
        stream closed before its `Result` is recorded as stopped by the caller."""
        decision: Decision | None = None
        answered = False
        try:
            for event in self._stream(request):
                if isinstance(event, Decision):
                    decision = event
                elif isinstance(event, Result):
                    answered = True
                    if self.recorder is not None:
                        record = self.recorder.result(request.messages, event, caller)
                        event = event.model_copy(update={"trace_id": record.id})
                yield event
        except ThinkswitchError as error:
            self._record_failure(request, decision, str(error), caller)
            raise
        except Exception as error:  # a bug: still leave a trace of the request
            self._record_failure(request, decision,
                                 f"internal error: {type(error).__name__}: {error}", caller)
            raise
        except GeneratorExit:
            # The consumer stopped early (a client's Stop, a dropped connection): an audit
            # trail must show the request was made and not finished.
            if not answered:
                self._record_failure(request, decision, "stopped by the caller before the end",
                                     caller)
            raise

    def _record_failure(self, request: Request, decision: Decision | None, error: str,
                        caller: str) -> None:
        if self.recorder is not None and decision is not None:
            self.recorder.failure(request.messages, decision, self.engine.name,
                                  self.engine.model, error, caller)

    def _stream(self, request: Request) -> Iterator[SwitchEvent]:
        started = time.perf_counter()
        if request.think == "auto" and isinstance(self.policy, CascadePolicy):
            from thinkswitch.cascade import run_cascade

            yield from run_cascade(self, self.policy, request, started)
            return
        decision = self.decide(request)
        generation = self.generation(request, decision)
        self.check(request, generation)
        yield decision
        yield from self.answer(self.engine.execute(generation, self.dialect), decision, started)

    def check(self, request: Request, generation: GenerationRequest) -> None:
        """Refuse, before any output, what the engine cannot serve."""
        if "tools" not in self.engine.passthrough and any(
                message.is_tool_turn for message in request.messages):
            raise UsageError(f"messages with tool calls or tool results need an engine that "
                             f"takes tools; engine {self.engine.name!r} does not")
        refused = [name for name in request.options if name not in self.engine.passthrough]
        if refused:
            raise UnsupportedParameterError(refused[0], self.engine.name)
        self.engine.validate(generation, self.dialect)

    def answer(
        self,
        events: Iterator[EngineEvent],
        decision: Decision,
        started: float,
        spent: Usage | None = None,
        observe: bool = True,
    ) -> Iterator[SwitchEvent]:
        """Stream an engine's events to the caller and finish with the `Result`.

        `spent` is what earlier engine calls of the same request cost (the cascade's fast
        attempts); it is added to the usage. `observe=False` keeps events that were buffered
        and are only replayed now out of the decode-speed estimate."""
        thinking: list[str] = []
        answer: list[str] = []
        tool_calls: list[dict[str, Any]] = []
        ttft: float | None = None
        first_answer: float | None = None
        usage = Usage()
        finish: FinishReason | None = None
        try:
            for event in events:
                now = time.perf_counter() - started
                if isinstance(event, ThinkingDelta | AnswerDelta):
                    ttft = now if ttft is None else ttft
                    if isinstance(event, ThinkingDelta):
                        thinking.append(event.text)
                    else:
                        answer.append(event.text)
                        if first_answer is None and event.text.strip():
                            first_answer = now
                    yield event
                elif isinstance(event, ToolCallDelta):
                    ttft = now if ttft is None else ttft
                    merge_tool_calls(tool_calls, event.calls)
                    yield event
                elif isinstance(event, UsageReport):
                    usage = Usage(
                        prompt_tokens=event.prompt_tokens,
                        thinking_tokens=event.thinking_tokens,
                        answer_tokens=event.answer_tokens,
                    )
                elif isinstance(event, Finish):
                    finish = event.reason
        finally:
            # A consumer that stops early must not leave the engine's generator (and lock) open.
            close = getattr(events, "close", None)
            if callable(close):
                close()
        if finish is None:
            raise EngineUnavailableError(f"engine {self.engine.name!r} ended without finishing")
        total = time.perf_counter() - started
        if observe and ttft is not None:
            # Only this call's tokens over the time since its first token: a cascade's fast
            # attempts ran before `started + ttft` and are not in `usage` yet.
            self.speed.observe(usage.thinking_tokens + usage.answer_tokens - 1, total - ttft)
        if spent is not None:
            usage = usage.plus(spent)
        yield Result(
            answer="".join(answer).strip(),
            thinking="".join(thinking).strip(),
            decision=decision,
            usage=usage,
            timings=Timings(ttft_s=ttft, first_answer_s=first_answer, total_s=total),
            engine=self.engine.name,
            model=self.engine.model,
            finish_reason=finish,
            tool_calls=tool_calls,
        )

    def generation(self, request: Request, decision: Decision) -> GenerationRequest:
        plan = ThinkingPlan(
            mode=decision.mode,
            budget=decision.budget,
            min_thinking=(
                min(request.min_thinking, decision.budget or 0) if decision.mode == "on" else 0
            ),
            answer_max_tokens=request.answer_max_tokens or self.settings.answer_max_tokens,
        )
        return GenerationRequest(
            messages=request.messages,
            plan=plan,
            temperature=(
                self.settings.temperature if request.temperature is None else request.temperature
            ),
            seed=self.settings.seed if request.seed is None else request.seed,
            options=request.options,
        )

    def run(self, request: Request, caller: str = "") -> Result:
        for event in self.stream(request, caller):
            if isinstance(event, Result):
                return event
        raise EngineUnavailableError("the switch produced no result")  # pragma: no cover
