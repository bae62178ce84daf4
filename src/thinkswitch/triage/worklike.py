"""Does a request look like work (code, a proof, multi-step analysis or math)?

This is the prior `learned` falls back on when a request is unlike anything it was trained on
(see `familiarity`): a learned score says nothing outside its training data, but a request
that asks for code, a proof or a calculation is where thinking pays most, whoever answers it,
and one that does not (a greeting, a translation, a one-line fact) rarely needs it. The cues
are written for kinds of work, not for any benchmark; each fired cue is named in the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The prior's score for a request with no cue of work: low, but not zero, so that the model's
#: own (down-weighted) score still orders such requests.
NO_WORK_PRIOR = 0.05


@dataclass(frozen=True, slots=True)
class WorkCue:
    label: str
    pattern: re.Pattern[str]
    weight: float
    #: How a reason names it (the label, unless said otherwise).
    said: str = ""


WORK_CUES: tuple[WorkCue, ...] = (
    WorkCue("code", re.compile(
        r"```|\bdef \w+\s*\(|\bfunction\s*\w*\s*\(|#include\b|\bimport \w+|\breturn\b[^.\n]{0,200}"
        r"[;)\]]|=>|\bconsole\.log\b|\bprint\(", re.I), 0.9),
    WorkCue("asks for a program", re.compile(
        r"\b(?:write|implement|code|create|build|debug|fix|refactor|optimi[sz]e)\b[^.?!\n]{0,40}"
        r"\b(?:function|program|script|class|method|algorithm|query|regex|regular expression|"
        r"module|api|bug|code|unit tests?)\b|\b(?:write|implement|code)\b[^.?!\n]{0,40}\bin "
        r"(?:python|javascript|typescript|java|c\+\+|c#|rust|go|ruby|sql|bash)\b", re.I), 0.9),
    WorkCue("programming terms", re.compile(
        r"\b(?:python|javascript|typescript|java|c\+\+|rust|golang|sql|bash|algorithm|"
        r"recursion|recursive|time complexity|big-?o|data structure|linked list|binary tree|"
        r"hash ?map|array|stack trace|exception|compile[rsd]?|runtime error)\b", re.I), 0.7),
    WorkCue("proof", re.compile(
        r"\b(?:prove|proof|show that|derive|derivation|lemma|theorem|by induction|"
        r"counterexample|if and only if)\b", re.I), 0.85),
    WorkCue("multi-step analysis", re.compile(
        r"\b(?:analy[sz]e|analysis of|step[- ]by[- ]step|calculate|compute|solve|work out|"
        r"estimate|evaluate the|optimi[sz]e|trade-?offs?|pros and cons|design an?|"
        r"plan (?:a|an|the|for)|compare and contrast|walk me through|how would you)\b", re.I),
        0.7),
    # Anchored: both look-aheads scan the whole text from its start; unanchored, `search`
    # retried them from every position (quadratic: 2.7 s of CPU for 10 KB of "1 x ").
    WorkCue("word problem", re.compile(
        r"(?s)\A(?=.*\d\D+\d)(?=.*\b(?:how (?:many|much|long|far|old)|what (?:is|was) the "
        r"(?:total|average|sum|difference|ratio|probability)|in total|altogether|left over)\b)",
        re.I), 0.7),
    WorkCue("math", re.compile(
        r"\d\s*[-+*/^=<>\u00d7\u00f7]\s*\d|\\frac|\\sqrt|\b[a-z]\s*\^\s*\d|\b\d+\s*[a-z]\s*[-+=]"
        r"|\bintegral\b|\bderivative\b|\bequation\b|\bprobability\b", re.I),
        0.6, "arithmetic or math"),
)


@dataclass(frozen=True, slots=True)
class WorkReading:
    """The prior's score in [NO_WORK_PRIOR, 1) and the cues that fired."""

    score: float
    cues: tuple[str, ...]
    #: The fired cues as a reason names them.
    phrases: tuple[str, ...] = ()


def read_work(text: str) -> WorkReading:
    """Cues combine like independent evidence: 1 - prod(1 - weight) over the fired cues."""
    fired = [cue for cue in WORK_CUES if cue.pattern.search(text)]
    absent = 1.0 - NO_WORK_PRIOR
    for cue in fired:
        absent *= 1.0 - cue.weight
    return WorkReading(1.0 - absent, tuple(cue.label for cue in fired),
                       tuple(cue.said or cue.label for cue in fired))
