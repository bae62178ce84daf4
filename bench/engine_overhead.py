"""Generation tokens/s through thinkswitch vs raw llama-cpp-python, same process and prompt.

Runs are interleaved (ours, raw create_completion, raw generate loop, ours, ...) so drift in
machine speed hits all three alike. Greedy decoding makes every run produce the same tokens.
Target (issue #2): thinkswitch / raw create_completion >= 0.95.

    .venv/bin/python bench/engine_overhead.py [--rounds 7] [--tokens 256]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from thinkswitch.engines.llama_cpp import LlamaCppEngine
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import ThinkingPlan
from thinkswitch.kernel.request import Request
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

QUESTION = "Write a long, detailed story about a dragon who learns to bake bread."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    parser.add_argument("--out", type=Path, default=Path("bench/results/engine_overhead.json"))
    args = parser.parse_args()

    settings = Settings(temperature=0.0, n_ctx=2048, answer_max_tokens=args.tokens,
                        n_threads=args.threads)
    engine = LlamaCppEngine.from_settings(settings)
    dialect = get_dialect("prompted")
    switch = Switch(SwitchParts(engine, dialect, RulesPolicy(), settings))
    request = Request.build(QUESTION, think="off")
    messages = (ChatMessage(role="user", content=QUESTION),)
    prompt = dialect.prepare(messages, ThinkingPlan(mode="off", answer_max_tokens=args.tokens))
    prompt_tokens = engine.prompt_tokens(prompt)
    llama = engine.llama

    def ours() -> int:
        return switch.run(request).usage.answer_tokens

    def raw_completion() -> int:
        count = 0
        for _ in llama.create_completion(
            prompt_tokens, max_tokens=args.tokens, temperature=0.0, top_k=40, top_p=0.95,
            min_p=0.05, repeat_penalty=1.1, stream=True,
        ):
            count += 1
        return count

    def raw_generate() -> int:
        count = 0
        eos = llama.token_eos()
        for token in llama.generate(prompt_tokens, temp=0.0, top_k=40, top_p=0.95, min_p=0.05,
                                    repeat_penalty=1.1):
            if token == eos:
                break
            llama.detokenize([token])
            count += 1
            if count >= args.tokens:
                break
        return count

    runners = {"thinkswitch": ours, "raw create_completion": raw_completion,
               "raw generate loop": raw_generate}
    rates: dict[str, list[float]] = {name: [] for name in runners}
    counts: dict[str, int] = {}
    with Progress(transient=True) as progress:
        task = progress.add_task("interleaved rounds", total=args.rounds * len(runners))
        for _ in range(args.rounds + 1):
            for name, run in runners.items():
                started = time.perf_counter()
                tokens = run()
                elapsed = time.perf_counter() - started
                counts[name] = tokens
                rates[name].append(tokens / elapsed)
                progress.advance(task)
    medians = {name: statistics.median(values[1:]) for name, values in rates.items()}  # warm-up
    ratio = medians["thinkswitch"] / medians["raw create_completion"]
    ratio_bare = medians["thinkswitch"] / medians["raw generate loop"]

    table = Table(title=f"generation tokens/s, median of {args.rounds} interleaved rounds")
    for column in ("runner", "tokens", "median tok/s", "min", "max"):
        table.add_column(column)
    for name, values in rates.items():
        table.add_row(name, str(counts[name]), f"{medians[name]:.1f}",
                      f"{min(values[1:]):.1f}", f"{max(values[1:]):.1f}")
    console = Console(width=130)
    console.print(table)
    console.print(f"ratio thinkswitch / raw create_completion = {ratio:.3f} (target >= 0.95)")
    console.print(f"ratio thinkswitch / raw generate loop     = {ratio_bare:.3f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"medians_tok_s": medians, "tokens": counts,
                                    "ratio_vs_create_completion": ratio,
                                    "ratio_vs_generate_loop": ratio_bare}, indent=2))


if __name__ == "__main__":
    main()
