"""Training `learned` on what the traffic taught: shadow pairs (and outcome tables).

The labelled examples are split by time: the newest `holdout` share is kept out of training,
so the promotion guard has pairs that neither the candidate nor (by its own cut-off) the live
model has seen. The cut-off is recorded in the model (`meta.trained_until`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from thinkswitch.kernel.errors import DataError
from thinkswitch.outcomes.paired import PairedTable
from thinkswitch.triage.examples import LabelledExample, as_table
from thinkswitch.triage.features import Featurizer
from thinkswitch.triage.label_permutation import permuted_labels
from thinkswitch.triage.learned import LearnedModel
from thinkswitch.triage.training import train


@dataclass(frozen=True, slots=True)
class TraceTraining:
    model: LearnedModel
    trained_pairs: int
    held_out: int
    table_rows: int


def split_by_time(examples: Sequence[LabelledExample], holdout: float
                  ) -> tuple[list[LabelledExample], list[LabelledExample]]:
    """(older, newest `holdout` share) of the fully labelled examples; ratings always train
    (the guard never judges on them)."""
    labelled = sorted((e for e in examples if e.labelled and e.source == "shadow"),
                      key=lambda e: e.at)
    keep = len(labelled) - round(holdout * len(labelled))
    ratings = [e for e in examples if e.labelled and e.source == "rating"]
    return labelled[:keep] + ratings, labelled[keep:]


def shuffled(examples: Sequence[LabelledExample], seed: int) -> list[LabelledExample]:
    """The same examples with their label pairs permuted across questions: a deliberately
    bad training set (what a guard must never promote)."""
    return permuted_labels(examples, 1, np.random.default_rng(seed))[0]


def train_on_examples(examples: Sequence[LabelledExample], tables: Sequence[PairedTable] = (),
                      holdout: float = 0.25, version: str = "traces",
                      features: Featurizer | None = None) -> TraceTraining:
    """Fit on the older labelled examples plus `tables`; the newest `holdout` share stays out."""
    older, newest = split_by_time(examples, holdout)
    if not older and not tables:
        raise DataError("no labelled shadow pairs with question text to train on (pairs need "
                        "known correctness on both sides; redacted stores keep no text) and no "
                        "outcome tables given")
    sources = [as_table(older, "traces")] if older else []
    model = train([*sources, *tables], version=version, features=features)
    cutoff = max((e.at for e in older if e.source == "shadow"), default=0.0)
    model = replace(model, meta={**model.meta, "trained_until": cutoff,
                                 "trace_pairs": len(older)})
    return TraceTraining(model, len(older), len(newest), sum(len(t.items) for t in tables))
