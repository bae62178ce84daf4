"""The budget-tier evaluation as text, JSON and a plot: accuracy and tokens of the chosen tier
at each weight against every fixed tier (`thinkswitch.triage.tier_eval`)."""

from __future__ import annotations

import json
from pathlib import Path

from thinkswitch.bench.plots import _figure, _finish
from thinkswitch.triage.tier_eval import TierEval


def tier_lines(evaluation: TierEval) -> list[str]:
    best = evaluation.best_fixed
    lines = [f"{evaluation.table} ({evaluation.questions} questions, out-of-fold): "
             f"best fixed tier {best.label} {best.accuracy:.1%} / {best.tokens:.0f} tok",
             f"{'':<22}{'accuracy':>9}{'tokens':>9}{'vs best':>9}{'tokens':>8}  "
             "(95% CI of the difference) tiers chosen"]
    for point in evaluation.fixed:
        lines.append(f"fixed {point.label:<16}{point.accuracy:>9.1%}{point.tokens:>9.0f}"
                     f"{(point.accuracy - best.accuracy) * 100:>+8.1f}p"
                     f"{_share(point.tokens, best.tokens):>8}")
    for weight, point in zip(evaluation.weights, evaluation.chosen, strict=True):
        mix = ", ".join(f"{tier} {share:.0%}" for tier, share in
                        zip(evaluation.tiers, point.shares, strict=True) if share >= 0.005)
        lines.append(f"chosen, weight {weight:<7g}{point.accuracy:>9.1%}{point.tokens:>9.0f}"
                     f"{(point.accuracy - best.accuracy) * 100:>+8.1f}p"
                     f"{_share(point.tokens, best.tokens):>8}  ({_ci(point.versus_best)}) {mix}")
    lines.append(f"default weight (trained models carry it): {evaluation.default_weight():g}")
    return lines


def _ci(interval: tuple[float, float] | None) -> str:
    return "-" if interval is None else f"{interval[0] * 100:+.1f} to {interval[1] * 100:+.1f}p"


def _share(tokens: float, best: float) -> str:
    return f"{tokens / best:.0%}" if best else "-"


def write_tier_report(evaluations: list[TierEval], out: Path) -> list[Path]:
    """tiers.json and one PNG per table (accuracy against mean tokens)."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "tiers.json"]
    written[0].write_text(json.dumps([e.as_dict() for e in evaluations], indent=2) + "\n")
    for evaluation in evaluations:
        figure, ax = _figure()
        ax.plot([p.tokens for p in evaluation.fixed], [p.accuracy * 100 for p in evaluation.fixed],
                marker="o", color="grey", label="fixed tiers")
        for point in evaluation.fixed:
            ax.annotate(point.label, (point.tokens, point.accuracy * 100), fontsize=7,
                        textcoords="offset points", xytext=(4, -10))
        ax.plot([p.tokens for p in evaluation.chosen],
                [p.accuracy * 100 for p in evaluation.chosen], marker="s", color="tab:purple",
                label="chosen tier (across the token weight)")
        _finish(ax, "mean generated tokens per question",
                f"{evaluation.table}: chosen vs fixed budget tiers")
        path = out / f"tiers-{evaluation.table.replace(':', '_').replace('/', '_')}.png"
        figure.savefig(path, dpi=120, bbox_inches="tight")
        written.append(path)
    return written
