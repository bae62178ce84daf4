"""Static token-embedding features: the mean of a text's MiniLM token rows (no torch).

The table (`models/minilm-static-64.npz`, built by `scripts/build_token_table.py`) holds one
64-d row per WordPiece token, distilled from all-MiniLM-L6-v2. A text's feature vector is the
mean of its tokens' rows, so a linear model on it is a per-token score: every word's share of
a decision can be named exactly, which is how `learned` explains itself with these features.
Under leave-one-exam-out on concise_cot they rank better than hashed n-grams (README).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from thinkswitch.errors import DataError, ModelNotFoundError
from thinkswitch.triage.features import Strongest, clip, strongest
from thinkswitch.triage.wordpiece import WordPiece

TABLE_FORMAT = "thinkswitch-token-table/1"


def default_table_path() -> Path:
    return Path(__file__).parent / "models" / "minilm-static-64.npz"


@dataclass(frozen=True)
class TokenTable:
    vocabulary: tuple[str, ...]
    rows: np.ndarray  # float32, one unit-length row per vocabulary id
    digest: str

    @cached_property
    def tokenizer(self) -> WordPiece:
        return WordPiece(self.vocabulary)

    @cached_property
    def split(self) -> Callable[[str], tuple[list[str], list[tuple[int, ...]]]]:
        """`tokenizer.split`, remembering the last few texts: a decision reads its text
        twice (to score it, then to explain the score)."""
        return lru_cache(maxsize=16)(self.tokenizer.split)


@lru_cache(maxsize=2)
def load_token_table(path: Path | None = None) -> TokenTable:
    """The table at `path` (the shipped one by default), read once per process."""
    path = path or default_table_path()
    if not path.is_file():
        raise ModelNotFoundError(f"token table not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            words = bytes(data["vocabulary"])
            table = data["table"]
    except Exception as error:  # a truncated or foreign file
        raise DataError(f"cannot read token table {path}: {error}") from None
    vocabulary = tuple(words.decode().split("\n"))
    if header.get("format") != TABLE_FORMAT or table.shape != (len(vocabulary), header["dims"]):
        raise DataError(f"{path} is not a thinkswitch token table")
    digest = hashlib.sha256(words + table.tobytes()).hexdigest()[:16]
    if digest != header["sha256"]:
        raise DataError(f"token table {path} is damaged (checksum {digest}, "
                        f"expected {header['sha256']})")
    rows = table.astype(np.float32) * np.float32(header["scale"])
    return TokenTable(vocabulary, rows, digest)


@dataclass(frozen=True)
class StaticFeatures:
    """Features = mean of the text's token rows, read from at most CLIP_CHARS characters."""

    kind: ClassVar[str] = "static"
    #: Inverse regularisation of the logistic gain model; chosen by nested leave-one-exam-out
    #: on concise_cot (each outer fold picked 10 or 30 from 1-30 on its own training exams).
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

    def _vector(self, text: str) -> np.ndarray:
        ids = [i for pieces in self.table.split(clip(text))[1] for i in pieces]
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        result: np.ndarray = self.table.rows[ids].mean(axis=0)
        return result

    def transform(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._vector(text) for text in texts]).astype(np.float64)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        return np.arange(self.size), self._vector(text).astype(np.float64)

    def strongest(self, text: str, weights: np.ndarray, top: int) -> Strongest:
        """Words by their share of `features @ weights` (the shares sum to it exactly)."""
        words, pieces = self.table.split(clip(text))
        ids = [i for word_ids in pieces for i in word_ids]
        per_token = (self.table.rows[ids] @ weights.astype(np.float32)) / max(len(ids), 1)
        shares: dict[str, float] = defaultdict(float)
        start = 0
        for word, word_ids in zip(words, pieces, strict=True):
            shares[f"'{word}'"] += float(per_token[start:start + len(word_ids)].sum())
            start += len(word_ids)
        return strongest(list(shares.items()), top)
