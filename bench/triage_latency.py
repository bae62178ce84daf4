"""Decision latency of the triage policies, and the learned model's load time.

Each policy decides every question of a replay table (real questions: exams with passages,
SimpleQA, GSM8K), one call at a time; p50 and p99 of the per-call time are reported.
Targets (issue #4): p50 <= 1 ms, p99 <= 5 ms, model load <= 200 ms (the shipped model and
the token table its features read, from disk, in a fresh state).

    .venv/bin/python bench/triage_latency.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.outcomes.paired import load_paired
from thinkswitch.settings import Settings
from thinkswitch.triage.learned import LearnedModel, LearnedPolicy, default_model_path
from thinkswitch.triage.rules import RulesPolicy
from thinkswitch.triage.static_features import unload_token_tables

SUITES = ("replay:concise_cot/gpt-35-turbo", "replay:simpleqa/Qwen3-8B", "replay:routellm_gsm8k")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/triage_latency.json"))
    args = parser.parse_args()
    questions = [item.question for name in SUITES
                 for item in load_paired(Settings().data_dir, name).items if item.question]

    loads = []
    for _ in range(5):
        unload_token_tables()  # a cold load reads the token table too
        started = time.perf_counter()
        model = LearnedModel.load(default_model_path())
        loads.append(time.perf_counter() - started)
    policies = {"rules": RulesPolicy(), "learned": LearnedPolicy(model)}
    results: dict[str, dict[str, float]] = {}
    for name, policy in policies.items():
        policy.decide((ChatMessage(role="user", content="warm up"),), 1024)
        times = []
        for question in track(questions * args.repeat, description=name, transient=True):
            messages = (ChatMessage(role="user", content=question),)
            started = time.perf_counter()
            policy.decide(messages, 1024)
            times.append(time.perf_counter() - started)
        values = np.array(times) * 1000
        results[name] = {"p50_ms": float(np.percentile(values, 50)),
                         "p99_ms": float(np.percentile(values, 99)),
                         "max_ms": float(values.max()), "calls": len(values)}
    results["learned"]["load_ms_median"] = float(np.median(loads) * 1000)

    table = Table(title=f"triage decision latency over {len(questions)} real questions")
    for column in ("policy", "calls", "p50 ms", "p99 ms", "max ms", "model load ms"):
        table.add_column(column)
    for name, row in results.items():
        load = f"{row['load_ms_median']:.1f}" if "load_ms_median" in row else "-"
        table.add_row(name, str(int(row["calls"])), f"{row['p50_ms']:.3f}",
                      f"{row['p99_ms']:.3f}", f"{row['max_ms']:.2f}", load)
    Console(width=120).print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
