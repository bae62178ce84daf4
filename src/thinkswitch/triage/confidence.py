"""How sure a fast answer looks: from its tokens' log-probabilities, or from the agreement of
two fast samples (see `thinkswitch.triage.cascade` for why each)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

#: The second fast sample is drawn at least this hot: greedy samples always agree.
AGREEMENT_MIN_TEMPERATURE = 0.7
Source = Literal["auto", "logprobs", "agreement"]
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
