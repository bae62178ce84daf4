"""`rules`: a no-training triage policy from textual cues.

Each cue adds a weight; the score is the sum clipped to [0, 1], and the request thinks when
the score reaches the threshold. It needs no training and no model file; its reason lists the
cues that fired so the decision can be read and audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar, Literal

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.context import triage_text


@dataclass(frozen=True, slots=True)
class Cue:
    label: str
    pattern: re.Pattern[str]
    weight: float


THINK_REQUEST = re.compile(
    r"\b(?:think (?:carefully|hard|step)|reason (?:about|carefully)|show your work)\b", re.I)
#: A cue against thinking for `rules` (it also fires on "briefly" inside a passage).
QUICK = re.compile(r"\b(?:quick(?:ly)? answer|just (?:tell|answer)|one word|briefly|tl;?dr)\b",
                   re.I)
#: Only instructions: what `asked_for` honours over a learned score.
QUICK_REQUEST = re.compile(
    r"\b(?:quick(?:ly)? answer|answer (?:briefly|quickly|in one word)|just (?:tell me|answer|"
    r"give me the answer)|in one word|one-word answer|tl;?dr|(?:no need|don'?t) to think)\b",
    re.I)
LONG_QUESTION_CHARS = 400
CUES: tuple[Cue, ...] = (
    Cue("numbers", re.compile(r"\d(?:[.,]\d+)?[^\d.,]\D*?\d"), 0.30),  # two numbers
    Cue("arithmetic operators", re.compile(r"\d\s*[-+*/\u00d7\u00f7^=]\s*\d"), 0.25),
    Cue("code", re.compile(r"```|\bdef \w+\(|\bfunction\b|\bimplement\b|\bwrite a (?:python )?"
                           r"(?:function|program|script)\b", re.I), 0.35),
    Cue("multi-step wording", re.compile(
        r"\b(?:how (?:many|much|long)|total|prove|derive|step[- ]by[- ]step|calculate|"
        r"compute|solve|average|altogether|remain(?:s|ing)?|each|per|what is the probability|"
        r"how would you|explain why)\b", re.I), 0.30),
    Cue("asks to think carefully", THINK_REQUEST, 0.60),
)


def asked_for(text: str) -> Literal["on", "off"] | None:
    """What the caller's own words ask for, when they clearly say so: an explicit instruction
    outranks a statistical guess. Asking for both, or for neither, leaves it to the score."""
    quick, careful = bool(QUICK_REQUEST.search(text)), bool(THINK_REQUEST.search(text))
    if quick == careful:
        return None
    return "off" if quick else "on"


class RulesPolicy(TriagePolicy):
    """Think when cues of multi-step work add up to the threshold."""

    name: ClassVar[str] = "rules"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def score(self, text: str) -> tuple[float, list[str]]:
        fired = [cue for cue in CUES if cue.pattern.search(text)]
        score = sum(cue.weight for cue in fired)
        labels = [cue.label for cue in fired]
        if len(text) > LONG_QUESTION_CHARS:
            score += 0.2
            labels.append("long question")
        if QUICK.search(text):
            score -= 0.6
            labels.append("asks for a quick answer")
        return max(0.0, min(1.0, score)), labels

    def decide(self, messages: tuple[ChatMessage, ...], budget: int) -> Decision:
        read = triage_text(messages)
        score, labels = self.score(read.text)
        think = score >= self.threshold
        cues = ", ".join(labels) if labels else "no cues of multi-step work"
        verdict = "think" if think else "answer directly"
        return Decision(
            requested="auto",
            mode="on" if think else "off",
            budget=budget if think else None,
            policy=self.name,
            score=round(score, 3),
            reason=f"{verdict}: {cues} (score {score:.2f} vs threshold {self.threshold:.2f}; "
            f"cue rules){read.note}",
        )
