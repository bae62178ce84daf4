"""Learning from the traffic, safely: the shipped prior knows what it does not know; outcome
files with question text train and evaluate; `train --from-traces`, the promotion guard, and a
running server that takes the promoted policy on the next request (real uvicorn, the OpenAI
SDK, a real SQLite store, the replay engine of recorded real answers)."""

from __future__ import annotations

import csv
import os
import signal
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from openai import OpenAI
from support.cli import REPLAY_DATA, assert_one_line_error, thinkswitch
from support.live_server import live_server

from thinkswitch.cli.serve_cmd import build_server, reload_on_hangup
from thinkswitch.engines.replay import ReplayEngine
from thinkswitch.kernel.errors import DataError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.outcomes.paired import load_paired
from thinkswitch.settings import default_data_dir
from thinkswitch.shadow.promotion import PROMOTION, promote
from thinkswitch.trace.backends import open_store
from thinkswitch.triage.examples import LabelledExample, from_table
from thinkswitch.triage.guard import Block, GuardOptions, judge
from thinkswitch.triage.label_permutation import correlation
from thinkswitch.triage.learned import LearnedModel, LearnedPolicy
from thinkswitch.triage.promotion import guard, load_candidate
from thinkswitch.triage.trace_training import shuffled, train_on_examples

DATA = default_data_dir()
needs_data = pytest.mark.skipif(not (DATA / "outcomes").is_dir(), reason="shared data absent")
needs_replay = pytest.mark.skipif(not REPLAY_DATA.is_dir(), reason="shared outcome data absent")
KEY = "admin-test-key"


def decide(text: str) -> tuple[str, str]:
    decision = LearnedPolicy.from_path().decide((ChatMessage(role="user", content=text),), 1024)
    return decision.mode, decision.reason


@pytest.mark.parametrize("request_text", [
    "Write a Python function that checks whether a string is a palindrome.",
    "Implement quicksort in Python and explain its complexity.",
    "Fix the bug: def add(a,b): return a-b",
])
def test_an_unfamiliar_request_that_looks_like_work_thinks_and_says_why(
        request_text: str) -> None:
    mode, reason = decide(request_text)
    assert mode == "on"
    assert "unfamiliar kind of request: thinking by default" in reason
    assert "new to this model" in reason


@pytest.mark.parametrize("request_text", [
    "Translate 'good morning' into French.", "Hi there! How are you doing today?",
    "Who wrote Pride and Prejudice?"])
def test_an_unfamiliar_request_that_is_not_work_answers_directly(request_text: str) -> None:
    mode, reason = decide(request_text)
    assert mode == "off"
    assert "thinking by default" not in reason


def test_bare_arithmetic_is_said_to_think_because_it_is_work_like() -> None:
    """The reason leads with the strongest cause: the work prior's share of the score
    outweighs the model's here, so it says arithmetic is work before any familiarity."""
    mode, reason = decide("What is 17 * 23?")
    assert mode == "on"
    lead = reason.split("; ", 1)[1]
    assert lead.startswith("work-like request (arithmetic or math): thinking pays off"), reason
    assert "partly unfamiliar" not in reason and "by default" not in reason


def test_a_familiar_exam_question_is_scored_by_the_model_alone() -> None:
    mode, reason = decide("If 5 pencils cost $2.50, how much do 12 cost?\nA. $5\nB. $6\nC. $7")
    assert "unfamiliar" not in reason and mode == "on"


# --- replay:file with question text --------------------------------------------------------

@needs_data
def test_an_outcome_file_with_question_text_trains_and_evaluates(tmp_path: Path) -> None:
    full = load_paired(DATA, "replay:concise_cot/gpt-35-turbo")
    exams = ("aqua-rat-100", "sat-math-100", "lsat-ar-100", "logiqa-en-100")
    table = replace(full, items=tuple(i for i in full.items if i.group in exams))
    path = tmp_path / "mine.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[
            "model", "mode", "id", "correct", "output_tokens_total", "question", "group"])
        writer.writeheader()
        for item in table.items:
            for mode, outcome in (("no_think", item.off), ("budget1024", item.on)):
                writer.writerow({"model": "my-model", "mode": mode, "id": item.id,
                                 "correct": outcome.correct,
                                 "output_tokens_total": outcome.tokens,
                                 "question": item.question, "group": item.group})
    mine = load_paired(DATA, f"replay:file:{path}")
    assert len(mine.items) == len(table.items) and mine.items[0].question
    assert {item.group for item in mine.items} == set(exams)

    model = tmp_path / "model.npz"
    trained = thinkswitch("triage", "train", "--outcomes", str(path), "--out", str(model))
    assert trained.returncode == 0, trained.stderr
    assert f"on {len(table.items)} questions" in trained.stdout
    evaluated = thinkswitch("triage", "eval", "--suite", f"replay:file:{path}", "--split",
                            "group")
    assert evaluated.returncode == 0, evaluated.stderr
    apgr = float(evaluated.stdout.split("APGR ")[1].split()[0])
    assert apgr > 0.6  # the text is read: no longer every question alike (0.500)


# --- training from traces, the guard, promotion ---------------------------------------------

def synthetic_examples(count: int = 400) -> list[LabelledExample]:
    """Real exam questions (the shorter ones: the work cues' patterns are slow on long
    passages); thinking pays exactly on the math exams' (a learnable rule)."""
    table = load_paired(DATA, "replay:concise_cot/gpt-35-turbo")
    rng = np.random.default_rng(3)
    short = [item for item in table.items if len(item.question) < 400]
    items = [short[i] for i in rng.permutation(len(short))[:count]]
    examples = []
    for at, item in enumerate(items):
        pays = item.group in ("aqua-rat-100", "sat-math-100")
        examples.append(LabelledExample(
            item.id, item.question, "off", 0.0 if pays else 1.0, 1.0, None, 0.5, at + 1.0,
            10.0, 500.0))
    return examples


@needs_data
def test_the_guard_promotes_a_model_that_learned_and_refuses_shuffled_labels() -> None:
    examples = synthetic_examples()
    live = LearnedPolicy.from_path().model
    good = train_on_examples(examples, holdout=0.3, version="good").model
    bad = train_on_examples(shuffled(examples, seed=0), holdout=0.3, version="bad").model
    assert good.meta["trained_until"] == bad.meta["trained_until"] == 280.0
    verdict = guard(live, good, examples)
    # rolling origin: 5 blocks of 80 by time, the first has nothing older to re-fit on
    assert verdict.examples == 320 and verdict.promote, verdict.reason
    assert verdict.learned_low > 0.02  # the prior knows these exams already: no gain over it
    refused = guard(live, bad, examples)
    assert not refused.promote and "not trained on these labels" in refused.reason, refused.reason
    everything = train_on_examples(examples, holdout=0.0, version="all").model
    assert guard(live, everything, examples).promote


@needs_data
def test_the_guard_refuses_with_too_few_unseen_pairs() -> None:
    examples = synthetic_examples(15)
    good = train_on_examples(examples, holdout=0.0, version="good").model
    verdict = guard(LearnedPolicy.from_path().model, good, examples, GuardOptions())
    # 5 blocks of 3 by time; only the last has 10 older pairs to re-fit on: 3 are judged
    assert not verdict.promote and "only 3 labelled pairs" in verdict.reason


def test_a_corrupt_or_foreign_candidate_is_refused(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="refused candidate"):
        load_candidate(corrupt)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(DataError, match=r"refused candidate .*foreign\.npz"):
        load_candidate(foreign)
    run = thinkswitch("triage", "promote", str(foreign), "--db", str(tmp_path / "t.sqlite"))
    assert_one_line_error(run, 2, "no trace store")


def test_train_from_traces_errors_are_one_line(tmp_path: Path) -> None:
    db = tmp_path / "empty.sqlite"
    open_store(db).close()
    out = str(tmp_path / "m.npz")
    assert_one_line_error(thinkswitch("triage", "train", "--from-traces", "--db", str(db),
                                      "--out", out), 2, "is empty")
    assert_one_line_error(thinkswitch("triage", "train", "--from-traces", "--db", str(db),
                                      "--since", "yesterday", "--out", out), 2, "--since")
    assert_one_line_error(thinkswitch("triage", "train", "--from-traces", "--db",
                                      str(tmp_path / "none.sqlite"), "--out", out), 2,
                          "no trace store")
    assert_one_line_error(thinkswitch("triage", "train", "--out", out), 2, "nothing to train")


def ask(client: OpenAI, question: str) -> str:
    response = client.chat.completions.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": question}])
    decision = response.model_extra["thinkswitch"]["decision"]  # type: ignore[index]
    return str(decision["policy"])


@needs_replay
def test_train_promote_reload_is_seen_by_the_next_request(tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite"
    app, _ = build_server(None, {"engine": "replay", "model": "gemini-2.5-flash",
                                 "trace_db": str(db), "shadow_rate": 1.0},
                          {"api_keys": (KEY,)})
    questions = ReplayEngine(default_data_dir(), "gemini-2.5-flash").questions()[:40]
    with live_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key=KEY)
        for question in questions[:-1]:
            assert ask(client, question) == "learned@v3"
            assert app.state.shadow.wait_idle(30)
        trained = thinkswitch("triage", "train", "--from-traces", "--db", str(db), "--out",
                              str(tmp_path / "candidate.npz"), "--version", "from-traffic")
        assert trained.returncode == 0, trained.stderr
        store = open_store(db)
        try:
            pairs = len(store.shadow_pairs())
        finally:
            store.close()
        held = round(0.25 * pairs)
        assert pairs >= 35  # one pair per request at shadow rate 1 (a busy skip aside)
        assert f"on {pairs - held} labelled shadow pairs" in trained.stdout
        refused = thinkswitch("triage", "promote", str(tmp_path / "candidate.npz"), "--db",
                              str(db), "--policy-dir", str(tmp_path / "policies"),
                              "--min-pairs", "1000")
        assert refused.returncode == 1 and "the guard needs 1000" in refused.stdout
        forced = thinkswitch("triage", "promote", str(tmp_path / "candidate.npz"), "--db",
                             str(db), "--policy-dir", str(tmp_path / "policies"), "--force")
        assert forced.returncode == 0, forced.stderr
        assert ask(client, questions[0]) == "learned@v3"  # not reloaded yet

        no_key = httpx.post(f"{url}/admin/policy/reload")
        assert no_key.status_code == 401 and no_key.json()["error"]["message"]
        reloaded = httpx.post(f"{url}/admin/policy/reload",
                              headers={"Authorization": f"Bearer {KEY}"})
        assert reloaded.status_code == 200, reloaded.text
        assert "now serving learned@from-traffic" in reloaded.json()["policy"]
        assert ask(client, questions[-1]) == "learned@from-traffic"
    store = open_store(db)
    try:
        promotion = store.records(policy=PROMOTION, limit=1)[0]
        body = promotion.answer
        assert isinstance(body, dict) and body["forced"] is True
        assert len(body["candidate_sha256"]) == len(body["live_sha256"]) == 64
        latest = next(r for r in store.records() if r.kind == "request")
        assert latest.decision["policy"] == "learned@from-traffic"
    finally:
        store.close()


@needs_replay
def test_sighup_reloads_and_a_server_without_keys_refuses_admin(tmp_path: Path) -> None:
    db = tmp_path / "traces.sqlite"
    app, _ = build_server(None, {"engine": "replay", "model": "gemini-2.5-flash",
                                 "trace_db": str(db)}, {})
    previous = signal.getsignal(signal.SIGHUP)
    reload_on_hangup(app)
    try:
        model = LearnedPolicy.from_path().model
        candidate = tmp_path / "c.npz"
        replace(model, version="hup").save(candidate)
        store = open_store(db)
        try:
            _, record = promote(store, candidate, tmp_path / "policies", None, force=True,
                                examples=from_table(load_paired(DATA, "replay:simpleqa/"
                                                                "gemini-2.5-flash")))
            assert record is not None
        finally:
            store.close()
        with live_server(app) as url:
            client = OpenAI(base_url=f"{url}/v1", api_key="unused")
            question = ReplayEngine(default_data_dir(), "gemini-2.5-flash").questions()[0]
            assert ask(client, question) == "learned@v3"
            os.kill(os.getpid(), signal.SIGHUP)
            assert ask(client, question) == "learned@hup"
            refused = httpx.post(f"{url}/admin/policy/reload")
            assert refused.status_code == 403
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_model_file_round_trips_its_familiarity(tmp_path: Path) -> None:
    model = LearnedPolicy.from_path().model
    assert model.familiarity is not None and "code" not in model.familiarity.support
    model.save(tmp_path / "m.npz")
    again = LearnedModel.load(tmp_path / "m.npz")
    assert again.familiarity is not None
    assert again.familiarity.support == model.familiarity.support
    text = ["Write a function to reverse a linked list."]
    assert np.allclose(again.scores(text), model.scores(text), atol=1e-5)


def test_the_guard_refuses_a_candidate_whose_scores_do_not_follow_its_recipe() -> None:
    """Two rankings that both put every pair where thinking pays first (so each beats random
    and gains as much as the other) but order the pairs within each class independently:
    a file trained on other labels can rank the store's labels that well by chance, yet it
    does not reproduce the recipe re-fit on them; the same scores as the re-fit pass."""
    rng = np.random.default_rng(5)
    pays = rng.random(200) < 0.5
    examples = [LabelledExample(f"q{i}", f"question {i}", "off", 0.0 if p else 1.0, 1.0, None,
                                0.5, float(i), 10.0, 500.0) for i, p in enumerate(pays)]
    mine = pays + rng.uniform(0, 0.9, 200)
    refit = pays + rng.uniform(0, 0.9, 200)
    assert 0.6 < correlation(mine, refit) < 0.9
    null = [rng.permutation(pays) + rng.uniform(0, 0.9, 200) for _ in range(19)]
    blocks = [Block(examples, mine, mine)]
    trained_on = Block(examples, np.zeros(200), mine)
    refused = judge(blocks, GuardOptions(), trained_on, None,
                    Block(examples, np.zeros(200), refit), null)
    assert not refused.promote and "follow its recipe" in refused.reason, refused.reason
    same = judge(blocks, GuardOptions(), trained_on, None, Block(examples, np.zeros(200), mine),
                 null)
    assert same.promote, same.reason
    assert correlation(np.ones(3), np.ones(3)) == 1.0 and correlation(np.ones(3), mine[:3]) == 0.0


@needs_data
def test_on_few_pairs_the_guard_promotes_a_real_candidate_and_refuses_shuffled_ones() -> None:
    """60 pairs where thinking pays exactly on the math exams' questions (the answer is
    known): the candidate trained on them passes the permutation test (it reproduces its
    re-fit, z at the clip), and none trained on shuffled copies does (each is a draw of the
    test's null)."""
    examples = synthetic_examples(60)
    live = LearnedPolicy.from_path().model
    good = train_on_examples(examples, holdout=0.0, version="good").model
    verdict = guard(live, good, examples)
    assert verdict.promote, verdict.reason
    assert verdict.agreement_z > verdict.null_bound
    for seed in range(5):
        bad = train_on_examples(shuffled(examples, seed), holdout=0.0, version="bad").model
        refused = guard(live, bad, examples, GuardOptions(seed=seed))
        assert not refused.promote and "not trained on these labels" in refused.reason, (
            refused.reason)
