"""What the steps of a request work with: the engine, its dialect, the triage policy, the
settings, the trace recorder and the engine's measured decode speed.

`Switch` is these parts plus the pipeline that runs over them; the steps take the parts, not
the switch, so that no step imports the pipeline that lists it.
"""

from __future__ import annotations

from collections.abc import Callable

from thinkswitch.engines.base import Engine
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import UnsupportedParameterError, UsageError
from thinkswitch.kernel.messages import last_user_text
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan
from thinkswitch.kernel.request import Request
from thinkswitch.settings import Settings
from thinkswitch.switch.output_cap import answer_share, thinking_share
from thinkswitch.switch.speed import DecodeSpeed
from thinkswitch.thinking.dialects import Dialect
from thinkswitch.trace.prices import PriceTable
from thinkswitch.trace.recorder import Recorder
from thinkswitch.trace.store import TraceStore
from thinkswitch.triage.base import TriagePolicy


class SwitchParts:
    """An engine, its dialect and a triage policy under one settings object (and a recorder)."""

    def __init__(
        self,
        engine: Engine,
        dialect: Dialect,
        policy: TriagePolicy | Callable[[], TriagePolicy],
        settings: Settings,
        recorder: Recorder | None = None,
    ) -> None:
        if not engine.supports(dialect):
            raise UsageError(f"engine {engine.name!r} cannot drive dialect {dialect.name!r}")
        self.engine = engine
        self.dialect = dialect
        self._policy = policy if isinstance(policy, TriagePolicy) else None
        self._make_policy = policy
        self.settings = settings
        self.recorder = recorder
        self.speed = DecodeSpeed()  # the engine's decode speed, for deadlines

    @property
    def policy(self) -> TriagePolicy:
        """The triage policy, built on first use when given as a factory: a request with
        thinking off or on never loads it (a learned model costs a numpy import and a file)."""
        if self._policy is None:
            make = self._make_policy
            self._policy = make() if not isinstance(make, TriagePolicy) else make
        return self._policy

    @policy.setter
    def policy(self, policy: TriagePolicy) -> None:
        """Swap the policy (a promoted model, reloaded while serving)."""
        self._policy = policy

    @property
    def trace_store(self) -> TraceStore | None:
        """Where requests are recorded (None: recording is off); the switch closes it."""
        return self.recorder.store if self.recorder is not None else None

    @property
    def prices(self) -> PriceTable:
        """The price table costs are computed with (empty when recording is off)."""
        return self.recorder.prices if self.recorder is not None else PriceTable()

    def budget_for(self, request: Request) -> int:
        """The thinking cap of `request` (the caller's, else the default); an empty question
        is refused here, before any policy or engine sees it."""
        if not last_user_text(request.messages).strip():
            raise UsageError("the question is empty")
        budget = request.budget or self.settings.default_budget
        return budget if request.output_cap is None else thinking_share(budget,
                                                                       request.output_cap)

    def generation(self, request: Request, decision: Decision) -> GenerationRequest:
        """What the engine is asked for `request` under `decision`."""
        plan = ThinkingPlan(
            mode=decision.mode,
            budget=decision.budget,
            min_thinking=(
                min(request.min_thinking, decision.budget or 0) if decision.mode == "on" else 0
            ),
            answer_max_tokens=(
                answer_share(decision.mode, decision.budget, request.output_cap)
                if request.output_cap is not None
                else request.answer_max_tokens or self.settings.answer_max_tokens
            ),
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

    def close(self) -> None:
        """Close the engine, then the trace store (each once; closing twice is harmless)."""
        try:
            self.engine.close()
        finally:
            if self.recorder is not None:
                self.recorder.store.close()
