"""A WordPiece tokenizer (BERT uncased), in plain Python, for the static token table.

It reproduces what `BertTokenizer(do_lower_case=True)` does before ids: clean control
characters, put spaces around CJK ideographs, lowercase, strip accents, split on whitespace
and punctuation, then cut each word greedily into the longest vocabulary pieces (`##` marks a
piece inside a word; a word that cannot be cut is `[UNK]`). Only ids are needed here, never
text back, so there is no decoder.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

UNKNOWN = "[UNK]"
#: BERT's limit: a longer "word" (a URL, a hash) is one unknown token.
MAX_WORD_CHARS = 100


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    # ASCII symbols such as ^ $ ` are not Unicode punctuation, but BERT splits on them too.
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F
            or 0x2B820 <= code <= 0x2CEAF or 0xF900 <= code <= 0xFAFF
            or 0x2F800 <= code <= 0x2FA1F)


def _clean(text: str) -> str:
    out: list[str] = []
    for char in text:
        code = ord(char)
        if code in (0, 0xFFFD):
            continue
        category = unicodedata.category(char)
        if char in "\t\n\r" or category == "Zs":
            out.append(" ")
        elif category.startswith("C"):
            continue
        elif _is_cjk(code):
            out.append(f" {char} ")
        else:
            out.append(char)
    return "".join(out)


def _strip_accents(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word)
                   if unicodedata.category(c) != "Mn")


#: For ASCII text the rules above reduce to: drop control characters, lowercase, and take
#: runs of letters and digits or single symbols (every printable non-alphanumeric is one).
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_WORD = re.compile(r"[a-z0-9]+|[!-/:-@\[-`{-~]")


def basic_words(text: str) -> list[str]:
    """Lowercased, accent-free words and single punctuation marks."""
    return _ascii_words(text) if text.isascii() else _unicode_words(text)


def _ascii_words(text: str) -> list[str]:
    words: list[str] = _ASCII_WORD.findall(_ASCII_CONTROL.sub("", text).lower())
    return words


def _unicode_words(text: str) -> list[str]:
    words: list[str] = []
    for raw in _clean(text).split():
        word = _strip_accents(raw.lower())
        current: list[str] = []
        for char in word:
            if _is_punctuation(char):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(char)
            else:
                current.append(char)
        if current:
            words.append("".join(current))
    return words


class WordPiece:
    """Text to vocabulary ids, greedy longest match first."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        self.ids = {piece: index for index, piece in enumerate(vocabulary)}
        if UNKNOWN not in self.ids:
            raise ValueError(f"a WordPiece vocabulary needs {UNKNOWN}")
        self.unknown = self.ids[UNKNOWN]
        self.longest = max(len(piece) for piece in vocabulary)
        self.word_ids = lru_cache(maxsize=65536)(self._cut)

    def __call__(self, text: str) -> list[int]:
        return [i for pieces in self.split(text)[1] for i in pieces]

    def split(self, text: str) -> tuple[list[str], list[tuple[int, ...]]]:
        """The basic words of `text` and each word's piece ids."""
        words = basic_words(text)
        return words, [self.word_ids(word) for word in words]

    def _cut(self, word: str) -> tuple[int, ...]:
        """One basic word's piece ids (cached per word as `word_ids`)."""
        if len(word) > MAX_WORD_CHARS:
            return (self.unknown,)
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = min(len(word), start + self.longest)
            found = None
            while end > start:
                piece = word[start:end] if start == 0 else f"##{word[start:end]}"
                found = self.ids.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                return (self.unknown,)
            pieces.append(found)
            start = end
        return tuple(pieces)
