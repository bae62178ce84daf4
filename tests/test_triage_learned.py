"""The learned policy: training, saving, loading, calibration, leak-free splits, explanations."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import DataError, ModelNotFoundError, UsageError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.outcomes.paired import Outcome, PairedItem, PairedTable
from thinkswitch.triage import training
from thinkswitch.triage.features import FeatureSpace
from thinkswitch.triage.learned import LearnedModel, LearnedPolicy, default_model_path
from thinkswitch.triage.tiers import TierModel, is_tier_file
from thinkswitch.triage.training import calibrate_threshold, folds_for, out_of_fold_scores

MATH = [
    "A train travels {a} km in {b} hours. What is its average speed?",
    "Tom has {a} apples and buys {b} more boxes of 6. How many apples now?",
    "If 3x + {a} = {b}, what is x?",
    "A shirt costs ${a} and is discounted by {b}%. What is the new price?",
]
READING = [
    "Which word best describes the author's tone in passage {a}?",
    "What is the capital of country number {a}?",
    "Who wrote the novel discussed in paragraph {b}?",
    "Which statement best summarizes the argument of the essay?",
]


def synthetic(n: int = 40) -> PairedTable:
    """Thinking turns wrong into right on the math questions only."""
    items = []
    for i in range(n):
        math_q = i % 2 == 0
        template = (MATH if math_q else READING)[i % 4]
        question = template.format(a=i + 3, b=2 * i + 5)
        off = Outcome(0.0 if math_q else 1.0, 10)
        on = Outcome(1.0, 300 if math_q else 900)
        items.append(PairedItem(str(i), question, "math" if math_q else "reading", off, on))
    return PairedTable("synthetic", "off", "on", tuple(items))


@pytest.fixture(scope="module")
def model() -> LearnedModel:
    return training.train([synthetic()], version="test")


def test_learned_policy_thinks_on_math_and_not_on_reading(model: LearnedModel) -> None:
    policy = LearnedPolicy(model)
    math_decision = policy.decide((ChatMessage(role="user", content=(
        "A car travels 150 km in 3 hours. What is its average speed?")),), 4096)
    reading = policy.decide((ChatMessage(role="user", content=(
        "Which word best describes the author's tone in the first passage?")),), 4096)
    assert math_decision.mode == "on" and reading.mode == "off"
    assert math_decision.score is not None and reading.score is not None
    assert math_decision.score > 0.5 > reading.score
    assert math_decision.policy == "learned@test"
    assert math_decision.budget in (256, 1024, 4096)
    assert "for thinking:" in math_decision.reason and "score" in math_decision.reason
    capped = policy.decide((ChatMessage(role="user", content=(
        "A car travels 150 km in 3 hours. What is its average speed?")),), 100)
    assert capped.budget == 100


@pytest.mark.parametrize("kind", ["static", "hashed"])
def test_train_save_load_gives_identical_decisions(kind: str, tmp_path: Path) -> None:
    from thinkswitch.triage.learned import new_featurizer

    model = training.train([synthetic()], version="test", features=new_featurizer(kind))
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = LearnedModel.load(path)
    assert loaded.features.kind == kind
    questions = [item.question for item in synthetic(12).items] + ["hello there"]
    assert np.allclose(model.scores(questions), loaded.scores(questions), atol=1e-5)
    policy, again_policy = LearnedPolicy(model), LearnedPolicy(loaded)
    for question in questions:
        asked = (ChatMessage(role="user", content=question),)
        assert policy.decide(asked, 4096) == again_policy.decide(asked, 4096)
    assert loaded.version == "test" and loaded.trained_on == ("synthetic",)
    again = training.train([synthetic()], version="test", features=new_featurizer(kind))
    assert np.array_equal(model.gain, again.gain), "training is deterministic"


def test_hashed_model_explains_with_ngrams_and_old_files_still_load(tmp_path: Path) -> None:
    hashed = training.train([synthetic()], version="h", features=FeatureSpace())
    reason = LearnedPolicy(hashed).decide((ChatMessage(role="user", content=(
        "A train travels 120 km in 2 hours. What is its average speed?")),), 4096).reason
    assert "for thinking: " in reason and ("words '" in reason or "chars '" in reason
                                          or "cue: " in reason)
    # A format-1 file (before the featurizer was recorded) is read as hashed features.
    path = tmp_path / "v1.npz"
    hashed.save(path)
    with np.load(path, allow_pickle=False) as data:
        parts = {key: data[key] for key in data.files}
    header = json.loads(bytes(parts["header"]).decode())
    header.update(format="thinkswitch-learned-triage/1", **header.pop("features"))
    parts["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **parts)
    old = LearnedModel.load(path)
    assert isinstance(old.features, FeatureSpace)
    assert np.allclose(old.scores(["If 2x = 6, what is x?"]),
                       hashed.scores(["If 2x = 6, what is x?"]))


def test_shipped_model_loads_fast_and_decides() -> None:
    started = time.perf_counter()
    policy = LearnedPolicy.from_path()
    assert time.perf_counter() - started < 2.0
    assert default_model_path().stat().st_size < 64 * 1024
    assert policy.model.features.kind == "static"
    decision = policy.decide((ChatMessage(role="user", content=(
        "If 5 pencils cost $2.50, how much do 12 pencils cost?")),), 1024)
    assert decision.policy == "learned@v3"
    assert decision.mode == "on" and "'cost'" in decision.reason
    recall = policy.decide((ChatMessage(role="user", content=(
        "What is the capital of France?")),), 1024)
    assert recall.mode == "off" and recall.score is not None and decision.score is not None
    assert recall.score < policy.threshold <= decision.score


def test_calibration_hits_the_target_rate(model: LearnedModel) -> None:
    dev = [item.question for item in synthetic(200).items]
    rng = np.random.default_rng(0)
    scores = model.scores(dev) + rng.normal(0, 0.01, len(dev))
    for rate in (0.1, 0.3, 0.5, 0.8):
        threshold = calibrate_threshold(list(scores), rate)
        achieved = float(np.mean(scores >= threshold))
        assert abs(achieved - rate) <= 0.02
    with pytest.raises(UsageError, match="strictly between 0 and 1"):
        calibrate_threshold(list(scores), 1.0)
    with pytest.raises(UsageError, match="strictly between 0 and 1"):
        calibrate_threshold(list(scores), 0.0)


@pytest.mark.parametrize("split", ["question", "group"])
def test_splits_never_leak_a_question(split: str, monkeypatch: pytest.MonkeyPatch) -> None:
    table = synthetic(30)
    table = PairedTable(table.name, "off", "on", tuple(
        PairedItem(i.id, i.question, f"g{int(i.id) % 3}", i.off, i.on) for i in table.items))
    folds = folds_for(table, split, 5, 0)  # type: ignore[arg-type]
    held = np.concatenate(folds)
    assert sorted(held.tolist()) == list(range(30)), "every question is held out exactly once"
    seen: list[tuple[set[str], set[str]]] = []
    real_train = training.train

    def spy(tables: list[PairedTable], version: str = "x", features: Any = None
            ) -> LearnedModel:
        seen.append(({i.id for t in tables for i in t.items}, set()))
        return real_train(tables, version, features)

    monkeypatch.setattr(training, "train", spy)
    scores = out_of_fold_scores(table, split, 5, 0)  # type: ignore[arg-type]
    assert len(seen) == len(folds)
    for (trained_ids, _), fold in zip(seen, folds, strict=True):
        assert trained_ids.isdisjoint({table.items[i].id for i in fold})
    assert scores.shape == (30,)


def test_bad_model_files(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="triage model not found"):
        LearnedModel.load(tmp_path / "missing.npz")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a model at all")
    with pytest.raises(DataError, match="cannot read triage model"):
        LearnedModel.load(corrupt)
    other = tmp_path / "other.npz"
    np.savez(other, header=np.frombuffer(b'{"format": "x"}', dtype=np.uint8))
    with pytest.raises(DataError, match="not a thinkswitch learned-triage model"):
        LearnedModel.load(other)


def test_truncated_model_files_are_data_errors(tmp_path: Path) -> None:
    """A model file cut short is a zip without its end (zipfile.BadZipFile, neither OSError
    nor ValueError): every model kind refuses it with a DataError, never an internal error."""
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(default_model_path().read_bytes()[:300])
    with pytest.raises(DataError, match="cannot read triage model"):
        LearnedModel.load(truncated)
    with pytest.raises(DataError, match="not a readable budget-tier model"):
        TierModel.load(truncated)
    assert not is_tier_file(truncated)


def test_training_needs_questions() -> None:
    empty = PairedTable("t", "off", "on", (PairedItem("1", "", "g", Outcome(0, 1),
                                                       Outcome(1, 2)),))
    with pytest.raises(DataError, match="no outcome rows with question text"):
        training.train([empty])


@pytest.mark.parametrize("text", ["", "hi", "If 3x + 5 = 11, what is x?\nA. 1\nB. 2",
                                  "word " * 900, "ünïcödé 3/4 of 12 = ?"])
def test_fast_row_equals_the_sklearn_transform(text: str) -> None:
    space = FeatureSpace()
    matrix = space.transform([text]).tocsr()
    index, values = space.row(text)
    dense_a = np.zeros(space.size)
    dense_a[matrix.indices] = matrix.data
    dense_b = np.zeros(space.size)
    dense_b[index] = values
    assert np.allclose(dense_a, dense_b)


@pytest.mark.slow
def test_cli_explain_and_eval(tmp_path: Path) -> None:
    from support.cli import thinkswitch

    run = thinkswitch("triage", "explain", "A car travels 150 km in 3 hours. Average speed?")
    assert run.returncode == 0, run.stderr
    assert "by learned@v3" in run.stdout and "for thinking:" in run.stdout
    unknown = thinkswitch("triage", "train", "--outcomes", "replay:concise_cot/gpt-35-turbo",
                          "--out", str(tmp_path / "m.npz"), "--features", "bag-of-words")
    assert unknown.returncode == 2 and "hashed, static" in unknown.stderr
    bad = thinkswitch("triage", "calibrate", "--rate", "1.5", "--suite",
                      "replay:concise_cot/gpt-35-turbo")
    assert bad.returncode == 2 and "strictly between 0 and 1" in bad.stderr


def test_an_explicit_wish_outranks_the_score() -> None:
    from support.chat import turns

    policy = LearnedPolicy.from_path()

    def ask(*texts: str) -> Decision:
        return policy.decide(turns(*texts), 1024)

    plain, quick = ask("What is 17 * 23?"), ask("Quick answer: what is 17 * 23?")
    assert plain.mode == "on" and quick.mode == "off" and quick.budget is None
    assert quick.score is not None and quick.score >= policy.threshold
    assert quick.reason.startswith("answer directly: asked for a quick answer (score ")
    assert "would think)" in quick.reason
    careful = ask("Think carefully: who wrote Hamlet?")
    assert careful.mode == "on" and careful.budget in (256, 1024)
    assert careful.score is not None and careful.score < policy.threshold
    assert "asked to think carefully (score" in careful.reason
    assert "would not think)" in careful.reason
    assert "asked" not in plain.reason
    # "briefly" in a passage is not an instruction; asking for both leaves it to the score
    passage = ask("A man shakes hands briefly with 5 people. How many handshakes?")
    both = ask("Quick answer, but think carefully: what is 17 * 23?")
    assert "asked" not in passage.reason and "asked" not in both.reason
    assert both.mode == ("on" if both.score is not None and both.score >= policy.threshold
                         else "off")
    # only the last user turn instructs: an earlier "quick answer" does not carry over
    follow = ask("Quick answer: what is 17 * 23?", "391", "and 17 * 24?")
    assert "follow-up" in follow.reason and "asked" not in follow.reason


def test_a_bug_is_one_line_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from thinkswitch.cli import app, triage_cmd

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(triage_cmd, "get_policy", broken)
    monkeypatch.delenv("THINKSWITCH_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        app.main(["triage", "explain", "anything"])
    assert exit_info.value.code == 70
    err = capsys.readouterr().err
    assert err.strip() == ("thinkswitch: internal error: RuntimeError: boom (a bug in "
                           "thinkswitch; THINKSWITCH_DEBUG=1 shows the traceback)")
    monkeypatch.setenv("THINKSWITCH_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        app.main(["triage", "explain", "anything"])
