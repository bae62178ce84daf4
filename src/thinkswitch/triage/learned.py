"""`learned`: a logistic model over cheap text features that predicts whether thinking pays.

The features are either a static MiniLM token table (`static`, the shipped model's) or hashed
word and character n-grams plus cues (`hashed`); the model file says which.

A strongly regularised logistic regression, trained on paired outcomes with balanced class
weights, predicts P(thinking turns a wrong answer right); that probability is the score.
(A second model for P(right turned wrong), scored as P_gain - P_loss, ranked worse in
leave-one-exam-out evaluation and was dropped.) A ridge
regression on log(thinking-mode tokens) picks the budget tier (256 / 1024 / 4096) for a
request that thinks; the caller's budget stays the cap.

The model file (`.npz`) holds only the non-zero weights, the featurizer's header, the default
threshold and a version; it loads in milliseconds and is never unpickled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import (
    DataError,
    ModelNotFoundError,
    ThinkswitchError,
    UnknownNameError,
)
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.blend_reason import Blend, blend_reason
from thinkswitch.triage.context import triage_text
from thinkswitch.triage.familiarity import Familiarity
from thinkswitch.triage.features import FeatureSpace, Featurizer, Reading
from thinkswitch.triage.model_file import read_model_file, write_model_file
from thinkswitch.triage.rules import asked_for
from thinkswitch.triage.static_features import StaticFeatures
from thinkswitch.triage.worklike import WorkReading, read_work

FORMAT = "thinkswitch-learned-triage/2"
#: Format 1 (hashed features only, their sizes at the top of the header) still loads.
FORMAT_HASHED_ONLY = "thinkswitch-learned-triage/1"
TIERS = (256, 1024, 4096)
EXPLAIN_TOP = 3
#: Featurizers by kind: from a model file's header, and new for training.
FEATURIZERS: Mapping[str, Callable[[dict[str, Any]], Featurizer]] = MappingProxyType(
    {"static": StaticFeatures.from_header, "hashed": FeatureSpace.from_header})
NEW_FEATURIZERS: Mapping[str, Callable[[], Featurizer]] = MappingProxyType(
    {"static": StaticFeatures.shipped, "hashed": FeatureSpace})


def new_featurizer(kind: str) -> Featurizer:
    try:
        return NEW_FEATURIZERS[kind]()
    except KeyError:
        raise UnknownNameError("features", kind, NEW_FEATURIZERS) from None


@dataclass(frozen=True)
class LearnedModel:
    version: str
    features: Featurizer
    gain: np.ndarray
    gain_bias: float
    length: np.ndarray
    length_bias: float
    threshold: float = 0.5
    trained_on: tuple[str, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    #: The training texts' feature distribution (None: trust the score everywhere).
    familiarity: Familiarity | None = None

    def scores(self, texts: list[str]) -> np.ndarray:
        """The model's score, blended with the work prior where a text is unfamiliar."""
        matrix = self.features.transform(texts)
        learned = _sigmoid(matrix @ self.gain + self.gain_bias)
        if self.familiarity is None:
            return learned
        work = [read_work(text) for text in texts]
        weight = self.familiarity.weights(matrix, work)
        prior = np.array([reading.score for reading in work])
        blended: np.ndarray = weight * learned + (1.0 - weight) * prior
        return blended

    def familiar(self, values: np.ndarray, work: WorkReading) -> float:
        """The familiarity weight of one dense feature row (1.0 without a distribution)."""
        if self.familiarity is None:
            return 1.0
        return float(self.familiarity.weights(values.reshape(1, -1), [work])[0])

    def tier(self, text: str) -> int:
        return self.tier_for(self.features.transform([text]))

    def tier_for(self, features: Any) -> int:
        return _tier(math.exp(float((features @ self.length)[0] + self.length_bias)))

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        for name in ("gain", "length"):
            weights = getattr(self, name)
            index = np.flatnonzero(weights)
            arrays[f"{name}_index"] = index.astype(np.int32)
            arrays[f"{name}_value"] = weights[index].astype(np.float32)
        header = {
            "format": FORMAT, "version": self.version, "threshold": self.threshold,
            "features": self.features.header(),
            "biases": [self.gain_bias, self.length_bias],
            "trained_on": list(self.trained_on), "meta": self.meta,
        }
        if self.familiarity is not None:
            arrays.update(self.familiarity.arrays())
            header["familiarity"] = self.familiarity.header()
        write_model_file(path, header, arrays)

    @classmethod
    def load(cls, path: Path) -> LearnedModel:
        if not path.is_file():
            raise ModelNotFoundError(f"triage model not found: {path}")
        damaged = f"cannot read triage model {path}"
        header, data = read_model_file(path, damaged)
        try:
            features = _featurizer(header, path)
            weights = {}
            for name in ("gain", "length"):
                dense = np.zeros(features.size, dtype=np.float64)
                dense[data[f"{name}_index"]] = data[f"{name}_value"]
                weights[name] = dense
            familiarity = Familiarity.from_file(data, header.get("familiarity") or {})
            gain_bias, length_bias = header["biases"]
            return cls(header["version"], features, weights["gain"], float(gain_bias),
                       weights["length"], float(length_bias),
                       float(header["threshold"]), tuple(header["trained_on"]),
                       header.get("meta", {}), familiarity)
        except ThinkswitchError:
            raise
        except Exception as error:  # a header without its keys, bad indices
            raise DataError(f"{damaged}: {error}") from None


def training_suites(policy: TriagePolicy) -> frozenset[str]:
    """The outcome tables a policy's model was trained on (none for untrained policies)."""
    return frozenset(policy.model.trained_on) if isinstance(policy, LearnedPolicy) else (
        frozenset())


def _featurizer(header: dict[str, Any], path: Path) -> Featurizer:
    if header.get("format") == FORMAT_HASHED_ONLY:
        return FeatureSpace.from_header(header)
    if header.get("format") != FORMAT:
        raise DataError(f"{path} is not a thinkswitch learned-triage model")
    kind = header["features"]["kind"]
    if kind not in FEATURIZERS:
        raise DataError(f"{path} uses unknown features {kind!r}; valid: {', '.join(FEATURIZERS)}")
    return FEATURIZERS[kind](header["features"])


def _tier(expected_tokens: float) -> int:
    """The smallest budget tier with a quarter of headroom over the expected thinking."""
    return next((t for t in TIERS if t >= expected_tokens * 1.25), TIERS[-1])


def _sigmoid(values: Any) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-np.asarray(values, dtype=float)))
    return result


def default_model_path() -> Path:
    return Path(__file__).parent / "models" / "learned-v3.npz"


class LearnedPolicy(TriagePolicy):
    """Think when the learned score reaches the threshold (the model's own by default), unless
    the last user turn explicitly asks to think carefully or for a quick answer.

    The score is the model's alone: curves and calibration (`policy_scores`) never see the
    override, which only changes the decision's mode."""

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
        reading = self.model.features.read(text)
        index, values = reading.index, reading.values
        learned = float(_sigmoid(values @ self.model.gain[index] + self.model.gain_bias))
        work = read_work(text)
        weight = self.model.familiar(values, work)
        score = weight * learned + (1.0 - weight) * work.score
        by_score = score >= self.threshold
        asked = asked_for(read.last)
        think = by_score if asked is None else asked == "on"
        tier = None
        if think:
            expected = math.exp(float(values @ self.model.length[index] + self.model.length_bias))
            tier = min(_tier(expected), budget)
        verdict = f"think, budget {tier}" if think else "answer directly"
        versus = f"score {score:.2f} vs threshold {self.threshold:.2f}"
        if think != by_score:
            wish = "asked to think carefully" if think else "asked for a quick answer"
            versus = f"{wish} ({versus} would {'not ' if think else ''}think)"
        return Decision(
            requested="auto", mode="on" if think else "off", budget=tier,
            policy=f"{self.name}@{self.model.version}", score=round(score, 3),
            reason=f"{verdict}: {versus}; "
            f"{self._unfamiliar(weight, learned, work, by_score)}"
            f"{self._explain(reading)}{read.note}",
        )

    def _unfamiliar(self, weight: float, learned: float, work: WorkReading,
                    thinks: bool) -> str:
        """What the decision owes to the work prior rather than to the model ('' if nothing)."""
        if self.model.familiarity is None:
            return ""
        return blend_reason(Blend(weight, learned, work, self.threshold, thinks,
                                  self.model.familiarity.new_kinds(work)))

    def explain(self, text: str) -> str:
        """The parts of `text` that pushed the score most, each way."""
        return self._explain(self.model.features.read(text))

    def _explain(self, reading: Reading) -> str:
        up, down = self.model.features.strongest(reading, self.model.gain, EXPLAIN_TOP)

        def shown(pairs: list[tuple[str, float]]) -> str:
            return ", ".join(f"{name} ({share:+.2f})" for name, share in pairs)

        return f"for thinking: {shown(up) or 'nothing'}; against: {shown(down) or 'nothing'}"
