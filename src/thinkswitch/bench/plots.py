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
        _oracle(ax, paired.oracle.tokens, paired.oracle.accuracy)
    _finish(ax, "mean generated tokens per question", f"{summary.suite}: accuracy vs compute")
    return figure


def _oracle(ax: Axes, x: float, accuracy: float) -> None:
    ax.scatter([x], [accuracy * 100], marker="*", s=160, color="gold", edgecolor="black",
               zorder=4, label="oracle")


def _finish(ax: Axes, xlabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


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
    _oracle(ax, paired.oracle.think_rate * 100, paired.oracle.accuracy)
    if paired.policy_point is not None:
        ax.scatter([paired.policy_point.think_rate * 100], [paired.policy_point.accuracy * 100],
                   s=70, color="tab:red", zorder=4, label=f"{paired.policy} live decisions")
    _finish(ax, "think-rate (% of questions thought on)",
            f"{summary.suite}: accuracy vs think-rate")
    return figure
