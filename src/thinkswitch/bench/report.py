"""Write a bench report: report.json, report.md (tables), PNG plots and one self-contained
report.html that embeds them."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
import re
from pathlib import Path
from typing import Any

from thinkswitch.bench.plots import pareto_figure, think_rate_figure
from thinkswitch.bench.summary import PairedSummary, SuiteSummary
from thinkswitch.outcomes.metrics import Point

MAX_CURVE_POINTS = 101


def _clean(value: Any) -> Any:
    """JSON-safe: dataclasses to dicts, NaN to null, long curves thinned."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "points"):
            points = value.points
            step = max(1, math.ceil(len(points) / MAX_CURVE_POINTS))
            kept = [*points[::step], *([points[-1]] if (len(points) - 1) % step else [])]
            return {"points": [_clean(p) for p in kept]}
        return {f.name: _clean(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.1%}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _point_row(name: str, point: Point) -> str:
    return f"| {name} | {_pct(point.accuracy)} | {_num(point.tokens)} | {_pct(point.think_rate)} |"


def suite_markdown(summary: SuiteSummary) -> str:
    lines = [f"## {summary.suite}", "", f"engine `{summary.engine}`, model `{summary.model}`", ""]
    lines += [
        "| mode | n | accuracy (95% CI) | thinking tokens mean / median | tokens mean / median "
        "| latency s | think-rate | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for m in summary.modes:
        lines.append(
            f"| {m.label} | {m.n} | {_pct(m.accuracy)} ({_pct(m.ci_low)}–{_pct(m.ci_high)}) "
            f"| {_num(m.mean_thinking)} / {_num(m.median_thinking)} "
            f"| {_num(m.mean_tokens)} / {_num(m.median_tokens)} "
            f"| {_num(m.mean_latency_s, 2)} | {_pct(m.think_rate)} | {m.errors} |"
        )
    if summary.paired is not None:
        lines += ["", *_paired_markdown(summary.paired)]
    lines += [f"- {note}" for note in summary.notes]
    return "\n".join(lines) + "\n"


def _paired_markdown(paired: PairedSummary) -> list[str]:
    gap = paired.gap
    apgr = "- (thinking does not raise accuracy here)" if gap.apgr is None else f"{gap.apgr:.3f}"
    lines = [
        f"never = `{paired.off_label}`, always = `{paired.on_label}`"
        + (f" ({paired.note})" if paired.note else ""),
        "",
        "| strategy | accuracy | mean tokens | think-rate |",
        "| --- | --- | --- | --- |",
        _point_row("never think", paired.never),
        _point_row("always think", paired.always),
        _point_row("oracle", paired.oracle),
        *(_point_row(f"random @ {rate}", point) for rate, point in paired.random.items()),
    ]
    if paired.policy_point is not None:
        lines.append(_point_row(f"{paired.policy} (live decisions)", paired.policy_point))
    lines += [
        "",
        f"policy `{paired.policy}` across its knob: APGR {apgr}, "
        f"CPT(50%) {_pct(gap.cpt50)}, CPT(80%) {_pct(gap.cpt80)}, AUC {gap.auc:.3f}, "
        f"accuracy at half of always-think's tokens "
        f"{_pct(paired.accuracy_at_half_always_tokens)} (random: APGR 0.500, CPT(80%) 80.0%)",
    ]
    return lines


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def write_report(summaries: list[SuiteSummary], out: Path) -> dict[str, Path]:
    """Write every report file into `out`; returns them by kind."""
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    plots: list[tuple[str, Path]] = []
    for summary in summaries:
        for kind, figure in (("pareto", pareto_figure(summary)),
                             ("think_rate", think_rate_figure(summary))):
            if figure is None:
                continue
            path = out / f"{_slug(summary.suite)}_{kind}.png"
            figure.savefig(path, dpi=110, bbox_inches="tight")
            plots.append((f"{summary.suite}: {kind.replace('_', '-')}", path))
            written[f"{summary.suite}:{kind}"] = path
    data = {"suites": [_clean(s) for s in summaries]}
    (out / "report.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    markdown = "# thinkswitch bench report\n\n" + "\n".join(suite_markdown(s) for s in summaries)
    (out / "report.md").write_text(markdown, encoding="utf-8")
    (out / "report.html").write_text(_html(markdown, plots), encoding="utf-8")
    written.update({"json": out / "report.json", "md": out / "report.md",
                    "html": out / "report.html"})
    return written


def _html(markdown: str, plots: list[tuple[str, Path]]) -> str:
    body: list[str] = []
    table: list[str] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-", " "} for c in cells):
                tag = "th" if not table else "td"
                table.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
            continue
        if table:
            body.append("<table>" + "".join(table) + "</table>")
            table = []
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('# '))}</h{level}>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    for title, path in plots:
        encoded = base64.b64encode(path.read_bytes()).decode("ascii")
        body.append(f"<figure><img alt='{html.escape(title)}' src='data:image/png;base64,"
                    f"{encoded}'><figcaption>{html.escape(title)}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
             "padding:4px 8px;text-align:right}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>thinkswitch bench"
            f"</title><style>{style}</style></head><body>{''.join(body)}</body></html>")
