"""`tiered`: auto that picks the thinking budget too, from outcome tables with several budgets.

Per tier (see `thinkswitch.outcomes.tiers`), a logistic model on the static token features
predicts P(right at that tier) (unweighted classes, so that the tiers' probabilities keep their
base rates and can be compared; the regularisation `learned` uses). A request
gets the tier maximising

    P(right at tier) - weight * (the tier's mean tokens on the training table) / 1000,

`weight` the knob: accuracy (as a share) the operator would give up per 1,000 generated tokens
(0: the likeliest-right tier whatever it costs). The tier names its mode and budget: the direct
tier answers without thinking, `budgetN` thinks under N tokens (never above the caller's cap),
any other tier (`exd2`, `high_effort`) thinks under the caller's budget; the decision's reason
names the tier, its predicted P(right), the runner-up and the weight. The default weight is the
one `triage train --tiers` chose on out-of-fold predictions (see `tier_eval.default_weight`).

The model file (`.npz`, format `thinkswitch-tiers-1`) holds the weights per tier and a JSON
header; it is never unpickled. `learned` given such a file (`--triage-model`) serves it, so a
server's auto picks tiers as soon as its policy carries them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.errors import DataError, ModelNotFoundError
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.outcomes.tiers import TierTable, is_direct, tier_budget
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.context import triage_text
from thinkswitch.triage.model_file import model_format, read_model_file, write_model_file
from thinkswitch.triage.static_features import StaticFeatures

FORMAT = "thinkswitch-tiers-1"


def _sigmoid(values: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-values))
    return result


@dataclass(frozen=True)
class TierModel:
    tiers: tuple[str, ...]
    coef: np.ndarray  # tiers x features
    intercept: np.ndarray  # tiers
    mean_tokens: np.ndarray  # tiers
    weight: float = 0.0
    version: str = "tiers"
    meta: dict[str, Any] = field(default_factory=dict)
    features: StaticFeatures = field(default_factory=StaticFeatures.shipped)

    def p_right(self, matrix: np.ndarray) -> np.ndarray:
        """P(right) per row of features and tier."""
        return _sigmoid(matrix @ self.coef.T + self.intercept)

    def choose(self, p_right: np.ndarray, weight: float | None = None) -> np.ndarray:
        """The chosen tier index per row."""
        cost = (self.weight if weight is None else weight) * self.mean_tokens / 1000.0
        chosen: np.ndarray = np.argmax(p_right - cost, axis=1)
        return chosen

    def save(self, path: Path) -> None:
        header = {"format": FORMAT, "tiers": list(self.tiers), "weight": self.weight,
                  "version": self.version, "meta": self.meta,
                  "features": self.features.header()}
        write_model_file(path, header, {
            "coef": self.coef.astype(np.float32), "intercept": self.intercept.astype(np.float64),
            "mean_tokens": self.mean_tokens.astype(np.float64)})

    @classmethod
    def load(cls, path: Path) -> TierModel:
        if not path.is_file():
            raise ModelNotFoundError(f"no tier model at {path}")
        damaged = f"{path} is not a readable budget-tier model"
        header, data = read_model_file(path, damaged)
        if header.get("format") != FORMAT:
            raise DataError(f"{path} is not a budget-tier model ({FORMAT})")
        try:
            return cls(tuple(header["tiers"]), data["coef"].astype(np.float64),
                       data["intercept"], data["mean_tokens"], float(header["weight"]),
                       str(header["version"]), dict(header.get("meta") or {}),
                       StaticFeatures.from_header(header["features"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DataError(f"{damaged}: {error}") from None


def is_tier_file(path: Path | None) -> bool:
    """Whether `path` is a budget-tier model (so `learned` serves it as `tiered`)."""
    return path is not None and path.is_file() and model_format(path) == FORMAT


def fit_tiers(table: TierTable, matrix: np.ndarray, rows: np.ndarray | None = None,
              weight: float = 0.0, version: str = "tiers") -> TierModel:
    """Per tier, P(right) from the features of `rows` of the table (all rows by default)."""
    from sklearn.linear_model import LogisticRegression

    rows = np.arange(len(table.ids)) if rows is None else rows
    coef = np.zeros((len(table.tiers), matrix.shape[1]))
    intercept = np.zeros(len(table.tiers))
    for tier in range(len(table.tiers)):
        labels = table.right[rows, tier] > 0.5
        if labels.min() == labels.max():  # one class: a constant P(right)
            intercept[tier] = 20.0 if labels[0] else -20.0
            continue
        # Unweighted: the tiers' P(right) are compared with each other, so each must keep its
        # tier's base rate (balanced classes would put every tier at one half).
        model = LogisticRegression(C=StaticFeatures.regularization,
                                   max_iter=3000).fit(matrix[rows], labels)
        coef[tier], intercept[tier] = model.coef_[0], model.intercept_[0]
    return TierModel(table.tiers, coef, intercept, table.tokens[rows].mean(axis=0), weight,
                     version, {"trained_on": [table.name], "questions": len(rows)})


class TieredPolicy(TriagePolicy):
    """Picks the tier (off, or on under a budget) with the best P(right) net of its tokens."""

    name: ClassVar[str] = "tiered"

    def __init__(self, model: TierModel, weight: float | None = None) -> None:
        self.model = model
        self.weight = model.weight if weight is None else weight

    def decide(self, messages: tuple[ChatMessage, ...], budget: int) -> Decision:
        text = triage_text(messages).text
        p_right = self.model.p_right(self.model.features.transform([text]))
        chosen = int(self.model.choose(p_right, self.weight)[0])
        tiers = self.model.tiers
        tier = tiers[chosen]
        net = p_right[0] - self.weight * self.model.mean_tokens / 1000.0
        runner_up = int(np.argsort(net)[-2]) if len(tiers) > 1 else chosen
        cap = tier_budget(tier)
        think = not is_direct(tier)
        chosen_budget = (min(cap, budget) if cap is not None else budget) if think else None
        capped = " (the caller's cap)" if cap is not None and cap > budget else ""
        reason = (f"tier {tier}: P(right) {p_right[0, chosen]:.2f} at ~"
                  f"{self.model.mean_tokens[chosen]:.0f} tokens, net {net[chosen]:.3f} vs "
                  f"{tiers[runner_up]} {net[runner_up]:.3f} (P {p_right[0, runner_up]:.2f}, ~"
                  f"{self.model.mean_tokens[runner_up]:.0f} tokens) at weight {self.weight:g} "
                  f"per 1,000 tokens")
        if think:
            reason = f"think, budget {chosen_budget}{capped}: {reason}"
        else:
            reason = f"answer directly: {reason}"
        return Decision(requested="auto", mode="on" if think else "off", budget=chosen_budget,
                        policy=f"{self.name}@{self.model.version}",
                        score=round(float(p_right[0, chosen]), 3), reason=reason)
