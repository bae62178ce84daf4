"""Why `learned` decided as it did where its score is a blend of the model and the work prior.

The score of a request is `familiarity x model + (1 - familiarity) x work prior`
(`thinkswitch.triage.familiarity`, `thinkswitch.triage.worklike`). The reason leads with the
strongest actual cause of the decision, not with the blend's mechanics:

- when only one of the two parts, alone, would have decided this way, that part is the cause
  (an unfamiliar coding task the model alone would answer directly thinks *by default*, because
  it looks like work);
- when both would have, the part that contributed more to the score leads: bare arithmetic
  ("What is 17 * 23?") is work-like, and the prior's share of its score outweighs the model's,
  so the reason says "looks like work (arithmetic or math)" first and the familiarity after.

Only the words change with this: the score, and so every decision and curve, is the blend's.
"""

from __future__ import annotations

from dataclasses import dataclass

from thinkswitch.triage.worklike import WorkReading


@dataclass(frozen=True, slots=True)
class Blend:
    """The two parts of one blended score and what the decision was."""

    familiarity: float
    learned: float
    work: WorkReading
    threshold: float
    thinks: bool
    new_kinds: tuple[str, ...] = ()

    @property
    def model_part(self) -> float:
        return self.familiarity * self.learned

    @property
    def prior_part(self) -> float:
        return (1.0 - self.familiarity) * self.work.score

    def _agrees(self, alone: float) -> bool:
        return (alone >= self.threshold) == self.thinks


def _seen(work: WorkReading, new_kinds: tuple[str, ...]) -> str:
    text = (f"looks like work: {', '.join(work.phrases)}" if work.cues
            else "no sign of code, proof or analysis")
    if new_kinds:
        text += f"; new to this model: {', '.join(new_kinds)}"
    return text


def blend_reason(blend: Blend) -> str:
    """The clause the reason carries for a blended score ('' when the model alone scored it)."""
    if blend.familiarity >= 1.0:
        return ""
    weight, learned, work = blend.familiarity, blend.learned, blend.work
    seen = _seen(work, blend.new_kinds)
    default = "thinking" if blend.thinks else "answering directly"
    prior_agrees, model_agrees = blend._agrees(work.score), blend._agrees(learned)
    parts = (f"work prior {work.score:.2f} x {1.0 - weight:.2f}, the model's "
             f"{learned:.2f} x familiarity {weight:.2f}")
    if prior_agrees and (not model_agrees or blend.prior_part >= blend.model_part):
        if model_agrees:  # both say so; the prior says it louder
            unfamiliar = "unfamiliar request, " if weight <= 0.5 else ""
            lead = (f"{_work_lead(work)}: {default} pays off on such work"
                    if blend.thinks else f"{unfamiliar}{seen}: {default}")
            return f"{lead} ({parts}; the model agrees); "
        if weight <= 0.5:
            return (f"unfamiliar kind of request: {default} by default ({seen}; familiarity "
                    f"{weight:.2f}, the model alone would score {learned:.2f}); ")
        return (f"partly unfamiliar request: {default} by the work prior ({seen}; {parts}); ")
    # A convex blend sides with at least one of its parts: here, the model.
    agrees = "the work prior agrees" if prior_agrees else "outweighing the work prior"
    return f"the model scores {learned:.2f} ({agrees}: {seen}; {parts}); "


def _work_lead(work: WorkReading) -> str:
    return f"work-like request ({', '.join(work.phrases)})"
