"""Training recipes on shadow pairs against `learned` trained offline (issue 15, §3).

A shadow pair is a random draw of the requests served, fully labelled; so a candidate trained on
the pairs of the first `step` requests should rank the rest as well as `learned` trained on as
many fully labelled questions drawn from those requests. This sweep checks that, and whether
another recipe does better: per seed the questions arrive in a seeded order, a share `rate` is
shadowed, and at 200 / 400 / 600 requests each recipe is fit on the pairs and scored by APGR on
the requests not yet seen (gap-weighted over seeds, as bench/learning_loop.py reports it).

    OMP_NUM_THREADS=1 .venv/bin/python bench/shadow_recipes.py --model claude-sonnet4 --rate 0.2
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from learning_loop import MODELS, CachedFeatures, apgr
from sklearn.linear_model import LogisticRegression, Ridge

from thinkswitch.outcomes.paired import load_paired
from thinkswitch.settings import Settings
from thinkswitch.triage.learned import LearnedPolicy
from thinkswitch.triage.static_features import StaticFeatures

STEPS = (200, 400, 600)
#: (weights, bias) of a linear score fit on the rows `index` of the feature matrix.
Fit = Callable[[np.ndarray], tuple[np.ndarray, float]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="claude-sonnet4", choices=list(MODELS))
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    table = load_paired(Settings().data_dir, MODELS[args.model])
    features = CachedFeatures(StaticFeatures.shipped(), {})
    prior = replace(LearnedPolicy.from_path().model, features=features)
    matrix = features.transform([item.question for item in table.items])
    on = np.array([item.on.correct for item in table.items], dtype=float)
    off = np.array([item.off.correct for item in table.items], dtype=float)

    def logistic(index: np.ndarray, c: float = StaticFeatures.regularization,
                 weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        gain = (on[index] > off[index]).astype(int)
        if gain.min() == gain.max():
            return np.zeros(matrix.shape[1]), 0.0
        fit = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(
            matrix[index], gain, sample_weight=weights)
        return fit.coef_[0], float(fit.intercept_[0])

    def blended(share: float) -> Fit:
        def fit(index: np.ndarray) -> tuple[np.ndarray, float]:
            weights, bias = logistic(index)
            return (share * prior.gain + (1 - share) * weights,
                    share * prior.gain_bias + (1 - share) * bias)
        return fit

    def bagged(index: np.ndarray) -> tuple[np.ndarray, float]:
        rng = np.random.default_rng(len(index))
        fits = [logistic(rng.choice(index, len(index))) for _ in range(10)]
        return np.mean([w for w, _ in fits], axis=0), float(np.mean([b for _, b in fits]))

    def ridge(index: np.ndarray) -> tuple[np.ndarray, float]:
        fit = Ridge(alpha=1.0).fit(matrix[index], on[index] - off[index])
        return fit.coef_, float(fit.intercept_)

    recipes: dict[str, Fit] = {
        "pairs (the recipe)": logistic,
        **{f"C={c}": (lambda index, c=c: logistic(index, c)) for c in (0.3, 1.0, 3.0)},
        **{f"prior blend {s}": blended(s) for s in (0.3, 0.5)},
        "discordant only": lambda index: logistic(index[on[index] != off[index]]),
        "hurts weighted x2": lambda index: logistic(
            index, weights=np.where(on[index] < off[index], 2.0, 1.0)),
        "bagged x10": bagged,
        "ridge on the difference": ridge,
    }
    areas: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(table.items))
        drawn = rng.random(len(order)) < args.rate
        for step in STEPS:
            pairs, unseen = order[:step][drawn[:step]], order[step:]
            gap = float(np.mean(on[unseen] - off[unseen]))
            texts = [table.items[i].question for i in unseen]
            scored = {"prior": apgr(table, unseen, prior.scores(texts))}
            for name, fit in recipes.items():
                weights, bias = fit(pairs)
                scored[name] = apgr(table, unseen, matrix[unseen] @ weights + bias)
            offline = [rng.permutation(order[:step])[:len(pairs)] for _ in range(5)]
            scored["offline (5 draws)"] = float(np.mean([
                apgr(table, unseen, matrix[unseen] @ w + b)
                for w, b in (logistic(index) for index in offline)]))
            for name, value in scored.items():
                areas.setdefault((step, name), []).append((gap, value))
    print(f"{args.model}, rate {args.rate}, {args.seeds} seeds: gap-weighted APGR on the "
          f"requests not yet seen after {' / '.join(map(str, STEPS))} requests")
    for name in [name for step, name in areas if step == STEPS[0]]:
        values = []
        for step in STEPS:
            rows = np.array([(g, v) for g, v in areas[(step, name)] if g > 0 and np.isfinite(v)])
            values.append(float(np.sum(rows[:, 0] * rows[:, 1]) / np.sum(rows[:, 0])))
        print(f"  {name:<24} " + " / ".join(f"{v:.3f}" for v in values))


if __name__ == "__main__":
    main()
