"""Answer time after a budget cut: continuing from the KV cache vs a fresh prefill.

thinkswitch closes the thinking at the cap by appending the dialect's end marker to the tokens
already in the KV cache and generating on. The alternative, what a stateless client must do, is
to send prompt + trace + end marker again and prefill it all. For each budget this measures,
on the same token sequence, the time from the cut to the first answer token and to the 16th,
both ways. Target (issue #2): continuation <= 0.25x the fresh time.

    .venv/bin/python bench/budget_continuation.py [--budgets 256,512,1024] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from thinkswitch.engines.llama_cpp import LlamaCppEngine
from thinkswitch.kernel.events import AnswerDelta, ThinkingDelta
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import ThinkingPlan
from thinkswitch.kernel.request import Request
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

QUESTION = "A shop sells pens at 3 dollars and notebooks at 5 dollars. Anna buys 4 pens and " \
    "some notebooks and pays 37 dollars. How many notebooks did she buy? Explain in detail."
ANSWER_TOKENS = 16


def timed_answer(engine: LlamaCppEngine, tokens: list[int]) -> tuple[float, float]:
    """Seconds to the first and to the ANSWER_TOKENS-th token generated after `tokens`."""
    llama = engine.llama
    started = time.perf_counter()
    first = 0.0
    for count, _ in enumerate(llama.generate(tokens, temp=0.0), start=1):
        if count == 1:
            first = time.perf_counter() - started
        if count >= ANSWER_TOKENS:
            break
    return first, time.perf_counter() - started


def thinking_tokens(engine: LlamaCppEngine, prompt: list[int], budget: int) -> list[int]:
    """Greedy thinking of exactly `budget` tokens (an end-of-turn is replaced by 'Wait,')."""
    llama = engine.llama
    out: list[int] = []
    eos = llama.token_eos()
    while len(out) < budget:
        for token in llama.generate([*prompt, *out], temp=0.0):
            if token == eos:
                out += engine.tokenize("\nWait,")
                break
            out.append(token)
            if len(out) >= budget:
                break
    return out[:budget]


def engine_cut_to_answer(engine: LlamaCppEngine, budget: int) -> float:
    """Through the real switch: seconds from the last thinking delta to the first answer text."""
    settings = Settings(temperature=0.0, n_ctx=4096)
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), settings))
    request = Request.build(QUESTION, think="on", budget=budget, min_thinking=budget,
                            answer_max_tokens=ANSWER_TOKENS)
    last_thinking = first_answer = 0.0
    for event in switch.stream(request):
        now = time.perf_counter()
        if isinstance(event, ThinkingDelta):
            last_thinking = now
        elif isinstance(event, AnswerDelta) and event.text.strip() and not first_answer:
            first_answer = now
    return first_answer - last_thinking


def measure(
    engine: LlamaCppEngine, prompt: list[int], budget: int, rounds: int, advance: Callable[[], None]
) -> dict[str, float]:
    dialect = get_dialect("prompted")
    close = engine.tokenize(dialect.close_text)
    cont_first, cont_full, fresh_first, fresh_full, switch_first = [], [], [], [], []
    for _ in range(rounds):
        switch_first.append(engine_cut_to_answer(engine, budget))
        thought = thinking_tokens(engine, prompt, budget)  # leaves prompt+thought in the cache
        sequence = [*prompt, *thought, *close]
        first, full = timed_answer(engine, sequence)
        cont_first.append(first)
        cont_full.append(full)
        engine.llama.reset()  # forget the cache: the next call prefills everything
        first, full = timed_answer(engine, sequence)
        fresh_first.append(first)
        fresh_full.append(full)
        advance()
    return {
        "context_tokens": len(prompt) + budget + len(close),
        "switch_cut_to_answer_s": statistics.median(switch_first),
        "continue_first_s": statistics.median(cont_first),
        "fresh_first_s": statistics.median(fresh_first),
        "continue_answer_s": statistics.median(cont_full),
        "fresh_answer_s": statistics.median(fresh_full),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="256,512,1024")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path,
                        default=Path("bench/results/budget_continuation.json"))
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",")]

    engine = LlamaCppEngine.from_settings(Settings(temperature=0.0, n_ctx=4096))
    dialect = get_dialect("prompted")
    messages = (ChatMessage(role="user", content=QUESTION),)
    plan = ThinkingPlan(mode="on", budget=max(budgets))
    prompt = engine.prompt_tokens(dialect.prepare(messages, plan))

    rows: dict[int, dict[str, float]] = {}
    with Progress(transient=True) as progress:
        task = progress.add_task("budgets x rounds", total=len(budgets) * args.rounds)
        for budget in budgets:
            rows[budget] = measure(engine, prompt, budget, args.rounds,
                                   lambda: progress.advance(task))

    table = Table(title=f"time after the budget cut (median of {args.rounds}, "
                        f"{ANSWER_TOKENS}-token answer)")
    for column in ("budget", "context", "switch: cut→answer", "first token: continue / fresh",
                   "ratio",
                   "answer: continue / fresh", "ratio"):
        table.add_column(column)
    for budget, row in rows.items():
        table.add_row(
            str(budget), str(int(row["context_tokens"])),
            f"{row['switch_cut_to_answer_s'] * 1000:.0f} ms",
            f"{row['continue_first_s'] * 1000:.0f} / {row['fresh_first_s'] * 1000:.0f} ms",
            f"{row['continue_first_s'] / row['fresh_first_s']:.3f}",
            f"{row['continue_answer_s'] * 1000:.0f} / {row['fresh_answer_s'] * 1000:.0f} ms",
            f"{row['continue_answer_s'] / row['fresh_answer_s']:.3f}",
        )
    Console(width=130).print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({str(k): v for k, v in rows.items()}, indent=2))


if __name__ == "__main__":
    main()
