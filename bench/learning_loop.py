"""The closed learning loop on recorded real models: shadow labels -> retrain -> guarded promote.

For each recorded model (SimpleQA: Gemini 2.5 Flash no_think vs budget1024, Claude Sonnet 4
no_think vs budget4096, Qwen3-8B no_think vs exd0), shadow rate and seed: the 800 questions
arrive in a seeded random order; the live policy (first the shipped `learned` prior) decides
each; a random share R of requests is shadowed, which labels them (both sides' recorded
correctness). Every 200 requests the loop trains a candidate on all the labelled pairs, runs
the promotion guard (thinkswitch.triage.guard: rolling origin over the pairs) against the live
model and promotes on a pass; it also trains a deliberately bad candidate (the same pairs with
their labels shuffled) and records whether the guard would promote it (never applied).

Two ways to run it:
- in process (default), at the policy level: the live policy's decisions, the shadow draw and
  the guard are the product's code, the answers the tables' recorded outcomes. Fast: the
  rate-0.5 sweep and the shuffled candidates run here.
- `--http`: through a real `thinkswitch serve --engine replay` process, asked over HTTP with the
  OpenAI SDK, its rounds run on its own trace store and promoted with a reload
  (bench/learning_loop_http.py). `--compare SEED` runs one seed both ways, the in-process loop
  replaying the server's shadow draws, and prints where their decisions or promotions differ.

Per checkpoint it reports: the Hajek 95% interval (thinkswitch.outcomes.estimate) of auto's
accuracy loss against always-think from the pairs so far, and whether it covers the true loss
of the requests served so far (known from the tables); the interval's half-width; APGR on the
requests not yet seen of the live policy, of `learned` trained offline on the same number of
fully labelled questions (drawn from those seen; the mean of OFFLINE_DRAWS draws), of the
shipped prior and (in process) of the round's candidate, as the plain mean over seeds and
weighted by each seed's gap on its unseen questions (`pooled`).

    OMP_NUM_THREADS=1 .venv/bin/python bench/learning_loop.py --seeds 10 --rates 0.2,0.5
    OMP_NUM_THREADS=1 .venv/bin/python bench/learning_loop.py --seeds 10 --rates 0.2 \
        --models "replay:simpleqa/o3-mini,replay:file:mine.csv?model=m"   (any table, in process)
    cd bench && OMP_NUM_THREADS=1 ../.venv/bin/python learning_loop.py --http --seeds 10 \
        --rates 0.2 [--questions 400]
    cd bench && ../.venv/bin/python learning_loop.py --compare 0 --rates 0.5 --questions 400
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from learning_loop_http import SERVED, HttpRun, run_http

from thinkswitch.kernel.errors import ThinkswitchError
from thinkswitch.outcomes import metrics
from thinkswitch.outcomes.estimate import hajek, paired_floor
from thinkswitch.outcomes.paired import PairedTable, load_paired
from thinkswitch.outcomes.user_table import as_table_name
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
#: Offline models trained per checkpoint (different draws of the seen questions), averaged.
OFFLINE_DRAWS = 5


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


def apgrs(table: PairedTable, order: np.ndarray, step: int, labelled: int,
          models: dict[str, LearnedModel], features: CachedFeatures,
          rng: np.random.Generator) -> dict[str, float]:
    """APGR on the requests not yet seen (after `step` of `order`) of each of `models`, and of
    `learned` trained offline on `labelled` fully labelled questions drawn from those seen (the
    mean over OFFLINE_DRAWS draws: the offline figure's own sampling noise averaged out)."""
    unseen = order[step:]
    if not len(unseen):
        return {f"apgr_{key}": np.nan for key in (*models, "offline", "gap")}
    texts = [table.items[i].question for i in unseen]
    result = {f"apgr_{key}": apgr(table, unseen, model.scores(texts))
              for key, model in models.items()}
    result["apgr_gap"] = float(np.mean([table.items[i].on.correct - table.items[i].off.correct
                                        for i in unseen]))
    offline = []
    for _ in range(OFFLINE_DRAWS):
        seen = rng.permutation(order[:step])[:labelled]
        model = train([replace(table, items=tuple(table.items[i] for i in seen))],
                      version="offline", features=features)
        offline.append(apgr(table, unseen, model.scores(texts)))
    result["apgr_offline"] = float(np.mean(offline))
    return result


def run(table: PairedTable, features: CachedFeatures, prior: LearnedModel, rate: float,
        seed: int, limit: int | None = None, shadowed: set[int] | None = None,
        decisions: list[str] | None = None) -> list[dict[str, Any]]:
    """One seeded in-process run; `shadowed` (request positions) replaces the shadow draw
    (to replay the draws of an HTTP run); each request's mode is appended to `decisions`."""
    rng = np.random.default_rng(seed)
    n = len(table.items)
    order = rng.permutation(n)  # asked: the first `limit`; APGR on all the others
    on = np.array([item.on.correct for item in table.items])
    off = np.array([item.off.correct for item in table.items])
    live = prior
    examples: list[LabelledExample] = []
    chosen_right = np.zeros(n)
    rows = []
    for step, index in enumerate(order[:limit], start=1):
        item = table.items[index]
        think = bool(live.scores([item.question])[0] >= live.threshold)
        chosen_right[step - 1] = on[index] if think else off[index]
        if decisions is not None:
            decisions.append("on" if think else "off")
        drawn = rng.random() < rate
        if shadowed is not None:
            drawn = step - 1 in shadowed
        if drawn:
            examples.append(LabelledExample(
                item.id, item.question, "on" if think else "off", off[index], on[index], None,
                rate, float(step), item.off.tokens, item.on.tokens, live.version))
        if step % EVERY:
            continue
        served = order[:step]
        loss_values = [e.correct(True) - e.correct(e.side == "on") for e in examples]
        loss = hajek(loss_values, [e.propensity for e in examples], paired_floor)
        true_loss = float(np.mean(on[served] - chosen_right[:step]))
        candidate = train_on_examples(examples, holdout=0.0, version=f"s{seed}-{step}",
                                      features=features).model
        verdict = guard(live, candidate, examples, GuardOptions(seed=seed))
        bad = train_on_examples(shuffled(examples, seed), holdout=0.0, version="shuffled",
                                features=features).model
        bad_verdict = guard(live, bad, examples, GuardOptions(seed=seed))
        if verdict.promote:
            live = candidate
        rows.append({
            "mode": "in-process", "rate": rate, "seed": seed, "step": step,
            "pairs": len(examples), "loss": loss.value, "low": loss.low, "high": loss.high,
            "true_loss": true_loss, "covered": bool(loss.low <= true_loss <= loss.high),
            "half_width": loss.half_width, "promoted": verdict.promote,
            "bad_promoted": bad_verdict.promote, "live": live.version,
            "guard": verdict.summary(), "bad_guard": bad_verdict.summary(),
            "thinks": int(sum(e.side == "on" for e in examples)),
            **apgrs(table, order, step, len(examples),
                    {"live": live, "prior": prior, "candidate": candidate}, features, rng)})
    return rows


def run_over_http(name: str, table: PairedTable, features: CachedFeatures,
                  prior: LearnedModel, rate: float, seed: int, limit: int | None
                  ) -> tuple[list[dict[str, Any]], HttpRun]:
    """One seeded run through `thinkswitch serve` (bench/learning_loop_http.py), in the same
    order as the in-process run of that seed; the rows of its checkpoints."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(table.items))  # asked: the first `limit`
    on = np.array([item.on.correct for item in table.items])
    off = np.array([item.off.correct for item in table.items])
    texts = [item.question for item in table.items]
    served = run_http(name, texts, order[:limit], rate, seed, EVERY, features)
    rows = []
    for point in served.checkpoints:
        step = point["step"]
        chosen = np.where(np.array(served.modes[:step]) == "on", on[order[:step]],
                          off[order[:step]])
        true_loss = float(np.mean(on[order[:step]] - chosen))
        value, low, high = point["loss"] if point["loss"] is not None else (np.nan,) * 3
        live = point["live_model"] or prior
        if live is not prior:
            live = replace(live, features=features)
        rows.append({
            "mode": "http", "rate": rate, "seed": seed, "step": step,
            "pairs": point["labelled_pairs"], "loss": value, "low": low, "high": high,
            "true_loss": true_loss, "covered": bool(low <= true_loss <= high),
            "half_width": (high - low) / 2, "promoted": point["promoted"],
            "bad_promoted": False, "live": live.version, "guard": point["guard"],
            "promotions_recorded": point["promotions_recorded"],
            **apgrs(table, order, step, point["labelled_pairs"],
                    {"live": live, "prior": prior}, features, rng)})
    return rows, served


def pooled(rows: list[dict[str, Any]], key: str) -> float:
    """APGR over seeds weighted by each seed's gap on its unseen questions (always - never):
    the ratio of the summed areas to the summed gaps. A plain mean of per-seed APGRs is ruled
    by the seeds whose unseen gap is a question or two (APGR there swings by +-1 or more)."""
    usable = [r for r in rows if np.isfinite(r.get(key, np.nan)) and r["apgr_gap"] > 0]
    if not usable:
        return float("nan")
    gaps = np.array([r["apgr_gap"] for r in usable])
    return float(np.sum(gaps * np.array([r[key] for r in usable])) / np.sum(gaps))


def summarize(name: str, rows: list[dict[str, Any]]) -> None:
    covered = np.mean([r["covered"] for r in rows])
    print(f"\n{name}: interval covers the true loss in {covered:.0%} of {len(rows)} "
          f"(seed, checkpoint) pairs; bad candidates promoted: "
          f"{sum(r['bad_promoted'] for r in rows)}; good candidates promoted: "
          f"{sum(r['promoted'] for r in rows)}")
    for rate in sorted({r["rate"] for r in rows}):
        for step in sorted({r["step"] for r in rows}):
            at = [r for r in rows if r["rate"] == rate and r["step"] == step]
            mean = {k: float(np.nanmean([r.get(k, np.nan) for r in at]))
                    for k in ("pairs", "half_width", "apgr_live", "apgr_offline", "apgr_prior",
                              "apgr_candidate",
                              "loss", "true_loss")}
            print(f"  rate {rate:.1f} after {step} requests: {mean['pairs']:.0f} pairs, loss "
                  f"est {mean['loss']:+.3f} (true {mean['true_loss']:+.3f}) +-"
                  f"{mean['half_width']:.3f}; APGR unseen: live {mean['apgr_live']:.3f}, "
                  f"offline {mean['apgr_offline']:.3f}, prior {mean['apgr_prior']:.3f}, candidate "
                  f"{mean['apgr_candidate']:.3f}; gap-weighted: live "
                  f"{pooled(at, 'apgr_live'):.3f}, offline {pooled(at, 'apgr_offline'):.3f}, "
                  f"prior {pooled(at, 'apgr_prior'):.3f}, candidate "
                  f"{pooled(at, 'apgr_candidate'):.3f}; "
                  f"promoted in {sum(r['promoted'] for r in at)}/{len(at)} seeds")


def compare(name: str, table: PairedTable, features: CachedFeatures, prior: LearnedModel,
            rate: float, seed: int, limit: int | None) -> dict[str, Any]:
    """The HTTP loop and the in-process loop on one seed, the latter replaying the server's
    shadow draws: do they decide and promote alike?"""
    http_rows, served = run_over_http(name, table, features, prior, rate, seed, limit)
    modes: list[str] = []
    rows = run(table, features, prior, rate, seed, limit, served.shadowed, modes)
    differ = [i for i, (a, b) in enumerate(zip(modes, served.modes, strict=True)) if a != b]
    lowered = sum(1 for m, b in zip(served.modes, served.budgets, strict=True)
                  if m == "on" and b is not None and b < SERVED[name][1])
    print(f"\n{name}, seed {seed}, rate {rate}: {len(modes)} requests in {served.seconds:.0f} s "
          f"over HTTP; decisions differ on {len(differ)} (first at {differ[:5]}); thinking "
          f"requests given a smaller budget than the pinned run's: {lowered}")
    for mine, theirs in zip(rows, http_rows, strict=True):
        print(f"  after {mine['step']}: pairs {mine['pairs']} / {theirs['pairs']}; promoted "
              f"{mine['promoted']} / {theirs['promoted']} (recorded promotions "
              f"{theirs['promotions_recorded']}); guard difference "
              f"{mine['guard']['difference']:+.4f} / {theirs['guard']['difference']:+.4f}")
    return {"requests": len(modes), "differ": len(differ), "lowered_budgets": lowered,
            "seconds": served.seconds, "in_process": rows, "http": http_rows}


def table_spec(name: str) -> str:
    """A name of MODELS, a replay spec (`replay:simpleqa/o4-mini`, `replay:file:PATH?...`) or
    the path of a user's outcome table."""
    if name in MODELS:
        return MODELS[name]
    return as_table_name(name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--rates", default="0.2,0.5")
    parser.add_argument("--models", default=",".join(MODELS),
                        help="comma-separated: names of MODELS, replay specs "
                        "(replay:simpleqa/o4-mini, replay:file:PATH?model=M) or table files")
    parser.add_argument("--questions", type=int, default=None,
                        help="ask only the first N of each seeded order [default: all 800]")
    parser.add_argument("--http", action="store_true",
                        help="through `thinkswitch serve` over HTTP (learning_loop_http.py)")
    parser.add_argument("--compare", type=int, default=None, metavar="SEED",
                        help="run SEED both ways (first rate) and compare their decisions")
    parser.add_argument("--out", type=Path, default=None, help="write all rows as JSON")
    args = parser.parse_args()
    data = Settings().data_dir
    features = CachedFeatures(StaticFeatures.shipped(), {})
    prior = replace(LearnedPolicy.from_path().model, features=features)
    rates = [float(rate) for rate in args.rates.split(",")]
    everything: dict[str, list[dict[str, Any]]] = {}
    compared: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    for name in args.models.split(","):
        if (args.http or args.compare is not None) and name not in SERVED:
            parser.error(f"--http and --compare serve the replay engine's recordings: "
                         f"--models among {', '.join(SERVED)}, not {name!r}")
        try:
            table = load_paired(data, table_spec(name))
        except ThinkswitchError as error:
            parser.error(str(error))
        if args.compare is not None:
            compared[name] = compare(name, table, features, prior, rates[0], args.compare,
                                     args.questions)
            continue
        rows = [row for rate in rates for seed in range(args.seeds)
                for row in (run_over_http(name, table, features, prior, rate, seed,
                                          args.questions)[0] if args.http else
                            run(table, features, prior, rate, seed, args.questions))]
        everything[name] = rows
        summarize(name, rows)
    pooled = [r for rows in everything.values() for r in rows]
    if pooled:
        print(f"\nall: coverage {np.mean([r['covered'] for r in pooled]):.1%} of {len(pooled)};"
              f" bad candidates promoted {sum(r['bad_promoted'] for r in pooled)}; "
              f"{time.perf_counter() - started:.0f} s")
    if args.out is not None:
        args.out.write_text(json.dumps(compared or everything, indent=1, default=str))


if __name__ == "__main__":
    main()
