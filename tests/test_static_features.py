"""The WordPiece tokenizer and the static MiniLM token table behind `learned`'s features.

Expected pieces were produced by the reference `transformers` BertTokenizer with the same
vocabulary (all-MiniLM-L6-v2); on 3,474 texts of the shared data the two agree exactly
(checked when the table was built, see scripts/build_token_table.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from thinkswitch.kernel.errors import DataError, ModelNotFoundError
from thinkswitch.triage.static_features import (
    StaticFeatures,
    default_table_path,
    load_token_table,
)
from thinkswitch.triage.wordpiece import WordPiece, basic_words


@pytest.fixture(scope="module")
def features() -> StaticFeatures:
    return StaticFeatures.shipped()


@pytest.mark.parametrize(("text", "pieces"), [
    ("Tokenization isn't hard!", ["token", "##ization", "isn", "'", "t", "hard", "!"]),
    ("Crème brûlée at Café Zoë costs $4.50",
     ["cr", "##eme", "br", "##ule", "##e", "at", "cafe", "zoe", "costs", "$", "4", ".", "50"]),
    ("x^2+3x=10 東京", ["x", "^", "2", "+", "3", "##x", "=", "10", "東", "京"]),
    ("a" * 120 + " ok", ["[UNK]", "ok"]),
    ("qwxzvbk", ["q", "##w", "##x", "##z", "##vb", "##k"]),
    ("ab\x0bcd ef\x1fgh\x7fij\x0c k", ["abc", "##d", "e", "##f", "##ghi", "##j", "k"]),
    ("C++ & Rust's `fn`", ["c", "+", "+", "&", "rust", "'", "s", "`", "f", "##n", "`"]),
    ("", []),
    (" \t\n\x00 ", []),
])
def test_pieces_match_the_reference_bert_tokenizer(features: StaticFeatures, text: str,
                                                   pieces: list[str]) -> None:
    vocabulary = features.table.vocabulary
    assert [vocabulary[i] for i in features.table.tokenizer(text)] == pieces


def test_basic_words_split_punctuation_and_strip_accents() -> None:
    assert basic_words("Héllo,   WORLD!!") == ["hello", ",", "world", "!", "!"]
    tokenizer = WordPiece(["[UNK]", "play", "##ing", "##s"])
    assert tokenizer("playing plays player") == [1, 2, 1, 3, 0]
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        WordPiece(["a", "b"])


def test_table_loads_once_and_is_unit_length(features: StaticFeatures) -> None:
    table = features.table
    assert load_token_table() is table is load_token_table(default_table_path())
    assert not table.rows.flags.writeable  # shared by every request of the process
    assert table.rows.shape == (len(table.vocabulary), 64) == (30522, 64)
    norms = np.linalg.norm(table.rows, axis=1)
    assert np.allclose(norms, 1.0, atol=0.03)
    assert default_table_path().stat().st_size < 2 * 1024 * 1024


def test_a_text_is_the_mean_of_its_token_rows(features: StaticFeatures) -> None:
    text = "If 3x + 5 = 11, what is x?"
    ids = features.table.tokenizer(text)
    expected = features.table.rows[ids].mean(axis=0)
    index, values = features.row(text)
    assert np.array_equal(index, np.arange(64))
    assert np.allclose(values, expected)
    assert np.allclose(features.transform([text, ""]), [expected, np.zeros(64)])


def test_word_shares_sum_to_the_linear_score(features: StaticFeatures) -> None:
    weights = np.random.default_rng(0).normal(size=64)
    text = "A shirt costs $20 and is discounted by 15%. What is the new price of the shirt?"
    shares = features.word_shares(features.read(text), weights)
    _, values = features.row(text)
    assert abs(sum(shares.values()) - float(values @ weights)) < 1e-5
    assert set(shares) == {f"'{w}'" for w in basic_words(text)}
    up, down = features.strongest(features.read(text), weights, top=3)
    assert len(up) <= 3 and len(down) <= 3
    assert [s for _, s in up] == sorted((s for _, s in up), reverse=True)
    assert all(shares[name] == share for name, share in up + down)


def test_a_long_text_is_its_two_ends_without_a_marker(features: StaticFeatures) -> None:
    head, tail = "word " * 100, " bird" * 100  # 500 characters each: the two kept halves
    text = head + "middle " * 500 + tail
    vocabulary = features.table.vocabulary
    ids = [i for pieces in features._tokens(text)[1] for i in pieces]
    seen = {vocabulary[i] for i in ids}
    assert seen == {"word", "bird"} and "…" not in seen
    assert np.allclose(features.row(text)[1], features.table.rows[ids].mean(axis=0))
    shares = features.word_shares(features.read("x" * 300 + " ok"), np.ones(64))
    assert max(len(name) for name in shares) <= 24 + 2


def test_the_ascii_shortcut_equals_the_unicode_rules() -> None:
    from thinkswitch.triage.wordpiece import _ascii_words, _unicode_words

    for code in range(128):
        char = chr(code)
        for text in (char, f"ab{char}cd", f"x {char} Y", f"{char}{char}9"):
            assert _ascii_words(text) == _unicode_words(text), repr(text)


def test_missing_damaged_and_foreign_tables(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="token table not found"):
        load_token_table(tmp_path / "none.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DataError, match="cannot read token table"):
        load_token_table(garbage)
    with np.load(default_table_path(), allow_pickle=False) as data:
        parts = {key: data[key] for key in data.files}
    parts["table"] = parts["table"].copy()
    parts["table"][5, 3] += 1
    damaged = tmp_path / "damaged.npz"
    np.savez(damaged, **parts)
    with pytest.raises(DataError, match="damaged"):
        load_token_table(damaged)
    header = json.loads(bytes(parts["header"]).decode())
    keyless = tmp_path / "keyless.npz"
    np.savez(keyless, **{**parts, "header": np.frombuffer(json.dumps(
        {"format": header["format"]}).encode(), dtype=np.uint8)})
    with pytest.raises(DataError, match=r"cannot read token table .*'dims'"):
        load_token_table(keyless)
    header["format"] = "something-else"
    parts["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, **parts)
    with pytest.raises(DataError, match="not a thinkswitch token table"):
        load_token_table(foreign)


def test_a_model_from_another_table_is_refused() -> None:
    with pytest.raises(DataError, match="retrain it"):
        StaticFeatures.from_header({"kind": "static", "table": "0000000000000000"})
