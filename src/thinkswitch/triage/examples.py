"""Labelled examples: what training and the promotion guard read, from any source.

An example is one request whose two sides' outcomes are (partly) known: a shadow pair from the
trace store (the side the user got and the other side, run after the answer), or a row of an
outcome table (both sides recorded). `propensity` is the chance the example had of being
labelled (the shadow rate when it was drawn; 1 for a table row), so averages over examples
weighted by 1/propensity estimate averages over all traffic (inverse-propensity weighting).
A person's rating (a feedback record) is a label too, but not a random sample of the traffic:
it trains, and is never among the examples the promotion guard judges on (`source`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from thinkswitch.kernel.pairs import ShadowPair
from thinkswitch.outcomes.paired import Outcome, PairedItem, PairedTable

Side = Literal["off", "on"]


@dataclass(frozen=True, slots=True)
class LabelledExample:
    id: str
    question: str
    side: Side
    correct_off: float | None
    correct_on: float | None
    agree: bool | None
    propensity: float
    at: float
    tokens_off: float
    tokens_on: float
    policy: str = ""
    #: "shadow" (a random draw), "rating" (a person's verdict) or "table" (outcome tables).
    source: str = "shadow"

    @property
    def labelled(self) -> bool:
        """Both sides' correctness known and the text kept: usable to train and to judge."""
        return (self.correct_off is not None and self.correct_on is not None
                and bool(self.question))

    @property
    def weight(self) -> float:
        return 1.0 / self.propensity

    def correct(self, think: bool) -> float:
        value = self.correct_on if think else self.correct_off
        if value is None:
            raise ValueError(f"example {self.id} has no {'on' if think else 'off'} label")
        return value


def from_pair(pair: ShadowPair) -> LabelledExample:
    off, on = pair.side("off"), pair.side("on")
    return LabelledExample(
        id=pair.request_id, question=pair.question or "", side=pair.live.mode,
        correct_off=None if off.correct is None else float(off.correct),
        correct_on=None if on.correct is None else float(on.correct),
        agree=pair.agreement.agree, propensity=pair.propensity, at=pair.created_at,
        tokens_off=float(off.generated_tokens), tokens_on=float(on.generated_tokens),
        policy=pair.policy)


def from_table(table: PairedTable, times: Sequence[float] | None = None
               ) -> list[LabelledExample]:
    """Every row of `table` as a fully labelled example (propensity 1), at `times`."""
    return [
        LabelledExample(
            id=item.id, question=item.question, side="off", correct_off=item.off.correct,
            correct_on=item.on.correct, agree=None, propensity=1.0,
            at=float(times[i]) if times is not None else 0.0,
            tokens_off=item.off.tokens, tokens_on=item.on.tokens, policy=table.name,
            source="table")
        for i, item in enumerate(table.items)
    ]


def as_table(examples: Iterable[LabelledExample], name: str) -> PairedTable:
    """The fully labelled examples as a paired table, the form `training.train` reads."""
    items = tuple(
        PairedItem(example.id, example.question, name,
                   Outcome(example.correct(False), example.tokens_off),
                   Outcome(example.correct(True), example.tokens_on))
        for example in examples if example.labelled)
    return PairedTable(name, "off", "on", items)
