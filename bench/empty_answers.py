"""Empty answers and thinking markup in answers, over many thinking requests on the embedded engine.

With thinking on, a small model often ends inside its thinking (end of sequence before the
close marker), and after a budget cut it may write the close marker again. Budget forcing
closes such thinking and asks for the answer (`thinking_ended`), and the reasoning parser
removes a stray marker from the answer. This runs `--requests` thinking requests through the
real switch on the packaged model (a mix of short questions written for this bench and GSM8K
questions, small budgets, the default temperature, one seed per request) and counts answers
that are empty and answers that carry `<think>` / `</think>`. Target (issue #17): 0 and 0.

    .venv/bin/python bench/empty_answers.py [--requests 200] [--budgets 32,64,96,128]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import Counter

from thinkswitch.bench.math_suites import read_jsonl
from thinkswitch.engines.llama_cpp import LlamaCppEngine
from thinkswitch.kernel.request import Request
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

SHORT_QUESTIONS = (
    "What is 12*3?",
    "What is 7 + 15?",
    "What is the capital of France?",
    "Is 17 a prime number?",
    "How many legs does a spider have?",
    "What is 100 divided by 4?",
    "Name a color of the sky.",
    "Tom has 3 boxes with 4 apples in each box. How many apples does Tom have?",
    "What is the square root of 81?",
    "Which is heavier, a kilogram of iron or a kilogram of feathers?",
    "Spell the word 'cat' backwards.",
    "What day comes after Monday?",
)
MARKERS = ("<think>", "</think>")


def questions(settings: Settings, gsm8k: int) -> list[str]:
    """The short questions, interleaved with the first `gsm8k` GSM8K test questions."""
    path = settings.data_dir / "benchmarks" / "gsm8k" / "test.jsonl"
    long = [str(row["question"]) for _, row in itertools.islice(read_jsonl(path), gsm8k)]
    mixed = [q for pair in itertools.zip_longest(SHORT_QUESTIONS, long) for q in pair if q]
    return mixed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--budgets", default="32,64,96,128")
    parser.add_argument("--answer-max-tokens", type=int, default=48)
    parser.add_argument("--gsm8k", type=int, default=12, help="GSM8K questions in the mix")
    parser.add_argument("--show", type=int, default=5, help="offending answers to print")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]

    settings = Settings(n_ctx=2048)
    engine = LlamaCppEngine.from_settings(settings)
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(),
                                settings))  # no recorder
    pool = questions(settings, args.gsm8k)
    finishes: Counter[str] = Counter()
    empty: list[dict[str, object]] = []
    markup: list[dict[str, object]] = []
    thinking_tokens = 0
    started = time.perf_counter()
    for index in range(args.requests):
        question = pool[index % len(pool)]
        budget = budgets[index % len(budgets)]
        result = switch.run(Request.build(question, think="on", budget=budget, seed=index,
                                          answer_max_tokens=args.answer_max_tokens))
        finishes[result.finish_reason] += 1
        thinking_tokens += result.usage.thinking_tokens
        case = {"index": index, "budget": budget, "question": question[:60],
                "answer": result.answer[-80:], "finish": result.finish_reason}
        if not result.answer.strip():
            empty.append(case)
        if any(marker in result.answer for marker in MARKERS):
            markup.append(case)
    elapsed = time.perf_counter() - started
    engine.close()
    for label, cases in (("empty", empty), ("markup", markup)):
        for case in cases[: args.show]:
            print(f"{label}: {json.dumps(case)}")
    print(json.dumps({
        "requests": args.requests, "budgets": budgets, "questions": len(pool),
        "empty_answers": len(empty), "answers_with_markup": len(markup),
        "finish_reasons": dict(sorted(finishes.items())),
        "mean_thinking_tokens": round(thinking_tokens / max(1, args.requests), 1),
        "seconds": round(elapsed, 1),
    }))


if __name__ == "__main__":
    main()
