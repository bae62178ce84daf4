"""Training, calibration and leak-free evaluation of the learned policy.

Evaluation never scores a question the model was trained on: scores are out-of-fold, with
folds by question (`question`), by exam or source (`group`, e.g. leave-one-exam-out on
concise_cot), and optionally with training outcomes from another model on other questions
(`cross-model`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal, Protocol

import numpy as np

from thinkswitch.kernel.errors import DataError, UsageError
from thinkswitch.outcomes.paired import PairedTable
from thinkswitch.triage.base import rate_quantile
from thinkswitch.triage.familiarity import Familiarity
from thinkswitch.triage.features import Featurizer
from thinkswitch.triage.learned import LearnedModel

Split = Literal["question", "group"]


class Scorer(Protocol):
    """Anything trained per fold that scores question texts (higher = think)."""

    def scores(self, texts: list[str]) -> np.ndarray: ...


Trainer = Callable[[Sequence[PairedTable]], Scorer]


def training_rows(tables: Sequence[PairedTable]) -> tuple[list[str], np.ndarray, np.ndarray]:
    texts: list[str] = []
    gain: list[int] = []
    tokens: list[float] = []
    for table in tables:
        for item in table.items:
            if not item.question:
                continue
            texts.append(item.question)
            gain.append(int(item.on.correct > item.off.correct))
            tokens.append(max(item.on.tokens, 1.0))
    if not texts:
        raise DataError("no outcome rows with question text to train on")
    return texts, np.array(gain), np.log(np.array(tokens))


def fit_gain(matrix: object, gain: np.ndarray, size: int, regularization: float
             ) -> tuple[np.ndarray, float]:
    """The gain model's weights and bias: a class-balanced logistic regression of "thinking
    pays" (`gain`, 0/1) on the features (a constant when every row is alike)."""
    from sklearn.linear_model import LogisticRegression

    if gain.min() == gain.max():
        return np.zeros(size), (-10.0 if gain.max() == 0 else 10.0)
    model = LogisticRegression(C=regularization, class_weight="balanced", max_iter=3000)
    model.fit(matrix, gain)
    return model.coef_[0].astype(float), float(model.intercept_[0])


def train(tables: Sequence[PairedTable], version: str = "custom",
          features: Featurizer | None = None,
          regularization: float | None = None) -> LearnedModel:
    """Fit the gain and length models on every question of `tables` (deterministic).

    `features` default to the shipped static token table; `regularization` (the logistic
    model's C) to the one chosen for those features."""
    from sklearn.linear_model import Ridge

    if features is None:
        from thinkswitch.triage.static_features import StaticFeatures

        features = StaticFeatures.shipped()
    texts, gain, log_tokens = training_rows(tables)
    matrix = features.transform(texts)
    gain_w, gain_b = fit_gain(matrix, gain, features.size,
                              regularization or features.regularization)
    ridge = Ridge(alpha=1.0).fit(matrix, log_tokens)
    return LearnedModel(
        version, features, gain_w, gain_b, ridge.coef_.astype(float), float(ridge.intercept_),
        threshold=0.5, trained_on=tuple(t.name for t in tables),
        meta={"questions": len(texts), "gain_rate": float(gain.mean())},
        familiarity=Familiarity.fit(matrix, texts),
    )


def calibrate_threshold(scores: Sequence[float], think_rate: float) -> float:
    """The threshold at which a share `think_rate` of these scores thinks (a quantile)."""
    return rate_quantile(scores, think_rate, thinks_below=False, what="scores")


def _normalized(text: str) -> str:
    return " ".join(text.lower().split())


def folds_for(table: PairedTable, split: Split, folds: int, seed: int) -> list[np.ndarray]:
    """Index sets of the held-out questions of each fold."""
    n = len(table.items)
    if split == "group":
        groups = sorted({item.group for item in table.items})
        if len(groups) < 2:
            raise UsageError(f"{table.name} has one group; use a question split")
        return [np.array([i for i, item in enumerate(table.items) if item.group == g])
                for g in groups]
    if not 2 <= folds <= n:
        raise UsageError(f"folds must be between 2 and the {n} questions, got {folds}")
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)]


def out_of_fold_scores(
    table: PairedTable,
    split: Split = "question",
    folds: int = 5,
    seed: int = 0,
    train_table: PairedTable | None = None,
    extra: Sequence[PairedTable] = (),
    trainer: Trainer | None = None,
) -> np.ndarray:
    """Score every question of `table` with a model that never saw it.

    `trainer` fits each fold's model (default: the `learned` model; the plain TF-IDF router
    of `baseline` is evaluated through the very same folds).

    With `train_table` (another model's outcomes on the same question ids), each fold trains
    on `train_table`'s rows for the other questions: train on one model, test on another.
    `extra` tables (other sources, other questions) join every fold's training set; a
    question text that also appears in the held-out fold is dropped from them.
    """
    source = train_table or table
    by_id = {item.id: item for item in source.items}
    scores = np.zeros(len(table.items))
    for held in folds_for(table, split, folds, seed):
        held_ids = {table.items[i].id for i in held}
        # Some tables hold one question under two ids (concise_cot's comprehensive exam repeats
        # questions of the others): held-out text never trains, whatever its id.
        held_texts = {_normalized(table.items[i].question) for i in held}
        train_items = tuple(item for item in source.items if item.id not in held_ids)
        if train_table is not None:
            train_items = tuple(by_id[i.id] for i in table.items
                                if i.id not in held_ids and i.id in by_id)
        train_items = tuple(i for i in train_items if _normalized(i.question) not in held_texts)
        others = [replace(t, items=tuple(i for i in t.items
                                         if _normalized(i.question) not in held_texts))
                  for t in extra]
        fold_tables = [replace(source, items=train_items), *others]
        model = trainer(fold_tables) if trainer else train(fold_tables, version="fold")
        scores[held] = model.scores([table.items[i].question for i in held])
    return scores
