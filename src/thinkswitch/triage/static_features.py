"""Static token-embedding features: the mean of a text's MiniLM token rows (no torch).

The table (`models/minilm-static-64.npz`, built by `scripts/build_token_table.py`) holds one
64-d row per WordPiece token, distilled from all-MiniLM-L6-v2. A text's feature vector is the
mean of its tokens' rows, so a linear model on it is a per-token score: every word's share of
a decision can be computed exactly, which is how `learned` explains itself with these
features. Under leave-one-exam-out on concise_cot they rank better than hashed n-grams
(README, "Measured figures").
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from thinkswitch.kernel.errors import DataError, ModelNotFoundError
from thinkswitch.triage.features import Reading, Strongest, clip_halves, top_shares
from thinkswitch.triage.wordpiece import WordPiece

TABLE_FORMAT = "thinkswitch-token-table/1"
#: A word longer than this is shortened in explanations (it is one [UNK] token anyway).
LABEL_CHARS = 24
Split = tuple[list[str], list[tuple[int, ...]]]


def default_table_path() -> Path:
    return Path(__file__).parent / "models" / "minilm-static-64.npz"


@dataclass(frozen=True, eq=False)
class TokenTable:
    """One process-wide, read-only table (compared by identity: it holds an array)."""

    vocabulary: tuple[str, ...]
    rows: np.ndarray  # float32, read-only, one unit-length row per vocabulary id
    digest: str

    @cached_property
    def tokenizer(self) -> WordPiece:
        return WordPiece(self.vocabulary)


def load_token_table(path: Path | None = None) -> TokenTable:
    """The table at `path` (the shipped one by default), read once per process."""
    return _load_table((path or default_table_path()).resolve())


def unload_token_tables() -> None:
    """Forget the tables read so far (the next load reads the file: cold-load benchmarks)."""
    _load_table.cache_clear()


@lru_cache(maxsize=2)
def _load_table(path: Path) -> TokenTable:
    if not path.is_file():
        raise ModelNotFoundError(f"token table not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            words = bytes(data["vocabulary"])
            table = data["table"]
        vocabulary = tuple(words.decode().split("\n"))
        if (header.get("format") != TABLE_FORMAT
                or table.shape != (len(vocabulary), header["dims"])):
            raise DataError(f"{path} is not a thinkswitch token table")
        digest = hashlib.sha256(words + table.tobytes()).hexdigest()[:16]
        expected, scale = header["sha256"], float(header["scale"])
    except DataError:
        raise
    except Exception as error:  # a truncated or foreign file, a header without its keys
        raise DataError(f"cannot read token table {path}: {error}") from None
    if digest != expected:
        raise DataError(f"token table {path} is damaged (checksum {digest}, expected {expected})")
    rows = table.astype(np.float32) * np.float32(scale)
    rows.setflags(write=False)
    return TokenTable(vocabulary, rows, digest)


@dataclass(frozen=True, eq=False)
class StaticFeatures:
    """Features = mean of the text's token rows, read from at most CLIP_CHARS characters
    (the first and last half, tokenized apart)."""

    kind: ClassVar[str] = "static"
    #: Inverse regularisation of the logistic gain model: the best of 1 / 3 / 10 / 30 scored
    #: leave-one-exam-out on concise_cot (optimistic); chosen on the other exams only, each
    #: fold picks 10 or 30 (bench/triage_regularization.py).
    regularization: ClassVar[float] = 10.0
    table: TokenTable

    @classmethod
    def shipped(cls) -> StaticFeatures:
        return cls(load_token_table())

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> StaticFeatures:
        features = cls.shipped()
        if header.get("table") != features.table.digest:
            raise DataError(f"model was trained on token table {header.get('table')}, but "
                            f"this thinkswitch ships {features.table.digest}; retrain it")
        return features

    def header(self) -> dict[str, Any]:
        return {"kind": self.kind, "table": self.table.digest}

    @property
    def size(self) -> int:
        return int(self.table.rows.shape[1])

    def _tokens(self, text: str) -> Split:
        words: list[str] = []
        pieces: list[tuple[int, ...]] = []
        for part in clip_halves(text):
            part_words, part_pieces = self.table.tokenizer.split(part)
            words += part_words
            pieces += part_pieces
        return words, pieces

    def _vector(self, pieces: list[tuple[int, ...]]) -> np.ndarray:
        ids = [i for word_ids in pieces for i in word_ids]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        result: np.ndarray = self.table.rows[ids].mean(axis=0)
        return result

    def transform(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._vector(self._tokens(text)[1]) for text in texts]).astype(
            np.float64)

    def read(self, text: str) -> Reading:
        words, pieces = self._tokens(text)
        return Reading(text, np.arange(self.size), self._vector(pieces).astype(np.float64),
                       (words, pieces))

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        reading = self.read(text)
        return reading.index, reading.values

    def word_shares(self, reading: Reading, weights: np.ndarray) -> dict[str, float]:
        """Each distinct word's share of `features @ weights`; the shares sum to it."""
        words, pieces = reading.parts
        ids = [i for word_ids in pieces for i in word_ids]
        per_token = (self.table.rows[ids].astype(np.float64) @ weights) / max(len(ids), 1)
        shares: dict[str, float] = defaultdict(float)
        start = 0
        for word, word_ids in zip(words, pieces, strict=True):
            label = word if len(word) <= LABEL_CHARS else f"{word[:LABEL_CHARS - 1]}…"
            shares[f"'{label}'"] += float(per_token[start:start + len(word_ids)].sum())
            start += len(word_ids)
        return dict(shares)

    def strongest(self, reading: Reading, weights: np.ndarray, top: int) -> Strongest:
        return top_shares(list(self.word_shares(reading, weights).items()), top)
