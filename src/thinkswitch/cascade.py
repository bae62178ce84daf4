"""The cascade flow of the switch: a fast attempt first, thinking only if it looks unsure.

1. Both generations (thinking off, and on under the budget) are validated before any output.
2. The fast attempt runs with thinking off and `logprobs` asked for. It is buffered, not
   streamed: streaming an answer that may then be replaced would show the caller two answers.
3. Its confidence comes from the engine's token log-probabilities; an engine that yields none
   (or `source="agreement"`) gets a second fast sample and the two answers are compared.
4. The policy turns the confidence into the `Decision` (a deadline may still switch thinking
   off), which is yielded now.
5. Confident: the buffered fast answer is replayed as the answer. Unsure: the engine runs again
   with thinking on and that run is streamed.

Every fast attempt is paid for: its prompt and generated tokens are added to the `Usage`
(`probe_tokens` says how many generated tokens were fast attempts), and the timings run from
the start of the request, so the first token the caller sees comes after the probe.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from thinkswitch.deadline import degrade
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import EngineUnavailableError, UsageError
from thinkswitch.kernel.events import AnswerDelta, EngineEvent, Finish, TokenLogprobs, UsageReport
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.kernel.result import Usage
from thinkswitch.triage.base import rate_quantile
from thinkswitch.triage.cascade import AGREEMENT_MIN_TEMPERATURE, CascadePolicy, Confidence

if TYPE_CHECKING:
    from thinkswitch.kernel.events import SwitchEvent
    from thinkswitch.kernel.request import Request
    from thinkswitch.switch import Switch

SECOND_SAMPLE_SEED_OFFSET = 1


@dataclass
class Attempt:
    """One fast attempt, run to the end and kept (events, answer text, usage, logprobs)."""

    events: list[EngineEvent] = field(default_factory=list)
    answer: str = ""
    usage: Usage = field(default_factory=Usage)
    logprobs: tuple[float, ...] | None = None

    @property
    def generated(self) -> int:
        return self.usage.thinking_tokens + self.usage.answer_tokens


def attempt(switch: Switch, generation: GenerationRequest) -> Attempt:
    """Run the engine once to the end, buffering what it yields."""
    started = time.perf_counter()
    result = Attempt()
    answer: list[str] = []
    finished = False
    events = switch.engine.execute(generation, switch.dialect)
    try:
        for event in events:
            if isinstance(event, TokenLogprobs):
                result.logprobs = event.logprobs
                continue
            result.events.append(event)
            if isinstance(event, AnswerDelta):
                answer.append(event.text)
            elif isinstance(event, UsageReport):
                result.usage = Usage(prompt_tokens=event.prompt_tokens,
                                     thinking_tokens=event.thinking_tokens,
                                     answer_tokens=event.answer_tokens)
            elif isinstance(event, Finish):
                finished = True
    finally:
        close = getattr(events, "close", None)
        if callable(close):
            close()
    if not finished:
        raise EngineUnavailableError(
            f"engine {switch.engine.name!r} ended without finishing")
    result.answer = "".join(answer).strip()
    switch.speed.observe(result.generated, time.perf_counter() - started)
    return result


def _total(*attempts: Attempt) -> Usage:
    """What the fast attempts cost, in the usual fields, and as `probe_tokens`."""
    total = Usage()
    for spent in attempts:
        total = total.plus(spent.usage).plus(Usage(probe_tokens=spent.generated))
    return total


def _probe_decision(policy: CascadePolicy) -> Decision:
    """The provisional decision the fast attempts run under (thinking off)."""
    return Decision(requested="auto", mode="off", budget=None, policy=policy.name,
                    reason="probe")


def _second_sample(fast: GenerationRequest) -> GenerationRequest:
    """The agreement sample: a different seed, and not greedy (greedy samples always agree)."""
    seed = None if fast.seed is None else fast.seed + SECOND_SAMPLE_SEED_OFFSET
    return dataclasses.replace(
        fast, temperature=max(fast.temperature, AGREEMENT_MIN_TEMPERATURE), seed=seed)


def probe(switch: Switch, policy: CascadePolicy, fast: GenerationRequest
          ) -> tuple[list[Attempt], Confidence]:
    """The fast attempt(s) and the confidence they give (logprobs, else two samples)."""
    first = attempt(switch, dataclasses.replace(fast, logprobs=policy.source != "agreement"))
    if first.logprobs is not None:
        return [first], Confidence.from_logprobs(first.logprobs)
    if policy.source == "logprobs":
        raise UsageError(f"engine {switch.engine.name!r} gives no token log-probabilities; "
                         "use the cascade's agreement source")
    second = attempt(switch, _second_sample(fast))
    return [first, second], Confidence.from_agreement(first.answer, second.answer)


def confidence_of(switch: Switch, policy: CascadePolicy, request: Request) -> Confidence:
    """Only the fast attempt's confidence for `request` (for calibration: no thinking run)."""
    fast = switch.generation(request, _probe_decision(policy))
    switch.check(request, fast)
    return probe(switch, policy, fast)[1]


def calibrate(confidences: list[float], think_rate: float) -> float:
    """The confidence threshold at which a share `think_rate` of these would think (a quantile:
    a request thinks when its confidence is below the threshold)."""
    return rate_quantile(confidences, think_rate, thinks_below=True, what="confidences")


def run_cascade(
    switch: Switch, policy: CascadePolicy, request: Request, started: float
) -> Iterator[SwitchEvent]:
    """Decision, deltas, then the `Result` of one `cascade` request (see the module doc)."""
    budget = switch.budget_for(request)
    off = _probe_decision(policy)
    on = off.model_copy(update={"mode": "on", "budget": budget})
    fast = switch.generation(request, off)
    slow = switch.generation(request, on)
    switch.check(request, fast)
    switch.check(request, slow)

    attempts, confidence = probe(switch, policy, fast)
    first = attempts[0]
    decision = degrade(policy.after_probe(confidence, budget), request.deadline_s, switch.speed)
    yield decision
    if decision.mode == "off":
        # The first attempt is the answer: its tokens are counted once, by its own UsageReport.
        spent = _total(*attempts[1:]).plus(Usage(probe_tokens=first.generated))
        yield from switch.answer(iter(first.events), decision, started, spent, observe=False)
        return
    yield from switch.answer(switch.engine.execute(slow, switch.dialect), decision, started,
                             _total(*attempts))
