"""The after-answer step that runs the other side of a drawn auto request.

The runner is an after-answer step (`thinkswitch.switch.after_answer`): the switch calls it
once a request's `Result` is recorded and handed over, on the request's own thread. It only
draws and checks the limits (`thinkswitch.shadow.limits`), then hands the run to its one worker
thread and returns: the user's answer is never held up by it. The worker runs the other side
(thinking for a direct answer, direct for a thinking one) on the same engine, judges the two
answers, and records the pair, priced apart, in the trace store.

Between its steps (generate, judge, record) a run pauses while user requests keep arriving, so
a newcomer has the CPU and the GIL for its decision and first token. On an engine that
generates one request at a time (`Engine.exclusive`), a shadow run would make
the next user wait for it; there it stops within a token as soon as a user request is admitted,
and is counted as preempted. (A preempted run is lost; as long runs are the likelier to be
preempted, such drops are not random: the report counts them.)
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from thinkswitch.bench.items import Checker, Item
from thinkswitch.kernel.closing import close_iterator
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.events import EngineEvent
from thinkswitch.kernel.messages import last_user_text
from thinkswitch.kernel.pairs import CorrectnessSource, ShadowPair, SideOutcome
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.kernel.result import Result
from thinkswitch.shadow.agreement import judge
from thinkswitch.shadow.judging import JudgeProcess
from thinkswitch.shadow.limits import Capacity, TokenWindow
from thinkswitch.shadow.metrics import ShadowMetrics
from thinkswitch.shadow.model_judge import ask_model
from thinkswitch.switch.generate import answer

if TYPE_CHECKING:
    from thinkswitch.kernel.request import Request
    from thinkswitch.switch.pipeline import Switch

log = logging.getLogger(__name__)

#: A shadow run pauses this long when a user request was admitted since it last looked, so
#: the newcomer has the CPU (and the GIL) while it decides and streams its first token ...
MAKE_WAY_S = 0.01
#: ... at most this many times in a row at one checkpoint (a shadow run is slowed, not lost).
MAKE_WAY_TIMES = 5


class ShadowOptions(BaseModel):
    """How much shadow work a server may do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: float = Field(0.0, ge=0.0, le=1.0, description="share of auto requests shadowed")
    tokens_per_minute: int = Field(
        100_000, ge=0, description="cap on shadow tokens (worst case reserved) per minute")
    seed: int | None = Field(None, description="seed of the draw (None: unpredictable)")
    judge: bool = Field(False, description="ask the engine whether two answers agree where "
                        "the local judges cannot tell (its tokens are shadow tokens)")


@runtime_checkable
class KnowsCorrectness(Protocol):
    """An engine that knows whether its answer to a request is right (replay's outcome table)."""

    def recorded_correctness(self, request: GenerationRequest) -> bool | None: ...


@runtime_checkable
class Grades(Protocol):
    """Where a bench item asked with a question can be found (`bench.gradebook.GradeBook`)."""

    def grading(self, question: str) -> tuple[Item, Checker] | None: ...


class _Preempted(Exception):
    """A user request was admitted while a shadow run held an exclusive engine."""


class ShadowRunner:
    """Draws auto requests at `options.rate` and runs their other side when it costs no user."""

    def __init__(self, switch: Switch, capacity: Capacity, options: ShadowOptions,
                 metrics: ShadowMetrics | None = None, grades: Grades | None = None) -> None:
        self.switch = switch
        self.grades = grades
        self.capacity = capacity
        self.options = options
        self.metrics = metrics or ShadowMetrics()
        self.tokens = TokenWindow(options.tokens_per_minute)
        self._random = random.Random(options.seed)
        self._lock = threading.Lock()
        self._busy = threading.Semaphore(1)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")
        self._idle = threading.Event()
        self._idle.set()
        self._seen = capacity.entered
        self._judge = JudgeProcess() if options.rate > 0 else None

    name = "shadow evaluation"

    def __call__(self, request: Request, decision: Decision, result: Result) -> None:
        """The after-answer step: draw, check the limits, hand the run over; never raises,
        never waits."""
        try:
            self._offer(request, result)
        except Exception:  # a bug here must not reach the user's answer
            log.exception("shadow evaluation failed before it started")
            self.metrics.count("failed")

    def _offer(self, request: Request, result: Result) -> None:
        if (result.decision.requested != "auto" or result.trace_id is None or result.tool_calls
                or self.switch.recorder is None or self.options.rate <= 0.0):
            return
        with self._lock:
            drawn = self._random.random() < self.options.rate
        if not drawn:
            return
        self.metrics.count("drawn")
        if self.capacity.inside >= self.capacity.capacity:
            self.metrics.drop("capacity")
            return
        decision = self._other_side(request, result.decision)
        reservation = self.tokens.reserve(self._worst_case(request, decision))
        if reservation is None:
            self.metrics.drop("tokens")
            return
        if not self._busy.acquire(blocking=False):
            self.tokens.settle(reservation, 0)
            self.metrics.drop("busy")
            return
        self._idle.clear()
        self._worker.submit(self._run, request, result, decision, reservation)

    def _other_side(self, request: Request, live: Decision) -> Decision:
        if live.mode == "on":
            return Decision(requested="auto", mode="off", budget=None, policy="shadow",
                            reason="shadow: the direct side of a thinking answer")
        budget = self.switch.budget_for(request)
        return Decision(requested="auto", mode="on", budget=budget, policy="shadow",
                        reason=f"shadow: the thinking side of a direct answer, budget {budget}")

    def _worst_case(self, request: Request, decision: Decision) -> int:
        if request.output_cap is not None:  # thinking and answer share it (switch.output_cap)
            return request.output_cap
        answer_cap = request.answer_max_tokens or self.switch.settings.answer_max_tokens
        return answer_cap + (decision.budget or 0)

    def _run(self, request: Request, live: Result, decision: Decision,
             reservation: list[float]) -> None:
        spent = 0
        try:
            caller = self._caller_of(live)
            self._make_way()
            shadow = self._generate(request, decision)
            spent = shadow.usage.thinking_tokens + shadow.usage.answer_tokens
            self._make_way()
            pair = self._pair(request, live, shadow, caller)
            recorder = self.switch.recorder
            if recorder is not None:
                self._make_way()
                recorder.shadow(pair)
                self.metrics.recorded(pair)
        except _Preempted:
            self.metrics.count("preempted")
        except Exception:
            log.exception("a shadow run failed")
            self.metrics.count("failed")
        finally:
            self.tokens.settle(reservation, spent)
            self._busy.release()
            self._idle.set()

    def _generate(self, request: Request, decision: Decision) -> Result:
        switch = self.switch
        generation = switch.generation(request, decision)
        switch.check(request, generation)
        events = self._yielding(switch.engine.execute(generation, switch.dialect),
                                switch.engine.exclusive)
        deltas = answer(switch, events, decision, time.perf_counter(), observe=False)
        while True:
            try:
                next(deltas)
            except StopIteration as finished:
                result: Result = finished.value
                return result

    def _yielding(self, events: Iterator[EngineEvent],
                  exclusive: bool) -> Iterator[EngineEvent]:
        """On an exclusive engine, stop at the first event after a user request was admitted.
        (Other engines generate elsewhere or at once: the run makes way between its steps.)"""
        admitted = self.capacity.entered
        try:
            for event in events:
                if exclusive and self.capacity.entered != admitted:
                    raise _Preempted
                yield event
        finally:
            close_iterator(events)

    def _caller_of(self, live: Result) -> str:
        """Who made the request, from its trace record (the step is not told)."""
        store = self.switch.trace_store
        record = store.get(live.trace_id) if store is not None and live.trace_id else None
        return record.caller if record is not None else ""

    def _make_way(self) -> None:
        """Pause while user requests keep arriving (see MAKE_WAY_S); only the worker calls it."""
        for _ in range(MAKE_WAY_TIMES):
            admitted = self.capacity.entered
            if admitted == self._seen:
                return
            self._seen = admitted
            time.sleep(MAKE_WAY_S)

    def _pair(self, request: Request, live: Result, shadow: Result, caller: str) -> ShadowPair:
        question = last_user_text(request.messages)
        if self._judge is None:  # pragma: no cover - no pair is drawn at rate 0
            raise RuntimeError("a shadow pair at shadow rate 0")
        graded = self.grades.grading(question) if self.grades is not None else None
        if graded is not None:  # a bench item: both sides by the suite's checker, here
            verdicts = judge(question, live.answer, shadow.answer, *graded)
        else:
            verdicts = self._judge.judge(question, live.answer, shadow.answer)
        agreement, judge_tokens = verdicts.agreement, 0
        if self.options.judge and not verdicts.settled:
            self._make_way()
            exclusive = self.switch.engine.exclusive
            asked, judge_tokens = ask_model(self.switch, question, live.answer, shadow.answer,
                                            lambda events: self._yielding(events, exclusive))
            agreement = asked or agreement
        live_correct, shadow_correct = verdicts.live_correct, verdicts.shadow_correct
        source: CorrectnessSource | None = "bench" if live_correct is not None else None
        engine = self.switch.engine
        if isinstance(engine, KnowsCorrectness) and live_correct is None:
            live_correct = engine.recorded_correctness(
                self.switch.generation(request, live.decision))
            shadow_correct = engine.recorded_correctness(
                self.switch.generation(request, shadow.decision))
            source = "replay" if live_correct is not None else None
        return ShadowPair(
            request_id=live.trace_id or "", caller=caller, engine=engine.name, model=engine.model,
            policy=live.decision.policy, score=live.decision.score,
            propensity=self.options.rate, question=question,
            live=_side(live, live_correct), shadow=_side(shadow, shadow_correct),
            agreement=agreement, correctness_source=source, judge_tokens=judge_tokens,
        )

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no shadow run is going (tests, shutdown)."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        if self._judge is not None:
            self._judge.close()


def _side(result: Result, correct: bool | None) -> SideOutcome:
    return SideOutcome(
        mode=result.decision.mode, budget=result.decision.budget, answer=result.answer,
        prompt_tokens=result.usage.prompt_tokens, thinking_tokens=result.usage.thinking_tokens,
        answer_tokens=result.usage.answer_tokens, seconds=result.timings.total_s,
        finish_reason=result.finish_reason, correct=correct)
