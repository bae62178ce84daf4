"""The auto report as text, JSON, a PNG of the accuracy-against-think-rate curve, and one
self-contained HTML page (the PNG inlined)."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

from thinkswitch.outcomes.estimate import Estimate
from thinkswitch.shadow.report import AutoReport, span

CURVE_PNG = "accuracy_vs_think_rate.png"


def _interval(estimate: Estimate, scale: float = 100.0, unit: str = "%") -> str:
    if estimate.n == 0 or math.isnan(estimate.value):
        return "unknown"
    if math.isnan(estimate.low):
        return f"{estimate.value * scale:.1f}{unit} (n={estimate.n})"
    return (f"{estimate.value * scale:.1f}{unit} (95% CI "
            f"{span(estimate.low * scale, estimate.high * scale)}, n={estimate.n})")


def text_lines(report: AutoReport) -> list[str]:
    lines = [
        report.sentence(),
        f"auto requests: {report.requests:,}; think-rate {report.think_rate:.1%}",
        f"thinking tokens: {report.thinking_tokens:,} used, "
        f"~{report.always_thinking_tokens:,.0f} with always-think "
        f"({report.tokens_saved_share:.1%} saved)",
        f"seconds: {report.seconds:,.1f} used, ~{report.always_seconds:,.1f} with always-think "
        f"({report.seconds_saved:,.1f} s saved)",
        f"shadow pairs: {report.pairs:,} ({report.labelled_pairs:,} with known correctness)",
        f"direct answers the thinking side contradicts: {_interval(report.disagreement)}",
    ]
    if report.accuracy is not None:
        acc = report.accuracy
        lines += [f"estimated accuracy: auto {_interval(acc.auto)}",
                  f"                    always-think {_interval(acc.always)}",
                  f"                    never-think {_interval(acc.never)}",
                  f"auto's loss against always-think: {_interval(acc.loss, unit=' points')}"]
    return lines


def curve_png(report: AutoReport) -> bytes:
    """The estimated curve with its 95% band; auto, always and never marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.4))
    ax = figure.add_subplot()
    points = report.curve
    if points:
        xs = [p.think_rate.value * 100 for p in points]
        ax.plot(xs, [p.accuracy.value * 100 for p in points], color="tab:purple",
                label="policy across its threshold (estimated)")
        ax.fill_between(xs, [p.accuracy.low * 100 for p in points],
                        [p.accuracy.high * 100 for p in points], color="tab:purple", alpha=0.15,
                        label="95% interval")
    if report.accuracy is not None:
        acc = report.accuracy
        ax.errorbar([report.think_rate * 100], [acc.auto.value * 100],
                    yerr=[[(acc.auto.value - acc.auto.low) * 100],
                          [(acc.auto.high - acc.auto.value) * 100]],
                    fmt="o", color="tab:red", capsize=4, label="auto as served", zorder=3)
        ax.plot([0, 100], [acc.never.value * 100, acc.always.value * 100], linestyle="--",
                color="grey", label="random")
    ax.set_xlabel("think-rate (%)")
    ax.set_ylabel("estimated accuracy (%)")
    ax.set_title("auto on live traffic: accuracy against think-rate")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def html_page(report: AutoReport, png: bytes, title: str) -> str:
    rows = "".join(f"<li>{html.escape(line)}</li>" for line in text_lines(report)[1:])
    image = base64.b64encode(png).decode("ascii")
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;"
        "max-width:52rem;margin:2rem auto;line-height:1.5}} .lead{{font-size:1.2rem;"
        "font-weight:bold}}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='lead'>{html.escape(report.sentence())}</p>"
        f"<ul>{rows}</ul><img alt='estimated accuracy against think-rate' "
        f"src='data:image/png;base64,{image}'>"
        "<p>Estimates weight each shadow pair by the inverse of its chance of being shadowed "
        "(Hajek), with linearised (sandwich) 95% intervals floored by pseudo-counts "
        "(Agresti-Min for the loss, Agresti-Coull for accuracies); see the README, "
        "'What auto costs'.</p></body></html>")


def write(report: AutoReport, out: Path, title: str) -> list[Path]:
    """report.json, the curve PNG and report.html in `out`; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    png = curve_png(report)
    written = [out / "report.json", out / CURVE_PNG, out / "report.html"]
    written[0].write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    written[1].write_bytes(png)
    written[2].write_text(html_page(report, png, title), encoding="utf-8")
    return written
