"""`learned`: a logistic model over cheap text features that predicts whether thinking pays.

A strongly regularised logistic regression, trained on paired outcomes with balanced class
weights, predicts P(thinking turns a wrong answer right); that probability is the score.
(A second model for P(right turned wrong), scored as P_gain - P_loss, ranked worse in
leave-one-exam-out evaluation and was dropped.) A ridge
regression on log(thinking-mode tokens) picks the budget tier (256 / 1024 / 4096) for a
request that thinks; the caller's budget stays the cap.

The model file (`.npz`) holds only the non-zero weights, the feature layout, the default
threshold and a version; it loads in milliseconds and is never unpickled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from thinkswitch.errors import DataError, ModelNotFoundError
from thinkswitch.messages import ChatMessage
from thinkswitch.result import Decision
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.context import triage_text
from thinkswitch.triage.features import FeatureSpace

FORMAT = "thinkswitch-learned-triage/1"
TIERS = (256, 1024, 4096)
EXPLAIN_TOP = 3
MIN_SHOWN = 0.005  # contributions smaller than this explain nothing


@dataclass(frozen=True)
class LearnedModel:
    version: str
    space: FeatureSpace
    gain: np.ndarray
    gain_bias: float
    length: np.ndarray
    length_bias: float
    threshold: float = 0.5
    trained_on: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def scores(self, texts: list[str]) -> np.ndarray:
        features = self.space.transform(texts)
        return _sigmoid(features @ self.gain + self.gain_bias)

    def tier(self, text: str) -> int:
        return self.tier_for(self.space.transform([text]))

    def tier_for(self, features: Any) -> int:
        return _tier(math.exp(float((features @ self.length)[0] + self.length_bias)))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        for name in ("gain", "length"):
            weights = getattr(self, name)
            index = np.flatnonzero(weights)
            arrays[f"{name}_index"] = index.astype(np.int32)
            arrays[f"{name}_value"] = weights[index].astype(np.float32)
        header = {
            "format": FORMAT, "version": self.version, "threshold": self.threshold,
            "word_features": self.space.word_features,
            "char_features": self.space.char_features,
            "biases": [self.gain_bias, self.length_bias],
            "trained_on": list(self.trained_on), "meta": self.meta,
        }
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        with path.open("wb") as handle:
            np.savez_compressed(handle, allow_pickle=False, **arrays)

    @classmethod
    def load(cls, path: Path) -> LearnedModel:
        if not path.is_file():
            raise ModelNotFoundError(f"triage model not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(bytes(data["header"]).decode())
                if header.get("format") != FORMAT:
                    raise DataError(f"{path} is not a thinkswitch learned-triage model")
                space = FeatureSpace(header["word_features"], header["char_features"])
                weights = {}
                for name in ("gain", "length"):
                    dense = np.zeros(space.size, dtype=np.float64)
                    dense[data[f"{name}_index"]] = data[f"{name}_value"]
                    weights[name] = dense
            gain_bias, length_bias = header["biases"]
            return cls(header["version"], space, weights["gain"], float(gain_bias),
                       weights["length"], float(length_bias),
                       float(header["threshold"]), tuple(header["trained_on"]),
                       header.get("meta", {}))
        except DataError:
            raise
        except Exception as error:  # any damage to the file: truncated zip, bad keys, bad indices
            raise DataError(f"cannot read triage model {path}: {error}") from None


def _tier(expected_tokens: float) -> int:
    """The smallest budget tier with a quarter of headroom over the expected thinking."""
    return next((t for t in TIERS if t >= expected_tokens * 1.25), TIERS[-1])


def _sigmoid(values: Any) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-np.asarray(values, dtype=float)))
    return result


def default_model_path() -> Path:
    return Path(__file__).parent / "models" / "learned-v1.npz"


class LearnedPolicy(TriagePolicy):
    """Think when the learned score reaches the threshold (the model's own by default)."""

    name: ClassVar[str] = "learned"

    def __init__(self, model: LearnedModel, threshold: float | None = None) -> None:
        self.model = model
        self.threshold = model.threshold if threshold is None else threshold

    @classmethod
    def from_path(cls, path: Path | None = None, threshold: float | None = None) -> LearnedPolicy:
        return cls(LearnedModel.load(path or default_model_path()), threshold)

    def score(self, text: str) -> float:
        return float(self.model.scores([text])[0])

    def decide(self, messages: tuple[ChatMessage, ...], budget: int) -> Decision:
        read = triage_text(messages)
        text = read.text
        index, values = self.model.space.row(text)
        score = float(_sigmoid(values @ self.model.gain[index] + self.model.gain_bias))
        think = score >= self.threshold
        tier = None
        if think:
            expected = math.exp(float(values @ self.model.length[index] + self.model.length_bias))
            tier = min(_tier(expected), budget)
        verdict = f"think, budget {tier}" if think else "answer directly"
        return Decision(
            requested="auto", mode="on" if think else "off", budget=tier,
            policy=f"{self.name}@{self.model.version}", score=round(score, 3),
            reason=f"{verdict}: score {score:.2f} vs threshold {self.threshold:.2f}; "
            f"{self._explain(text, index, values)}{read.note}",
        )

    def explain(self, text: str) -> str:
        """The features of `text` that pushed the score most, each way."""
        return self._explain(text, *self.model.space.row(text))

    def _explain(self, text: str, index: np.ndarray, values: np.ndarray) -> str:
        contributions = values * self.model.gain[index]
        order = np.argsort(contributions)
        ranked = [(float(contributions[k]), int(index[k])) for k in order]
        up = [(c, i) for c, i in ranked[::-1][:EXPLAIN_TOP] if c >= MIN_SHOWN]
        down = [(c, i) for c, i in ranked[:EXPLAIN_TOP] if c <= -MIN_SHOWN]
        names = self.model.space.names_for(text, {i for _, i in up + down})

        def shown(pairs: list[tuple[float, int]]) -> str:
            return ", ".join(f"{names.get(i, f'feature #{i}')} ({c:+.2f})" for c, i in pairs)

        return f"for thinking: {shown(up) or 'nothing'}; against: {shown(down) or 'nothing'}"
