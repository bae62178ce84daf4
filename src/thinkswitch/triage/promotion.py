"""Promotion on the triage side: candidate files, the guard over two models, the live policy.

`guard` judges a candidate against the live model on labelled examples neither trained on (see
triage.guard); `LivePolicy` is the learned policy a server swaps in place. Where promotions are
recorded and how a server finds the live model: thinkswitch.shadow.promotion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import DataError, ModelNotFoundError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.outcomes.paired import PairedTable
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.examples import LabelledExample, as_table
from thinkswitch.triage.guard import DEFAULT_GUARD, GuardOptions, Verdict, judge
from thinkswitch.triage.learned import LearnedModel, LearnedPolicy
from thinkswitch.triage.training import out_of_fold_scores, train


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_candidate(path: Path) -> LearnedModel:
    """The candidate model, or a clear error for a missing, damaged or foreign file."""
    if not path.is_file():
        raise ModelNotFoundError(f"candidate policy not found: {path}")
    try:
        return LearnedModel.load(path)
    except DataError as error:
        raise DataError(f"refused candidate {path}: {error}") from None


def trained_until(model: LearnedModel) -> float:
    """The newest labelled example the model trained on (0: none from traces)."""
    return float(model.meta.get("trained_until", 0.0))


@dataclass(frozen=True)
class LiveModel:
    path: Path
    sha256: str
    version: str


def holdout(examples: Sequence[LabelledExample], *models: LearnedModel
            ) -> list[LabelledExample]:
    """Fully labelled shadow pairs (random draws, not ratings) newer than every model's
    training cut-off, oldest first."""
    cutoff = max((trained_until(model) for model in models), default=0.0)
    return sorted((e for e in examples if e.labelled and e.source == "shadow" and e.at > cutoff),
                  key=lambda e: e.at)


def scores_of(policy: TriagePolicy | LearnedModel, texts: list[str]
              ) -> tuple[np.ndarray, np.ndarray]:
    """Scores and think decisions (at the policy's own threshold) for `texts`."""
    if isinstance(policy, LearnedModel):
        scores = policy.scores(texts)
        return scores, scores >= policy.threshold
    decisions = [policy.decide((ChatMessage(role="user", content=t),), 1024) for t in texts]
    scores = np.array([float(d.score if d.score is not None else d.mode == "on")
                       for d in decisions])
    return scores, np.array([d.mode == "on" for d in decisions])


def guard(live: LearnedModel, candidate: LearnedModel, examples: Sequence[LabelledExample],
          options: GuardOptions = DEFAULT_GUARD) -> Verdict:
    """The guard's verdict on the examples neither model trained on (see triage.guard)."""
    held = holdout(examples, live, candidate)
    if not held:
        return judge(held, np.zeros(0), np.zeros(0), np.zeros(0), options)
    texts = [e.question for e in held]
    live_scores, live_thinks = scores_of(live, texts)
    return judge(held, live_scores, live_thinks, candidate.scores(texts), options,
                 training_signal(candidate, examples, options))


def training_signal(candidate: LearnedModel, examples: Sequence[LabelledExample],
                    options: GuardOptions) -> tuple[list[LabelledExample], np.ndarray] | None:
    """The candidate's training pairs (labelled, up to its cut-off) with out-of-fold scores
    from the same recipe; None when it did not train on pairs."""
    cutoff = trained_until(candidate)
    trained = sorted((e for e in examples
                      if e.labelled and e.source == "shadow" and e.at <= cutoff),
                     key=lambda e: e.at) if cutoff > 0 else []
    if len(trained) < max(options.min_examples, 10):
        return None
    table = as_table(trained, "training pairs")

    def recipe(tables: Sequence[PairedTable]) -> LearnedModel:
        return train(tables, version="fold", features=candidate.features)

    return trained, out_of_fold_scores(table, "question", 5, options.seed, trainer=recipe)


class LivePolicy(TriagePolicy):
    """A learned policy that a server can swap while it runs.

    `reload` builds the new policy completely, then replaces one reference: a request decides
    with the old policy or the new one, never a mix (assigning an attribute is atomic)."""

    name: ClassVar[str] = "learned"

    def __init__(self, policy: LearnedPolicy, sha256: str = "") -> None:
        self.current = policy
        self.sha256 = sha256

    @property
    def model(self) -> LearnedModel:
        return self.current.model

    def decide(self, messages: tuple[ChatMessage, ...], budget: int) -> Decision:
        policy = self.current  # one read: the whole decision is made by one model
        return policy.decide(messages, budget)

    def reload(self, model: LiveModel, knob: float | None) -> bool:
        """Take `model` (checked and fully loaded first); False when it is already live."""
        if model.sha256 == self.sha256:
            return False
        if checksum(model.path) != model.sha256:
            raise DataError(f"policy file {model.path} does not match its recorded checksum")
        self.current, self.sha256 = LearnedPolicy(LearnedModel.load(model.path), knob), (
            model.sha256)
        return True


