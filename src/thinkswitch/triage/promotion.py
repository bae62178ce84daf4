"""Promotion on the triage side: candidate files, the guard over two models, the live policy.

`guard` gathers what the guard judges (rolling origin over the pairs newer than the live
model's training, and the candidate's own training pairs; see triage.guard); `LivePolicy` is
the learned policy a server swaps in place. Where promotions are recorded and how a server finds
the live model: thinkswitch.shadow.promotion.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import DataError, ModelNotFoundError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.examples import LabelledExample, as_table
from thinkswitch.triage.guard import (
    DEFAULT_GUARD,
    Block,
    GuardOptions,
    Verdict,
    judge,
    refusal,
)
from thinkswitch.triage.label_permutation import null_scores
from thinkswitch.triage.learned import LearnedModel, LearnedPolicy
from thinkswitch.triage.training import Scorer, fit_gain, train, training_rows

#: How a candidate's recipe is re-fit on the examples older than a block.
Recipe = Callable[[Sequence[LabelledExample]], Scorer]
#: The fewest older shadow pairs a rolling-origin block is trained on (else it is skipped).
MIN_TRAINING = 10


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


def shadow_pairs(examples: Sequence[LabelledExample]) -> list[LabelledExample]:
    """Fully labelled shadow pairs (random draws, not ratings), oldest first: what the guard
    judges on."""
    return sorted((e for e in examples if e.labelled and e.source == "shadow"),
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


def learned_part(model: LearnedModel, texts: list[str]) -> np.ndarray:
    """The model's own logit, without the work prior it blends in on unfamiliar requests: what
    it learned from its labels (the prior would rank work-like requests up whatever they were)."""
    values: np.ndarray = model.features.transform(texts) @ model.gain + model.gain_bias
    return values


def recipe_of(candidate: LearnedModel) -> Recipe:
    """How a candidate trained on shadow pairs is re-fit on older pairs: `learned` on the
    candidate's features (what `train --from-traces` and `serve --learn` do)."""

    def fit(examples: Sequence[LabelledExample]) -> Scorer:
        return train([as_table(examples, "traces")], version="fold",
                     features=candidate.features)

    return fit


def rolling_origin(judged: Sequence[LabelledExample], training: Sequence[LabelledExample],
                   live_scores: np.ndarray, recipe: Recipe, folds: int) -> list[Block]:
    """Time-ordered cross-fitting: `judged` cut into `folds` blocks by time, each scored by the
    recipe re-fit on the `training` examples older than the block (blocks with fewer than
    MIN_TRAINING of them are skipped) and by the live model."""
    blocks = []
    for part in np.array_split(np.arange(len(judged)), min(folds, len(judged))):
        start = judged[int(part[0])].at
        older = [e for e in training if e.at < start]
        if sum(e.source == "shadow" for e in older) < MIN_TRAINING:
            continue
        chosen = [judged[int(i)] for i in part]
        model = recipe(older)
        blocks.append(Block(chosen, live_scores[part], model.scores([e.question
                                                                     for e in chosen])))
    return blocks


def guard(live: LearnedModel, candidate: LearnedModel, examples: Sequence[LabelledExample],
          options: GuardOptions = DEFAULT_GUARD, recipe: Recipe | None = None) -> Verdict:
    """The guard's verdict (see triage.guard) on the labelled shadow pairs of `examples`.

    A candidate trained on pairs (a cut-off in its meta) is judged through its `recipe`
    (default: `recipe_of`) by rolling origin over the pairs newer than the live model's
    cut-off, and on its own training pairs; one trained on tables only, directly."""
    pairs = shadow_pairs(examples)
    live_cut, candidate_cut = trained_until(live), trained_until(candidate)
    judged = [e for e in pairs if e.at > live_cut]
    if not judged:
        return judge([], options)
    texts = [e.question for e in judged]
    live_scores, _ = scores_of(live, texts)
    if candidate_cut <= 0:
        return judge([Block(judged, live_scores, candidate.scores(texts))], options)
    training = sorted((e for e in examples if e.labelled), key=lambda e: e.at)
    blocks = rolling_origin(judged, training, live_scores, recipe or recipe_of(candidate),
                            options.folds)
    own = [e for e in pairs if e.at <= candidate_cut]
    kept_out = [i for i, e in enumerate(judged) if e.at > candidate_cut]
    held = Block([judged[i] for i in kept_out], live_scores[kept_out],
                 candidate.scores([texts[i] for i in kept_out])) if kept_out else None
    trained_on = Block(own, np.zeros(len(own)), learned_part(candidate, [e.question
                                                                         for e in own])
                       ) if own else None
    if trained_on is None:
        return refusal(f"the candidate says it trained on pairs up to {candidate_cut}, but "
                       "the store holds none of them")
    seen = [e for e in training if e.at <= candidate_cut]
    refit = (recipe or recipe_of(candidate))(seen)
    if not isinstance(refit, LearnedModel):
        return judge(blocks, options, trained_on, held, None)
    reference = replace(trained_on, candidate_scores=learned_part(refit, [e.question
                                                                          for e in own]))
    return judge(blocks, options, trained_on, held, reference,
                 permutation_null(refit, seen, own, options))


def permutation_null(refit: LearnedModel, seen: Sequence[LabelledExample],
                     own: Sequence[LabelledExample], options: GuardOptions) -> list[np.ndarray]:
    """The learned scores on `own` of the recipe's gain model re-fit on `seen` with its labels
    permuted, `options.permutations` times (triage.label_permutation). The statistic reads
    only the learned part, so only the gain model is re-fit, on features read once: the
    same fit as `learned`'s training (training.fit_gain), at a fraction of its cost."""
    features = refit.features
    texts, gain, _ = training_rows([as_table(seen, "traces")])
    matrix, mine = features.transform(texts), features.transform([e.question for e in own])

    def scores(labels: np.ndarray) -> np.ndarray:
        weights, bias = fit_gain(matrix, labels, features.size, features.regularization)
        values: np.ndarray = mine @ weights + bias
        return values

    return null_scores(gain, scores, options.permutations, options.seed)


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


