"""How familiar a request is to a learned model: its distance from the training texts.

A learned score is an interpolation of its training data; far from that data it is a guess
(the shipped model, trained on exam questions, scores a coding request like a coin would). The
model file therefore keeps the training set's feature distribution — its mean and a shrunk
(Ledoit-Wolf) covariance — and a request's Mahalanobis distance from it, set against the
distances of the training texts themselves, gives a weight in [0, 1]: 1 within the bulk of the
training data (distance at most its `NEAR_QUANTILE`), 0 at `FAR_FACTOR` times that or beyond,
linear in between. A mean of word vectors hides a short request of a new kind among familiar
words, so the kinds of work (`worklike` cues) are counted too: a request showing a kind of work
that under `MIN_SUPPORT` of the training texts showed (code, for a model trained on exams) is
unfamiliar whatever its distance. `learned` blends its score with the work-likeness prior by
the weight. Only dense features (the static token table) carry it; hashed n-grams do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from thinkswitch.triage.worklike import WorkReading, read_work

#: Training texts at or below this quantile of distance count as fully familiar.
NEAR_QUANTILE = 0.99
#: A request this many times the `near` distance (or farther) is fully unfamiliar.
FAR_FACTOR = 1.5
#: A kind of work seen in fewer than this share of the training texts is new to the model.
MIN_SUPPORT = 0.02
#: Fewer training texts than this do not describe a distribution (a covariance of 64
#: dimensions from a few dozen texts calls every new wording unfamiliar): no familiarity.
MIN_TEXTS = 100
#: Above this many dimensions a covariance is not kept (hashed features).
MAX_DIMENSIONS = 1024


@dataclass(frozen=True, eq=False)
class Familiarity:
    mean: np.ndarray
    precision: np.ndarray
    near: float
    far: float
    #: Share of the training texts showing each kind of work (a `worklike` cue label).
    support: dict[str, float]

    @classmethod
    def fit(cls, matrix: Any, texts: list[str]) -> Familiarity | None:
        """The distribution of `matrix`'s rows (the features of `texts`), or None for sparse
        or very wide features and for fewer than `MIN_TEXTS` texts."""
        from sklearn.covariance import LedoitWolf

        if not isinstance(matrix, np.ndarray) or matrix.shape[1] > MAX_DIMENSIONS or (
                matrix.shape[0] < MIN_TEXTS):
            return None
        estimate = LedoitWolf().fit(matrix)
        mean = np.asarray(estimate.location_, dtype=np.float64)
        precision = np.asarray(estimate.precision_, dtype=np.float64)
        distances = _mahalanobis(matrix, mean, precision)
        near = float(np.quantile(distances, NEAR_QUANTILE))
        counts: dict[str, int] = {}
        for text in texts:
            for cue in read_work(text).cues:
                counts[cue] = counts.get(cue, 0) + 1
        support = {cue: count / len(texts) for cue, count in sorted(counts.items())}
        return cls(mean, precision, near, near * FAR_FACTOR, support)

    def distances(self, matrix: np.ndarray) -> np.ndarray:
        return _mahalanobis(np.asarray(matrix, dtype=np.float64), self.mean, self.precision)

    def weights(self, matrix: np.ndarray, work: list[WorkReading]) -> np.ndarray:
        """1 for familiar rows, 0 for unfamiliar ones: linear in the distance between `near`
        and `far`, and 0 for a row whose text shows a kind of work new to the model."""
        distances = self.distances(matrix)
        result: np.ndarray = np.clip((self.far - distances) / (self.far - self.near), 0.0, 1.0)
        return np.where([bool(self.new_kinds(reading)) for reading in work], 0.0, result)

    def new_kinds(self, work: WorkReading) -> tuple[str, ...]:
        """The kinds of work in `work` that the training texts rarely showed."""
        return tuple(cue for cue in work.cues if self.support.get(cue, 0.0) < MIN_SUPPORT)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"familiar_mean": self.mean.astype(np.float32),
                "familiar_precision": self.precision.astype(np.float32)}

    def header(self) -> dict[str, Any]:
        return {"near": self.near, "far": self.far, "support": self.support}

    @classmethod
    def from_file(cls, data: Any, header: dict[str, Any]) -> Familiarity | None:
        """From a model file's arrays and header; None when the model has no distribution."""
        if "familiar_mean" not in data or not header:
            return None
        return cls(np.asarray(data["familiar_mean"], dtype=np.float64),
                   np.asarray(data["familiar_precision"], dtype=np.float64),
                   float(header["near"]), float(header["far"]),
                   {str(k): float(v) for k, v in header.get("support", {}).items()})


def _mahalanobis(matrix: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    centered = matrix - mean
    squared = np.einsum("ij,jk,ik->i", centered, precision, centered)
    result: np.ndarray = np.sqrt(np.maximum(squared, 0.0))
    return result
