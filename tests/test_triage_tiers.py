"""Budget tiers in the product: `triage train --tiers` writes a model that `learned` serves as
`tiered` (the decision names the tier, its budget under the caller's cap, and why);
`triage eval --tiers` scores the chosen tier against every fixed tier out of fold."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
from support.cli import assert_one_line_error, thinkswitch

from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.outcomes.tiers import load_tiers, tier_budget, tier_order
from thinkswitch.settings import default_data_dir
from thinkswitch.triage.registry import get_policy
from thinkswitch.triage.tiers import TieredPolicy

SIMPLEQA = default_data_dir() / "outcomes" / "simpleqa" / "paired_long.csv"
needs_simpleqa = pytest.mark.skipif(not SIMPLEQA.is_file(), reason="shared outcome data absent")
GEMINI = "replay:simpleqa/gemini-2.5-flash"


def test_tiers_are_ordered_cheapest_first_and_name_their_budgets() -> None:
    modes = {"budget1024", "exd2", "budget256", "no_think", "exd0", "high_effort"}
    assert tier_order(modes) == ("no_think", "budget256", "budget1024", "exd0", "exd2",
                                 "high_effort")
    assert (tier_budget("budget512"), tier_budget("exd2"), tier_budget("no_think")) == (
        512, None, None)


@needs_simpleqa
def test_a_tier_table_holds_every_budget_of_the_model() -> None:
    table = load_tiers(default_data_dir(), GEMINI)
    assert table.tiers == ("no_think", "budget256", "budget512", "budget1024", "budget2048")
    assert table.right.shape == (800, 5) == table.tokens.shape
    assert table.right[:, 0].mean() == pytest.approx(0.126, abs=0.001)  # the README's never
    picked = load_tiers(default_data_dir(), GEMINI + "?tiers=no_think,budget1024")
    assert picked.tiers == ("no_think", "budget1024")
    assert picked.right[:, 1].mean() == pytest.approx(0.285, abs=0.001)


@pytest.fixture(scope="module")
def tier_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiers") / "tiers.npz"
    run = thinkswitch("triage", "train", "--outcomes", GEMINI, "--tiers", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "best fixed tier budget2048 28.6%" in run.stdout
    assert "default weight" in run.stdout and out.is_file()
    return out


@needs_simpleqa
def test_train_then_decide_with_the_tier_model_through_learned(tier_model: Path) -> None:
    out = tier_model
    policy = get_policy("learned", None, out)
    assert isinstance(policy, TieredPolicy)
    question = (ChatMessage(role="user", content="Who was the first person to win two Nobel "
                            "Prizes in different sciences?"),)
    decision = policy.decide(question, 4096)
    tier = decision.reason.split("tier ", 1)[1].split(":", 1)[0]
    assert tier in policy.model.tiers
    assert decision.policy.startswith("tiered@")
    if decision.mode == "on":
        assert decision.budget == tier_budget(tier)
        assert decision.reason.startswith(f"think, budget {decision.budget}: tier {tier}")
        assert "P(right)" in decision.reason and "per 1,000 tokens" in decision.reason
    # the caller's budget stays the cap; a weight of 0 picks the likeliest-right tier
    capped = TieredPolicy(policy.model, 0.0).decide(question, 300)
    assert capped.mode == "off" or (capped.budget is not None and capped.budget <= 300)
    # and a large weight answers directly
    assert TieredPolicy(policy.model, 1.0).decide(question, 4096).mode == "off"
    shown = thinkswitch("triage", "explain", "--model", str(out), question[0].content)
    assert shown.returncode == 0, shown.stderr
    assert "by tiered@" in shown.stdout and "tier " in shown.stdout


@needs_simpleqa
def test_eval_tiers_against_every_fixed_tier_with_a_plot(tmp_path: Path) -> None:
    run = thinkswitch("triage", "eval", "--suite", GEMINI, "--tiers", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "tiers.json").read_text())[0]
    assert [p["label"] for p in report["fixed"]] == list(report["tiers"])
    assert report["best_fixed"] == "budget2048"
    weights = [p["weight"] for p in report["chosen"]]
    tokens = [p["tokens"] for p in report["chosen"]]
    assert weights == sorted(weights)
    # the heavier the token weight, the fewer tokens (up to ties among close predictions);
    # a heavy one spends far less than the best fixed tier
    assert all(later <= earlier + 1.0 for earlier, later in pairwise(tokens))
    assert tokens[-1] < 0.5 * report["fixed"][-1]["tokens"]
    for point in report["chosen"]:
        low, high = point["versus_best_ci95"]
        assert low <= point["accuracy"] - report["fixed"][-1]["accuracy"] <= high
    png = tmp_path / "tiers-replay_simpleqa_gemini-2.5-flash.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_tier_inputs_are_clear_errors(tmp_path: Path) -> None:
    assert_one_line_error(thinkswitch("triage", "eval", "--suite", "replay:concise_cot/"
                                      "gpt-35-turbo", "--tiers"), 2, "budget tiers need")
    assert_one_line_error(thinkswitch("triage", "train", "--outcomes", GEMINI, "--tiers",
                                      "--from-traces", "--out", str(tmp_path / "m.npz")), 2,
                          "--tiers")
    assert_one_line_error(thinkswitch("triage", "explain", "--policy", "tiered", "2+2?"), 2,
                          "needs a budget-tier model")


@needs_simpleqa
def test_a_server_whose_policy_carries_tiers_records_the_chosen_budget(
        tier_model: Path, tmp_path: Path) -> None:
    from openai import OpenAI
    from support.live_server import live_server

    from thinkswitch.cli.serve_cmd import build_server
    from thinkswitch.engines.replay import ReplayEngine
    from thinkswitch.trace.backends import open_store

    db = tmp_path / "traces.sqlite"
    app, _ = build_server(None, {"engine": "replay", "model": "gemini-2.5-flash",
                                 "trace_db": str(db), "policy": "learned",
                                 "triage_model": str(tier_model)}, {})
    asked = ReplayEngine(default_data_dir(), "gemini-2.5-flash").questions()[:12]
    with live_server(app) as url:
        client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        decisions = [client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": question}], extra_body={
                "thinking": {"type": "auto", "budget_tokens": 4096}}
        ).model_extra["thinkswitch"]["decision"] for question in asked]  # type: ignore[index]
    assert {d["policy"].split("@")[0] for d in decisions} == {"tiered"}
    assert all(d["budget"] in (256, 512, 1024, 2048) for d in decisions if d["mode"] == "on")
    assert all(d["reason"].split(": ", 1)[1].startswith("tier ") for d in decisions)
    assert len({d["budget"] for d in decisions}) > 1  # it picks per request
    store = open_store(db)
    try:
        recorded = [r.decision for r in store.records(kind="request")]
    finally:
        store.close()
    assert sorted(str(d["reason"]) for d in recorded) == sorted(d["reason"] for d in decisions)
