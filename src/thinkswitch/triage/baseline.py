"""The plain router the issue measures the learned policy against: TF-IDF + logistic regression.

sklearn's `TfidfVectorizer` (word 1-2-grams, fitted on the training questions of each fold)
and a default `LogisticRegression` (C=1, no class weights) predicting the same target as
`learned`, P(thinking turns a wrong answer right). It is an evaluation baseline only: it needs
a fitted vocabulary (a pickle to ship), so it is never a runtime policy. Evaluate it with
`thinkswitch triage eval --policy plain-cv` under the same folds and metrics as `learned-cv`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from thinkswitch.kernel.errors import DataError
from thinkswitch.outcomes.paired import PairedTable


@dataclass(frozen=True)
class PlainRouter:
    vectorizer: Any
    model: Any | None
    constant: float = 0.0

    def scores(self, texts: list[str]) -> np.ndarray:
        if self.model is None:
            return np.full(len(texts), self.constant)
        result: np.ndarray = self.model.predict_proba(self.vectorizer.transform(texts))[:, 1]
        return result


def train_plain(tables: Sequence[PairedTable]) -> PlainRouter:
    """Fit TF-IDF (word 1-2-grams) + default logistic regression on the gain label."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [item.question for table in tables for item in table.items if item.question]
    gain = np.array([int(item.on.correct > item.off.correct)
                     for table in tables for item in table.items if item.question])
    if not texts:
        raise DataError("no outcome rows with question text to train on")
    vectorizer = TfidfVectorizer(ngram_range=(1, 2))
    features = vectorizer.fit_transform(texts)
    if gain.min() == gain.max():
        return PlainRouter(vectorizer, None, float(gain.max()))
    # max_iter above the default 100 only so that lbfgs converges; otherwise sklearn defaults.
    return PlainRouter(vectorizer, LogisticRegression(max_iter=1000).fit(features, gain))
