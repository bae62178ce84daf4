"""The closed learning loop on recorded real models: shadow labels -> retrain -> guarded promote.

For each recorded model (SimpleQA: Gemini 2.5 Flash no_think vs budget1024, Claude Sonnet 4
no_think vs budget4096, Qwen3-8B no_think vs exd0), shadow rate and seed: the 800 questions
arrive in a seeded random order; the live policy (first the shipped `learned` prior) decides
each; a random share R of requests is shadowed, which labels them (both sides' recorded
correctness). Every 200 requests the loop trains a candidate on the labelled pairs (the newest
quarter held out by time), runs the promotion guard (thinkswitch.triage.guard) against the
live model and promotes on a pass; it also trains a deliberately bad candidate (the same pairs
with their labels shuffled) and records whether the guard would promote it (never applied).

This runs in-process at the policy level — the live policy's decisions, the shadow draw and the
guard are the product's code, the answers are the replay engine's recorded outcomes — rather
than over HTTP, which would take hours on 2 shared cores for 60 runs of 800 requests.

Per checkpoint it reports: the Hajek 95% interval (thinkswitch.triage.estimate) of auto's
accuracy loss against always-think from the pairs so far, and whether it covers the true loss
of the requests served so far (known from the tables); the interval's half-width; APGR on the
requests not yet seen of the live policy, of `learned` trained offline on the same number of
fully labelled questions (drawn from those seen), and of the shipped prior.

    OMP_NUM_THREADS=1 .venv/bin/python bench/learning_loop.py --seeds 10 --rates 0.2,0.5
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from thinkswitch.outcomes import metrics
from thinkswitch.outcomes.estimate import hajek
from thinkswitch.outcomes.paired import PairedTable, load_paired
from thinkswitch.settings import Settings
from thinkswitch.triage.examples import LabelledExample
from thinkswitch.triage.guard import GuardOptions
from thinkswitch.triage.learned import LearnedModel, LearnedPolicy
from thinkswitch.triage.promotion import guard
from thinkswitch.triage.static_features import StaticFeatures
from thinkswitch.triage.trace_training import shuffled, train_on_examples
from thinkswitch.triage.training import train

MODELS = {
    "gemini-2.5-flash": "replay:simpleqa/gemini-2.5-flash?on=budget1024",
    "claude-sonnet4": "replay:simpleqa/claude-sonnet4?on=budget4096",
    "Qwen3-8B": "replay:simpleqa/Qwen3-8B?on=exd0",
}
EVERY = 200


@dataclass(frozen=True, eq=False)
class CachedFeatures:
    """The static features, read once per text (the loop scores the same 800 texts often)."""

    kind: ClassVar[str] = "static"
    regularization: ClassVar[float] = StaticFeatures.regularization
    inner: StaticFeatures
    cache: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        return self.inner.size

    def header(self) -> dict[str, Any]:
        return self.inner.header()

    def transform(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in texts if t not in self.cache]
        if missing:
            for text, row in zip(missing, self.inner.transform(missing), strict=True):
                self.cache[text] = row
        return np.vstack([self.cache[t] for t in texts])


def apgr(table: PairedTable, indices: np.ndarray, scores: np.ndarray) -> float:
    sub = replace(table, items=tuple(table.items[i] for i in indices))
    gap = metrics.gap_summary(sub, metrics.curve(sub, list(scores)))
    return float("nan") if gap.apgr is None else float(gap.apgr)


def run(table: PairedTable, features: CachedFeatures, prior: LearnedModel, rate: float,
        seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    n = len(table.items)
    order = rng.permutation(n)
    texts = [item.question for item in table.items]
    on = np.array([item.on.correct for item in table.items])
    off = np.array([item.off.correct for item in table.items])
    live = prior
    examples: list[LabelledExample] = []
    chosen_right = np.zeros(n)
    rows = []
    for step, index in enumerate(order, start=1):
        item = table.items[index]
        think = bool(live.scores([item.question])[0] >= live.threshold)
        chosen_right[step - 1] = on[index] if think else off[index]
        if rng.random() < rate:
            examples.append(LabelledExample(
                item.id, item.question, "on" if think else "off", off[index], on[index], None,
                rate, float(step), item.off.tokens, item.on.tokens, live.version))
        if step % EVERY:
            continue
        served = order[:step]
        loss_values = [e.correct(True) - e.correct(e.side == "on") for e in examples]
        loss = hajek(loss_values, [e.propensity for e in examples])
        true_loss = float(np.mean(on[served] - chosen_right[:step]))
        candidate = train_on_examples(examples, version=f"s{seed}-{step}",
                                      features=features).model
        verdict = guard(live, candidate, examples, GuardOptions(seed=seed))
        bad = train_on_examples(shuffled(examples, seed), version="shuffled",
                                features=features).model
        bad_verdict = guard(live, bad, examples, GuardOptions(seed=seed))
        if verdict.promote:
            live = candidate
        unseen = order[step:]
        unseen_texts = [texts[i] for i in unseen]
        scored = {"apgr_live": live, "apgr_prior": prior}
        if len(unseen):
            seen = rng.permutation(served)[:len(examples)]
            scored["apgr_offline"] = train(
                [replace(table, items=tuple(table.items[i] for i in seen))],
                version="offline", features=features)
        rows.append({
            "rate": rate, "seed": seed, "step": step, "pairs": len(examples),
            "loss": loss.value, "low": loss.low, "high": loss.high, "true_loss": true_loss,
            "covered": bool(loss.low <= true_loss <= loss.high),
            "half_width": loss.half_width, "promoted": verdict.promote,
            "bad_promoted": bad_verdict.promote, "live": live.version,
            "apgr_offline": np.nan,
            **{key: apgr(table, unseen, model.scores(unseen_texts)) if len(unseen) else np.nan
               for key, model in scored.items()},
        })
    return rows


def summarize(name: str, rows: list[dict[str, Any]]) -> None:
    covered = np.mean([r["covered"] for r in rows])
    print(f"\n{name}: interval covers the true loss in {covered:.0%} of {len(rows)} "
          f"(seed, checkpoint) pairs; bad candidates promoted: "
          f"{sum(r['bad_promoted'] for r in rows)}; good candidates promoted: "
          f"{sum(r['promoted'] for r in rows)}")
    for rate in sorted({r["rate"] for r in rows}):
        for step in sorted({r["step"] for r in rows}):
            at = [r for r in rows if r["rate"] == rate and r["step"] == step]
            mean = {k: float(np.nanmean([r[k] for r in at]))
                    for k in ("pairs", "half_width", "apgr_live", "apgr_offline", "apgr_prior",
                              "loss", "true_loss")}
            print(f"  rate {rate:.1f} after {step} requests: {mean['pairs']:.0f} pairs, loss "
                  f"est {mean['loss']:+.3f} (true {mean['true_loss']:+.3f}) +-"
                  f"{mean['half_width']:.3f}; APGR unseen: live {mean['apgr_live']:.3f}, "
                  f"offline {mean['apgr_offline']:.3f}, prior {mean['apgr_prior']:.3f}; "
                  f"promoted in {sum(r['promoted'] for r in at)}/{len(at)} seeds")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--rates", default="0.2,0.5")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--out", type=Path, default=None, help="write all rows as JSON")
    args = parser.parse_args()
    data = Settings().data_dir
    features = CachedFeatures(StaticFeatures.shipped(), {})
    prior = replace(LearnedPolicy.from_path().model, features=features)
    everything: dict[str, list[dict[str, Any]]] = {}
    started = time.perf_counter()
    for name in args.models.split(","):
        table = load_paired(data, MODELS[name])
        rows = [row for rate in map(float, args.rates.split(","))
                for seed in range(args.seeds) for row in run(table, features, prior, rate, seed)]
        everything[name] = rows
        summarize(name, rows)
    pooled = [r for rows in everything.values() for r in rows]
    print(f"\nall: coverage {np.mean([r['covered'] for r in pooled]):.1%} of {len(pooled)}; "
          f"bad candidates promoted {sum(r['bad_promoted'] for r in pooled)}; "
          f"{time.perf_counter() - started:.0f} s")
    if args.out is not None:
        args.out.write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()
