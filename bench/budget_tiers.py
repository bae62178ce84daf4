"""Choosing the thinking budget per request, against the best fixed budget, on recorded tiers.

SimpleQA has each question answered at several budgets: Gemini 2.5 Flash no_think / 256 / 512 /
1024 / 2048, Claude Sonnet 4 no_think / 1024 / 2048 / 4096, Qwen3-8B no_think / exd0 / exd2 /
exd4 (natural thinking, then forced 2 and 4 extensions). Per tier, a logistic model on the
static token features predicts P(right at that tier) (balanced classes, the same C as
`learned`); a request gets the tier maximising P(right) - lambda * tokens / 1000, lambda the
knob. Every prediction is out-of-fold (5 folds by question, seed 0): no question is scored by
a model that saw it. Printed per model: each fixed tier's accuracy and mean tokens, and the
chosen tiers' at each lambda, with the best fixed tier for comparison.

    OMP_NUM_THREADS=1 .venv/bin/python bench/budget_tiers.py
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from thinkswitch.outcomes.paired import load_paired
from thinkswitch.settings import Settings
from thinkswitch.triage.static_features import StaticFeatures

TIERS = {
    "gemini-2.5-flash": ("no_think", "budget256", "budget512", "budget1024", "budget2048"),
    "claude-sonnet4": ("no_think", "budget1024", "budget2048", "budget4096"),
    "Qwen3-8B": ("no_think", "exd0", "exd2", "exd4"),
}
LAMBDAS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5)
FOLDS = 5


def tier_tables(model: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Question texts, correctness (questions x tiers) and tokens (questions x tiers)."""
    data = Settings().data_dir
    tiers = TIERS[model]
    tables = [load_paired(data, f"replay:simpleqa/{model}?off={tiers[0]}&on={tier}")
              for tier in tiers[1:]]
    ids = sorted(set.intersection(*({i.id for i in t.items} for t in tables)))
    by_id = [{i.id: i for i in t.items} for t in tables]
    texts = [by_id[0][q].question for q in ids]
    right = np.array([[by_id[0][q].off.correct] + [b[q].on.correct for b in by_id] for q in ids])
    tokens = np.array([[by_id[0][q].off.tokens] + [b[q].on.tokens for b in by_id] for q in ids])
    return texts, right, tokens


def out_of_fold(features: np.ndarray, right: np.ndarray) -> np.ndarray:
    """P(right) per question and tier, each from a model that never saw the question."""
    n, tiers = right.shape
    folds = np.array_split(np.random.default_rng(0).permutation(n), FOLDS)
    predicted = np.zeros((n, tiers))
    for held in folds:
        train = np.setdiff1d(np.arange(n), held)
        for tier in range(tiers):
            labels = right[train, tier] > 0.5
            if labels.min() == labels.max():
                predicted[held, tier] = float(labels[0])
                continue
            model = LogisticRegression(C=StaticFeatures.regularization, class_weight="balanced",
                                       max_iter=3000).fit(features[train], labels)
            predicted[held, tier] = model.predict_proba(features[held])[:, 1]
    return predicted


def main() -> None:
    static = StaticFeatures.shipped()
    for model, tiers in TIERS.items():
        texts, right, tokens = tier_tables(model)
        features = static.transform(texts)
        predicted = out_of_fold(features, right)
        fixed = [(tier, right[:, k].mean(), tokens[:, k].mean()) for k, tier in enumerate(tiers)]
        best = max(fixed, key=lambda f: (f[1], -f[2]))
        print(f"\n{model} ({len(texts)} questions): fixed tiers " + ", ".join(
            f"{t} {a:.1%} / {k:.0f} tok" for t, a, k in fixed)
              + f"; best fixed: {best[0]} {best[1]:.1%} / {best[2]:.0f} tok")
        rows = np.arange(len(texts))
        for weight in LAMBDAS:
            choice = np.argmax(predicted - weight * tokens.mean(axis=0) / 1000, axis=1)
            accuracy = right[rows, choice].mean()
            spent = tokens[rows, choice].mean()
            shares = np.bincount(choice, minlength=len(tiers)) / len(texts)
            mix = ", ".join(f"{t} {s:.0%}" for t, s in zip(tiers, shares, strict=True) if s)
            print(f"  chosen, lambda {weight:<4}: {accuracy:.1%} / {spent:.0f} tok "
                  f"({accuracy - best[1]:+.1%}, {spent / best[2]:.0%} of the best fixed tier's "
                  f"tokens) [{mix}]")


if __name__ == "__main__":
    main()
