"""The `cascade` policy live on the embedded engine: accuracy, think-rate, tokens and time on
GSM8K for never / always / cascade, and what recording log-probabilities costs.

Part 1 (overhead): the same greedy generation through `Llama.generate`, interleaved rounds,
plain vs with the `SampledLogprobs` logits processor vs a second model loaded with
`logits_all=True` (the slow way the cascade avoids).

Part 2 (GSM8K): per item, three real runs through the switch: `off` (never), `on` under the
budget (always), and `auto` with `CascadePolicy(--threshold)` (real cascade: its usage includes
the fast attempt). At temperature 0 the fast attempt is the same generation as `off` and the
thinking run the same as `on`, so the cascade at the other thresholds is derived from those
runs and the measured confidence: kept -> off's answer and tokens; thinks -> on's answer, off's
tokens + on's tokens, off's time + on's time. The derivation is checked against the real
cascade run (same answer, same tokens) and mismatches are counted in the output.

    .venv/bin/python bench/cascade.py [--items 30] [--budget 128] [--answer-cap 64]
    .venv/bin/python bench/cascade.py --overhead-only --rounds 7 \
        --out bench/results/cascade_overhead.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from thinkswitch.bench.suites import load_live_suite
from thinkswitch.engines.llama_cpp import LlamaCppEngine, SampledLogprobs, default_threads
from thinkswitch.engines.model_files import resolve_model_path
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import ThinkingPlan
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.cascade import CascadePolicy
from thinkswitch.triage.rules import RulesPolicy

OVERHEAD_QUESTION = "Write a long, detailed story about a dragon who learns to bake bread."


def overhead(engine: LlamaCppEngine, settings: Settings, rounds: int, tokens: int,
             repeat: int = 1) -> dict[str, Any]:
    from llama_cpp import Llama, LogitsProcessorList

    dialect = get_dialect("prompted")
    question = " ".join([OVERHEAD_QUESTION] * repeat)  # a long prompt shows logits_all's cost
    messages = (ChatMessage(role="user", content=question),)
    prompt = engine.prompt_tokens(dialect.prepare(messages, ThinkingPlan(mode="off")))

    # The same file loaded the slow way (the engine itself always loads with logits_all=False).
    all_logits = Llama(model_path=str(resolve_model_path(settings.model)), n_ctx=settings.n_ctx,
                       n_threads=settings.n_threads or default_threads(), verbose=False,
                       logits_all=True)

    def run(llama: Any, processor: bool) -> tuple[float, list[int]]:
        recorder = SampledLogprobs()
        processors = LogitsProcessorList([recorder]) if processor else None
        out: list[int] = []
        llama.reset()
        started = time.perf_counter()
        for token in llama.generate(prompt, temp=0.0, top_k=40, min_p=0.05, repeat_penalty=1.1,
                                    logits_processor=processors):
            if processor:
                recorder.take(token)
            out.append(token)
            if len(out) >= tokens:
                break
        return len(out) / (time.perf_counter() - started), out

    speeds: dict[str, list[float]] = {"plain": [], "processor": [], "logits_all": []}
    texts: dict[str, list[int]] = {}
    run(engine.llama, True)  # warm-up, not counted
    run(all_logits, False)
    for _ in range(rounds):
        for label, llama, processor in (("plain", engine.llama, False),
                                        ("processor", engine.llama, True),
                                        ("logits_all", all_logits, False)):
            speed, out = run(llama, processor)
            speeds[label].append(speed)
            texts[label] = out
    all_logits.close()
    median = {label: statistics.median(values) for label, values in speeds.items()}
    return {
        "tokens": tokens, "rounds": rounds, "prompt_tokens": len(prompt),
        "tokens_per_s_median": median, "tokens_per_s_all": speeds,
        "processor_slowdown": median["plain"] / median["processor"],
        "logits_all_slowdown": median["plain"] / median["logits_all"],
        "same_tokens": texts["plain"] == texts["processor"] == texts["logits_all"],
    }


def _row(result: Result) -> dict[str, Any]:
    usage = result.usage
    return {"answer": result.answer, "mode": result.decision.mode,
            "score": result.decision.score, "reason": result.decision.reason,
            "prompt": usage.prompt_tokens, "thinking": usage.thinking_tokens,
            "answer_tokens": usage.answer_tokens, "probe": usage.probe_tokens,
            "generated": usage.thinking_tokens + usage.answer_tokens,
            "seconds": result.timings.total_s}


def gsm8k(engine: LlamaCppEngine, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    suite = load_live_suite("gsm8k", settings.data_dir, args.items, args.seed)
    dialect = get_dialect("prompted")
    plain = Switch(SwitchParts(engine, dialect, RulesPolicy(), settings))
    cascade = Switch(SwitchParts(engine, dialect, CascadePolicy(args.threshold), settings))
    rows = []
    for index, item in enumerate(suite.items):
        runs = {}
        for label, switch, think in (("never", plain, "off"), ("always", plain, "on"),
                                     ("cascade", cascade, "auto")):
            result = switch.run(Request.build(item.prompt, think=think, budget=args.budget))
            row = _row(result)
            row["correct"] = suite.checker.check(item, result.answer).correct
            runs[label] = row
        rows.append({"id": item.id, **runs})
        with args.out.with_suffix(".partial.jsonl").open("a", encoding="utf-8") as partial:
            partial.write(json.dumps(rows[-1]) + "\n")  # kept if the run is stopped
        print(f"{index + 1}/{len(suite.items)} {item.id}: confidence "
              f"{1 - runs['cascade']['score']:.3f} -> {runs['cascade']['mode']}", flush=True)
    return {"rows": rows, "summary": summarize(rows, args.thresholds, args.threshold)}


def summarize(rows: list[dict[str, Any]], thresholds: list[float], real: float
              ) -> dict[str, Any]:
    def point(label: str, picks: list[dict[str, Any]], generated: list[int],
              seconds: list[float], thought: list[bool]) -> dict[str, Any]:
        return {"policy": label, "accuracy": statistics.fmean(p["correct"] for p in picks),
                "think_rate": statistics.fmean(thought),
                "mean_generated_tokens": statistics.fmean(generated),
                "mean_seconds": statistics.fmean(seconds)}

    never = [r["never"] for r in rows]
    always = [r["always"] for r in rows]
    points = [
        point("never", never, [r["generated"] for r in never], [r["seconds"] for r in never],
              [False] * len(rows)),
        point("always", always, [r["generated"] for r in always],
              [r["seconds"] for r in always], [True] * len(rows)),
    ]
    for threshold in sorted({*thresholds, real}):
        picks, generated, seconds, thought = [], [], [], []
        for r in rows:
            confidence = 1 - r["cascade"]["score"]
            think = confidence < threshold
            picks.append(r["always"] if think else r["never"])
            generated.append(r["never"]["generated"] + (r["always"]["generated"] if think else 0))
            seconds.append(r["never"]["seconds"] + (r["always"]["seconds"] if think else 0.0))
            thought.append(think)
        points.append(point(f"cascade@{threshold:g} (derived)", picks, generated, seconds,
                            thought))
    real_rows = [r["cascade"] for r in rows]
    points.append(point(f"cascade@{real:g} (real runs)", real_rows,
                        [r["generated"] for r in real_rows], [r["seconds"] for r in real_rows],
                        [r["mode"] == "on" for r in real_rows]))
    mismatches = 0
    for r in rows:
        expected = r["always"] if r["cascade"]["mode"] == "on" else r["never"]
        extra = r["never"]["generated"] if r["cascade"]["mode"] == "on" else 0
        if (r["cascade"]["answer"] != expected["answer"]
                or r["cascade"]["generated"] != expected["generated"] + extra):
            mismatches += 1
    confidences = sorted(1 - r["cascade"]["score"] for r in rows)
    quantiles = {f"think_rate_{rate:.0%}": confidences[min(len(confidences) - 1,
                                                          round(rate * len(confidences)))]
                 for rate in (0.25, 0.5, 0.75)}
    return {"points": points, "derivation_mismatches": mismatches,
            "confidence_quantiles": quantiles, "confidences": confidences}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=128)
    parser.add_argument("--answer-cap", type=int, default=64)
    parser.add_argument("--threshold", type=float, default=0.7, help="the real cascade run's")
    parser.add_argument("--thresholds", type=float, nargs="*", default=[0.5, 0.6, 0.8])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--overhead-tokens", type=int, default=128)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--overhead-only", action="store_true")
    parser.add_argument("--prompt-repeat", type=int, default=1,
                        help="overhead prompt: the question repeated N times")
    parser.add_argument("--out", type=Path, default=Path("bench/results/cascade.json"))
    args = parser.parse_args()

    settings = Settings(temperature=0.0, seed=0, n_ctx=2048, answer_max_tokens=args.answer_cap)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".partial.jsonl").unlink(missing_ok=True)
    engine = LlamaCppEngine.from_settings(settings)
    report: dict[str, Any] = {"args": {k: (str(v) if isinstance(v, Path) else v)
                                       for k, v in vars(args).items()},
                              "model": engine.model, "threads": default_threads()}
    if not args.skip_overhead:
        report["overhead"] = overhead(engine, settings, args.rounds, args.overhead_tokens,
                                      args.prompt_repeat)
        print(json.dumps({k: v for k, v in report["overhead"].items()
                          if k != "tokens_per_s_all"}, indent=1), flush=True)
    if not args.overhead_only:
        started = time.perf_counter()
        report["gsm8k"] = gsm8k(engine, settings, args)
        report["gsm8k_wall_s"] = time.perf_counter() - started
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    if args.overhead_only:
        return
    summary = report["gsm8k"]["summary"]
    for p in summary["points"]:
        print(f"{p['policy']:<28} accuracy {p['accuracy']:.1%}  think-rate {p['think_rate']:.0%}"
              f"  tokens {p['mean_generated_tokens']:.0f}  seconds {p['mean_seconds']:.2f}")
    print(f"derivation mismatches: {summary['derivation_mismatches']}; confidence quantiles "
          f"{summary['confidence_quantiles']}; wrote {args.out}")


if __name__ == "__main__":
    main()
