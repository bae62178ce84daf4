"""The two plots of a suite: accuracy against mean tokens (the Pareto view) and accuracy
against think-rate (policies against random)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from thinkswitch.bench.summary import SuiteSummary

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _figure() -> tuple[Figure, Axes]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.4))
    return figure, figure.add_subplot()


def pareto_figure(summary: SuiteSummary) -> Figure:
    figure, ax = _figure()
    for mode in summary.modes:
        ax.scatter([mode.mean_tokens], [mode.accuracy * 100], s=60, zorder=3,
                   label=f"mode {mode.label}")
    paired = summary.paired
    if paired is not None:
        xs = [p.tokens for p in paired.curve.points]
        ys = [p.accuracy * 100 for p in paired.curve.points]
        ax.plot(xs, ys, color="tab:purple", label=f"{paired.policy} (across knob)")
        ax.plot([paired.never.tokens, paired.always.tokens],
                [paired.never.accuracy * 100, paired.always.accuracy * 100],
                linestyle="--", color="grey", label="random")
        ax.scatter([paired.oracle.tokens], [paired.oracle.accuracy * 100], marker="*",
                   s=160, color="gold", edgecolor="black", zorder=4, label="oracle")
    ax.set_xlabel("mean generated tokens per question")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{summary.suite}: accuracy vs compute")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return figure


def _apgr(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def think_rate_figure(summary: SuiteSummary) -> Figure | None:
    paired = summary.paired
    if paired is None:
        return None
    figure, ax = _figure()
    rates = [p.think_rate * 100 for p in paired.curve.points]
    ax.plot(rates, [p.accuracy * 100 for p in paired.curve.points], color="tab:purple",
            label=f"{paired.policy} (APGR {_apgr(paired.gap.apgr)})")
    ax.plot([0, 100], [paired.never.accuracy * 100, paired.always.accuracy * 100],
            linestyle="--", color="grey", label="random (APGR 0.50)")
    ax.scatter([paired.oracle.think_rate * 100], [paired.oracle.accuracy * 100], marker="*",
               s=160, color="gold", edgecolor="black", zorder=4, label="oracle")
    if paired.policy_point is not None:
        ax.scatter([paired.policy_point.think_rate * 100], [paired.policy_point.accuracy * 100],
                   s=70, color="tab:red", zorder=4, label=f"{paired.policy} live decisions")
    ax.set_xlabel("think-rate (% of questions thought on)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{summary.suite}: accuracy vs think-rate")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return figure
