"""Per-model `learned` on each recorded model's own outcomes, against the shipped prior (issue 15).

For every outcome table (SimpleQA's twelve models, the two GSM8K pairs, concise_cot; or any
`--tables` you name, e.g. `replay:file:mine.csv`): the APGR of the shipped `learned` prior,
of random (0.5 by construction), and of `learned` trained on that model's own outcomes,
cross-validated by question (5 folds; a question's text never trains the fold that tests it),
as the mean over `--seeds` fold draws with the spread, plus a 95% bootstrap interval of the
first draw. Two training recipes are tried beside the shipped one (C = 10): C chosen per fold
by an inner 5-fold cross-validation on that fold's training questions only (grid
INNER_GRID), and a fixed C = 1. Where thinking does not pay (always-think no better than
never), APGR is undefined ("-"); where few questions gain, no ranking can be told from noise.

    OMP_NUM_THREADS=1 .venv/bin/python bench/per_model_learning.py --seeds 3
    .venv/bin/python bench/per_model_learning.py --tables "mine=replay:file:mine.csv?model=m"
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from thinkswitch.kernel.errors import ThinkswitchError
from thinkswitch.outcomes import metrics
from thinkswitch.outcomes.paired import PairedTable, load_paired
from thinkswitch.outcomes.user_table import as_table_name
from thinkswitch.settings import Settings
from thinkswitch.triage.evaluate import bootstrap_apgr
from thinkswitch.triage.learned import LearnedPolicy
from thinkswitch.triage.static_features import StaticFeatures
from thinkswitch.triage.training import Scorer, Trainer, folds_for, out_of_fold_scores, train

TABLES = {
    "gemini-2.5-flash": "replay:simpleqa/gemini-2.5-flash?on=budget1024",
    "claude-sonnet4": "replay:simpleqa/claude-sonnet4?on=budget4096",
    "Qwen3-8B": "replay:simpleqa/Qwen3-8B",
    "Qwen3-14B": "replay:simpleqa/Qwen3-14B",
    "R1-Qwen-14B": "replay:simpleqa/DeepSeek-R1-Distill-Qwen-14B?off=exd0&on=exd4",
    "R1-Qwen-7B": "replay:simpleqa/DeepSeek-R1-Distill-Qwen-7B?off=exd0&on=exd2",
    "o3-mini": "replay:simpleqa/o3-mini",
    "o4-mini": "replay:simpleqa/o4-mini",
    "gpt-5-mini": "replay:simpleqa/gpt-5-mini",
    "gpt-oss-20b": "replay:simpleqa/gpt-oss-20b",
    "grok-3-mini": "replay:simpleqa/grok-3-mini",
    "routellm_gsm8k": "replay:routellm_gsm8k",
    "gpt3_gsm8k": "replay:gpt3_gsm8k",
    "concise_cot": "replay:concise_cot/gpt-35-turbo",
}
INNER_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
#: Fewer questions than this where thinking turns a wrong answer right: too few to learn from.
FEW_GAINS = 30


def apgr(table: PairedTable, scores: np.ndarray) -> float:
    value = metrics.gap_summary(table, metrics.curve(table, list(scores))).apgr
    return math.nan if value is None else float(value)


def fixed(c: float | None, features: StaticFeatures) -> Trainer:
    def fit(tables: Sequence[PairedTable]) -> Scorer:
        return train(tables, "fold", features, regularization=c)
    return fit


def inner_cv(features: StaticFeatures) -> Trainer:
    """C chosen by 5-fold CV on the training questions alone (by the plain logistic model's
    APGR, pooled over the inner folds), then the product's training with that C."""
    from sklearn.linear_model import LogisticRegression

    def fit(tables: Sequence[PairedTable]) -> Scorer:
        [table] = tables
        items = tuple(i for i in table.items if i.question)
        inner = replace(table, items=items)
        matrix = features.transform([i.question for i in items])
        gain = np.array([i.on.correct > i.off.correct for i in items], dtype=int)
        best, best_value = None, -math.inf
        for c in INNER_GRID:
            scores = np.zeros(len(items))
            for held in folds_for(inner, "question", 5, 1):
                rest = np.setdiff1d(np.arange(len(items)), held)
                if gain[rest].min() == gain[rest].max():
                    continue
                model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
                scores[held] = model.fit(matrix[rest], gain[rest]).decision_function(
                    matrix[held])
            value = apgr(inner, scores)
            if not math.isnan(value) and value > best_value:
                best, best_value = c, value
        return train(tables, "fold", features, regularization=best)
    return fit


def measure(name: str, table: PairedTable, prior: Scorer, features: StaticFeatures,
            seeds: int) -> dict[str, Any]:
    never, always = metrics.never(table), metrics.always(table)
    gains = sum(i.on.correct > i.off.correct for i in table.items)
    losses = sum(i.on.correct < i.off.correct for i in table.items)
    texts = [i.question for i in table.items]
    prior_scores = prior.scores(texts)
    row: dict[str, Any] = {
        "name": name, "table": table.name, "off": table.off_label, "on": table.on_label,
        "questions": len(table.items), "never": never.accuracy, "always": always.accuracy,
        "gains": gains, "losses": losses, "prior": apgr(table, prior_scores),
        "prior_ci": bootstrap_apgr(table, prior_scores), "random": 0.5,
    }
    recipes = {"learned": fixed(None, features), "inner_c": inner_cv(features),
               "c1": fixed(1.0, features)}
    for key, trainer in recipes.items():
        draws = [out_of_fold_scores(table, "question", 5, seed, trainer=trainer)
                 for seed in range(seeds)]
        values = [apgr(table, s) for s in draws]
        row[key] = float(np.mean(values))
        row[f"{key}_draws"] = values
        row[f"{key}_ci"] = bootstrap_apgr(table, draws[0])
    return row


def shown(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    print("| table | off / on | never | always | gains / losses | prior | learned (per model) "
          "| inner-CV C | C = 1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        spread = [v for v in r["learned_draws"] if not math.isnan(v)]
        band = f" ({min(spread):.3f}-{max(spread):.3f})" if len(spread) > 1 else ""
        few = " (few gains)" if r["gains"] < FEW_GAINS else ""
        print(f"| {r['name']}{few} | {r['off']} / {r['on']} | {r['never']:.1%} | "
              f"{r['always']:.1%} | {r['gains']} / {r['losses']} | {shown(r['prior'])} | "
              f"{shown(r['learned'])}{band} | {shown(r['inner_c'])} | {shown(r['c1'])} |")


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown_rows = [r for r in rows if not math.isnan(r["learned"])]
    x = np.arange(len(shown_rows))
    figure, axes = plt.subplots(figsize=(max(8.0, 0.8 * len(shown_rows)), 4.5))
    for offset, key, label in ((-0.27, "prior", "shipped prior"),
                               (0.0, "learned", "learned on the model's own outcomes (CV)"),
                               (0.27, "inner_c", "same, C by inner CV")):
        values = [r[key] for r in shown_rows]
        errors = None
        if key != "prior":
            draws = [[v for v in r[f"{key}_draws"] if not math.isnan(v)] for r in shown_rows]
            errors = np.array([[r[key] - min(d), max(d) - r[key]] for r, d in
                               zip(shown_rows, draws, strict=True)]).T
        axes.bar(x + offset, values, 0.27, yerr=errors, label=label)
    axes.axhline(0.5, color="black", linestyle="--", linewidth=1, label="random")
    axes.set_xticks(x, [f"{r['name']}\n{r['always'] - r['never']:+.1%}, {r['gains']} gains"
                        for r in shown_rows],
                    rotation=45, ha="right", fontsize=8)
    axes.set_ylabel("APGR")
    axes.set_ylim(0.2, 1.1)
    axes.set_title("Per-model learned triage vs the shipped prior (label: thinking's gain)")
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", default=",".join(TABLES),
                        help="names of TABLES, or NAME=SPEC / SPEC (replay:... or a file)")
    parser.add_argument("--seeds", type=int, default=3, help="fold draws per table")
    parser.add_argument("--out", type=Path, default=Path("bench/results/per_model_learning.json"))
    parser.add_argument("--plot", type=Path, default=Path("docs/per_model_learning.png"))
    args = parser.parse_args()
    data = Settings().data_dir
    features = StaticFeatures.shipped()
    prior = LearnedPolicy.from_path().model
    rows = []
    for entry in args.tables.split(","):
        name, _, spec = entry.partition("=")
        spec = spec or TABLES.get(name, name)
        try:
            table = load_paired(data, as_table_name(spec))
        except ThinkswitchError as error:
            parser.error(str(error))
        rows.append(measure(name, table, prior, features, args.seeds))
        print(f"{name}: prior {shown(rows[-1]['prior'])}, learned {shown(rows[-1]['learned'])}"
              f", inner-CV C {shown(rows[-1]['inner_c'])}, C=1 {shown(rows[-1]['c1'])}",
              flush=True)
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1, default=float))
    plot(rows, args.plot)
    print(f"wrote {args.out} and {args.plot}")


if __name__ == "__main__":
    main()
