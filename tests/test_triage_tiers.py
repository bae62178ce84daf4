"""Budget tiers in the product: `triage train --tiers` writes a model that `learned` serves as
`tiered` (the decision names the tier, its budget under the caller's cap, and why);
`triage eval --tiers` scores the chosen tier against every fixed tier out of fold."""

from __future__ import annotations

import json
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


@needs_simpleqa
def test_train_then_serve_the_tier_model_through_learned(tmp_path: Path) -> None:
    out = tmp_path / "tiers.npz"
    run = thinkswitch("triage", "train", "--outcomes", GEMINI, "--tiers", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "best fixed tier budget2048 28.6%" in run.stdout
    assert "default weight" in run.stdout and out.is_file()
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
    assert all(later <= earlier + 1.0 for earlier, later in zip(tokens, tokens[1:]))
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
