"""Step 3, probe-first: for a policy that declares the capability (`TriagePolicy.probes_first`,
the cascade), a fast attempt first, thinking only if it looks unsure. Other policies and
explicit off/on skip it.

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

from thinkswitch.kernel.closing import close_iterator
from thinkswitch.kernel.errors import EngineUnavailableError, UsageError
from thinkswitch.kernel.events import (
    AnswerDelta,
    EngineEvent,
    Finish,
    SwitchEvent,
    TokenLogprobs,
    UsageReport,
)
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Usage
from thinkswitch.switch.degrade import degrade
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.turn import Turn
from thinkswitch.triage.base import ProbeFirst, rate_quantile
from thinkswitch.triage.confidence import AGREEMENT_MIN_TEMPERATURE, Confidence

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


def attempt(switch: SwitchParts, generation: GenerationRequest) -> Attempt:
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
        close_iterator(events)
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


def _second_sample(fast: GenerationRequest) -> GenerationRequest:
    """The agreement sample: a different seed, and not greedy (greedy samples always agree)."""
    seed = None if fast.seed is None else fast.seed + SECOND_SAMPLE_SEED_OFFSET
    return dataclasses.replace(
        fast, temperature=max(fast.temperature, AGREEMENT_MIN_TEMPERATURE), seed=seed)


def probe(switch: SwitchParts, policy: ProbeFirst, fast: GenerationRequest
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


def confidence_of(switch: SwitchParts, policy: ProbeFirst, request: Request) -> Confidence:
    """Only the fast attempt's confidence for `request` (for calibration: no thinking run)."""
    provisional = switch.policy.decide(request.messages, switch.budget_for(request))
    fast = switch.generation(request, provisional)
    switch.check(request, fast)
    return probe(switch, policy, fast)[1]


def calibrate(confidences: list[float], think_rate: float) -> float:
    """The confidence threshold at which a share `think_rate` of these would think (a quantile:
    a request thinks when its confidence is below the threshold)."""
    return rate_quantile(confidences, think_rate, thinks_below=True, what="confidences")


class ProbeFirstStep:
    """Runs the probe for a policy that declares it; the decision it makes replaces the
    provisional one, and the deadline is applied to it (as the degrade step did to the
    provisional one)."""

    name = "probe-first"

    def run(self, turn: Turn, parts: SwitchParts) -> Iterator[SwitchEvent]:
        if turn.request.think != "auto":  # off/on: the policy is never built
            return
        policy = parts.policy.probes_first
        if policy is None:
            return
        request, budget, provisional = turn.request, turn.budget, turn.decided()
        fast = parts.generation(request, provisional)
        slow = parts.generation(request, provisional.model_copy(
            update={"mode": "on", "budget": budget}))
        parts.check(request, fast)
        parts.check(request, slow)

        attempts, confidence = probe(parts, policy, fast)
        first = attempts[0]
        turn.decision = degrade(policy.after_probe(confidence, budget), request.deadline_s,
                                parts.speed)
        if turn.decision.mode == "off":
            # The first attempt is the answer: its tokens are counted once, by its own
            # UsageReport.
            turn.replay = first.events
            turn.spent = _total(*attempts[1:]).plus(Usage(probe_tokens=first.generated))
        else:
            turn.generation = slow
            turn.spent = _total(*attempts)
        yield from ()
