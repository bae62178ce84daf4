"""`cascade`: answer fast first, and think only when the fast answer looks unsure.

Unlike the other policies it cannot decide from the question alone: it declares the
probe-first capability (`probes_first`), its `decide()` gives only the provisional decision
(thinking off) the fast attempt runs under, and the switch's probe-first step
(`thinkswitch.switch.probe`) runs the attempt, measures its confidence and asks
`after_probe()` for the decision. Without an engine (`triage explain`, replay tables) it
cannot decide at all, and `decide_alone` says why.

Confidence, in [0, 1]:
- from log-probabilities (engines that yield `TokenLogprobs`, the embedded llama.cpp one): the
  geometric mean of the probabilities of the fast answer's tokens, `exp(mean logprob)`. It is
  the inverse of the answer's perplexity, so one token the model was unsure of pulls it down
  more than an arithmetic mean would.
- from agreement (engines without logprobs): a second fast sample is drawn and the confidence
  is the token overlap (F1 over lower-cased words, 1.0 when the normalised texts are equal) of
  the two answers. Greedy samples always agree, so the second one is drawn at no less than
  `AGREEMENT_MIN_TEMPERATURE`.

The knob is a confidence threshold: the request thinks when confidence < threshold. The
decision's `score` is `1 - confidence` (doubt), so that, as for every other policy, a higher
score means more reason to think. Replay tables carry no confidences, so `triage calibrate`
cannot turn a think-rate into this threshold; `bench/cascade.py` prints the quantiles of live
confidences instead.
"""

from __future__ import annotations

from typing import ClassVar

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.triage.base import ProbeFirst, TriagePolicy
from thinkswitch.triage.confidence import Confidence, Source

DEFAULT_THRESHOLD = 0.7


class CascadePolicy(TriagePolicy):
    """Keep the fast answer when its confidence reaches the threshold, else think."""

    name: ClassVar[str] = "cascade"

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, source: Source = "auto") -> None:
        if not 0.0 <= threshold <= 1.0:
            raise UsageError(f"cascade threshold must be in [0, 1], got {threshold}")
        if source not in ("auto", "logprobs", "agreement"):
            raise UsageError(f"unknown confidence source {source!r}; valid: agreement, auto, "
                             "logprobs")
        self.threshold = threshold
        #: `auto`: logprobs when the engine gives them, else agreement of two samples.
        self.source: Source = source

    @property
    def probes_first(self) -> ProbeFirst:
        return self

    def decide(self, messages: tuple[ChatMessage, ...], budget: int) -> Decision:
        """The provisional decision the fast attempt runs under: thinking off."""
        return Decision(requested="auto", mode="off", budget=None, policy=self.name,
                        reason="probe")

    def after_probe(self, confidence: Confidence, budget: int) -> Decision:
        """The decision once the fast attempt's confidence is known."""
        think = confidence.value < self.threshold
        sign = "<" if think else ">="
        verdict = f"think, budget {budget}" if think else "keep the fast answer"
        return Decision(
            requested="auto",
            mode="on" if think else "off",
            budget=budget if think else None,
            policy=self.name,
            score=round(1.0 - confidence.value, 3),
            reason=f"fast answer confidence {confidence.value:.2f} {sign} {self.threshold:.2f} "
            f"({confidence.how}): {verdict}",
        )
