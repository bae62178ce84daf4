"""`cascade`: answer fast first, and think only when the fast answer looks unsure.

Unlike the other policies it cannot decide from the question alone, so `decide()` refuses and
the switch runs the flow itself (see `thinkswitch.cascade`): a fast attempt with thinking off,
a confidence for it, then `after_probe()` turns the confidence into the decision.

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

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import UsageError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.triage.base import TriagePolicy

Source = Literal["auto", "logprobs", "agreement"]
DEFAULT_THRESHOLD = 0.7
AGREEMENT_MIN_TEMPERATURE = 0.7
WORD = re.compile(r"\w+(?:[.,]\d+)*")


@dataclass(frozen=True, slots=True)
class Confidence:
    """How sure the fast answer looks, and how that was measured (for the reason)."""

    value: float
    how: str

    @classmethod
    def from_logprobs(cls, logprobs: Sequence[float]) -> Confidence:
        if not logprobs:
            return cls(0.0, "the fast attempt generated no tokens")
        value = math.exp(sum(logprobs) / len(logprobs))
        return cls(min(1.0, max(0.0, value)),
                   f"geometric-mean token probability over {len(logprobs)} tokens")

    @classmethod
    def from_agreement(cls, first: str, second: str) -> Confidence:
        value = agreement(first, second)
        return cls(value, f"agreement of two fast samples, word overlap {value:.2f}")


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def agreement(first: str, second: str) -> float:
    """1.0 for the same normalised text, else the F1 of their words (0.0 if either is empty)."""
    a, b = _words(first), _words(second)
    if a == b:
        return 1.0 if a else 0.0
    common = sum((Counter(a) & Counter(b)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(a), common / len(b)
    return 2 * precision * recall / (precision + recall)


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

    def decide(self, messages: tuple[ChatMessage, ...], budget: int) -> Decision:
        raise UsageError(
            "the cascade policy decides after a fast attempt, so it needs a live engine through "
            "the switch (ask, serve, bench on live suites); it cannot score questions alone, and "
            "replay tables record no confidences to calibrate on: set the confidence threshold "
            "with --knob / THINKSWITCH_KNOB (bench/cascade.py prints live confidence quantiles)"
        )

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
