"""Cheap text features for learned triage: hashed word and character n-grams plus cues.

Hashing needs no vocabulary, so a trained model is only its weights; and because a text's
own n-grams can be hashed again, every weight that fired can be named in an explanation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import numpy as np

from thinkswitch.triage.rules import CUES, QUICK

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix

#: N-grams are read from at most this many characters (the start and the end of a long
#: request, where the task is usually stated), which bounds decision latency.
CLIP_CHARS = 1000
WORD_FEATURES = 2**16
CHAR_FEATURES = 2**16
Label = TypeVar("Label")
_DIGITS = re.compile(r"\d")
_MATH = re.compile(r"[=+\-*/^<>%$]|\\frac|\\sqrt|\bsqrt\b")
_CHOICE = re.compile(r"(?m)^[^\S\n]*\(?[A-E][.)]\s*(.*)$")  # not ^\s*: quadratic on blank lines
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_NUMERIC_CHOICE = re.compile(r"^[\s$\-\d.,/%()^:+*=a-z]{0,6}\d[\s\d.,/%()^:+*=]*[a-z%]{0,8}$", re.I)
_EQUATION = re.compile(r"\b[a-z]\s*[=<>\u2264\u2265]\s*[-\d(a-z]|\d\s*[a-z]\b(?![.)])|\^\d")


def clip(text: str, limit: int = CLIP_CHARS) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} … {text[-half:]}"


def clip_halves(text: str, limit: int = CLIP_CHARS) -> tuple[str, ...]:
    """The same characters as `clip`, as separate parts rather than joined by a marker (for
    features where the marker would be a token of its own)."""
    if len(text) <= limit:
        return (text,)
    half = limit // 2
    return text[:half], text[-half:]


def cue_names() -> list[str]:
    return [*(f"cue: {cue.label}" for cue in CUES), "cue: asks for a quick answer",
            "length (log chars)", "share of digits", "share of math symbols",
            "multiple-choice options", "count of numbers", "numeric answer choices",
            "equations or variables"]


def cue_vector(text: str) -> list[float]:
    """Dense cue features, each roughly in [0, 1]."""
    size = max(len(text), 1)
    choices = [match.group(1).strip() for match in _CHOICE.finditer(text)]
    numeric = sum(bool(_NUMERIC_CHOICE.match(choice)) for choice in choices)
    return [
        *(1.0 if cue.pattern.search(text) else 0.0 for cue in CUES),
        1.0 if QUICK.search(text) else 0.0,
        math.log1p(len(text)) / 8.0,
        min(1.0, 10 * len(_DIGITS.findall(text)) / size),
        min(1.0, 20 * len(_MATH.findall(text)) / size),
        min(1.0, len(choices) / 5),
        min(1.0, math.log1p(len(_NUMBER.findall(text))) / 3),
        numeric / len(choices) if choices else 0.0,
        1.0 if _EQUATION.search(text) else 0.0,
    ]


class Featurizer(Protocol):
    """What the `learned` model reads a text as; a model file records which one (`header`)."""

    kind: ClassVar[str]
    #: Inverse regularisation strength of the logistic gain model on these features.
    regularization: ClassVar[float]

    @property
    def size(self) -> int: ...

    def header(self) -> dict[str, Any]: ...

    def transform(self, texts: list[str]) -> Any:
        """A (texts x size) matrix, sparse or dense."""

    def read(self, text: str) -> Reading:
        """One text's features, read once: the fast single-request path of a decision."""

    def strongest(self, reading: Reading, weights: np.ndarray, top: int) -> Strongest:
        """The `top` readable parts of the text that push `features @ weights` most, each
        way (from the reading: a decision does not read its text twice)."""


@dataclass(frozen=True, eq=False)
class Reading:
    """A text as a featurizer read it: its non-zero features as (indices, values), and what
    naming them needs (`parts`: the featurizer's own, e.g. the static features' words)."""

    text: str
    index: np.ndarray
    values: np.ndarray
    parts: Any = None


Strongest = tuple[list[tuple[str, float]], list[tuple[str, float]]]
#: Shares smaller than this explain nothing.
MIN_SHOWN = 0.005


def top_shares(shares: list[tuple[Label, float]], top: int
               ) -> tuple[list[tuple[Label, float]], list[tuple[Label, float]]]:
    """The `top` largest positive and negative shares, strongest first."""
    ranked = sorted(shares, key=lambda pair: pair[1])
    up = [pair for pair in ranked[::-1][:top] if pair[1] >= MIN_SHOWN]
    down = [pair for pair in ranked[:top] if pair[1] <= -MIN_SHOWN]
    return up, down


@dataclass(frozen=True)
class FeatureSpace:
    """Hashed n-grams and cues, laid out as [word n-grams | char n-grams | cues]."""

    kind: ClassVar[str] = "hashed"
    #: 0.03 ranked best of 0.03-3 leave-one-exam-out on concise_cot.
    regularization: ClassVar[float] = 0.03
    word_features: int = WORD_FEATURES
    char_features: int = CHAR_FEATURES

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> FeatureSpace:
        return cls(int(header["word_features"]), int(header["char_features"]))

    def header(self) -> dict[str, Any]:
        return {"kind": self.kind, "word_features": self.word_features,
                "char_features": self.char_features}

    def strongest(self, reading: Reading, weights: np.ndarray, top: int) -> Strongest:
        shares = [(int(i), float(v * weights[i]))
                  for i, v in zip(reading.index, reading.values, strict=True)]
        up, down = top_shares(shares, top)
        names = self.names_for(reading.text, {i for i, _ in up + down})

        def named(pairs: list[tuple[int, float]]) -> list[tuple[str, float]]:
            return [(names.get(i, f"feature #{i}"), share) for i, share in pairs]

        return named(up), named(down)

    @property
    def size(self) -> int:
        return self.word_features + self.char_features + len(cue_names())

    @cached_property
    def _vectorizers(self) -> tuple[Any, Any]:
        """Built once per space: constructing them costs more than transforming a text."""
        from sklearn.feature_extraction.text import HashingVectorizer

        word = HashingVectorizer(n_features=self.word_features, ngram_range=(1, 2),
                                 alternate_sign=False, norm="l2")
        char = HashingVectorizer(n_features=self.char_features, analyzer="char_wb",
                                 ngram_range=(3, 4), alternate_sign=False, norm="l2")
        return word, char

    def transform(self, texts: list[str]) -> csr_matrix:
        from scipy.sparse import csr_matrix, hstack

        word, char = self._vectorizers
        cues = csr_matrix([cue_vector(text) for text in texts])
        clipped = [clip(text) for text in texts]
        return hstack([word.transform(clipped), char.transform(clipped), cues], format="csr")

    def read(self, text: str) -> Reading:
        return Reading(text, *self.row(text))

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One text's non-zero features as (indices, values), equal to `transform([text])`.

        The same hashing as sklearn's HashingVectorizer (murmurhash3, |h| mod n, counts,
        L2 norm per block) without its per-call overhead: the single-request path of a
        decision, where that overhead would be most of the latency.
        """
        from sklearn.utils import murmurhash3_32

        word, char = self._vectorizers
        clipped = clip(text)
        parts: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for analyzer, size, offset in ((word.build_analyzer(), self.word_features, 0),
                                       (char.build_analyzer(), self.char_features,
                                        self.word_features)):
            grams = analyzer(clipped)
            if not grams:
                continue
            hashed = np.fromiter((abs(murmurhash3_32(g, seed=0)) % size for g in grams),
                                 dtype=np.int64, count=len(grams))
            index, counts = np.unique(hashed, return_counts=True)
            weights = counts.astype(float)
            parts.append(index + offset)
            values.append(weights / np.sqrt(np.dot(weights, weights)))
        cues = np.asarray(cue_vector(text), dtype=float)
        nonzero = np.flatnonzero(cues)
        parts.append(nonzero + self.word_features + self.char_features)
        values.append(cues[nonzero])
        return np.concatenate(parts), np.concatenate(values)

    def names_for(self, text: str, wanted: set[int]) -> dict[int, str]:
        """Readable names of the `wanted` feature indices that `text` fires."""
        from sklearn.utils import murmurhash3_32

        word, char = self._vectorizers
        text = clip(text)
        names: dict[int, str] = {}
        offset = self.word_features + self.char_features
        for position, name in enumerate(cue_names()):
            if offset + position in wanted:
                names[offset + position] = name
        for gram in word.build_analyzer()(text):
            if len(names) == len(wanted):
                return names
            index = abs(murmurhash3_32(gram, seed=0)) % self.word_features
            if index in wanted:
                names.setdefault(index, f"words '{gram}'")
        for gram in char.build_analyzer()(text):
            if len(names) == len(wanted):
                break
            index = self.word_features + abs(murmurhash3_32(gram, seed=0)) % self.char_features
            if index in wanted:
                names.setdefault(index, f"chars '{gram}'")
        return names
