"""Hostile text: how each scanner's time grows with the size of an adversarial input.

Each case runs in a child process under `--timeout` (a super-linear scanner can hold the GIL
for minutes), at each size: characters for the text shapes, deltas or network reads for the
streaming ones, turns for the chat template, values (800 deep) for the Unicode check. Linear
time means ~4x per row step at the default sizes. Run it against another checkout's code with
`PYTHONPATH=<checkout>/src` to compare before and after.

    .venv/bin/python bench/hostile_text.py --timeout 20
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

CASE = """
import json, sys, time
from thinkswitch.bench.extract import extract_answer
from thinkswitch.engines.chat_template import ChatTemplate
from thinkswitch.engines.sse import ChunkReader
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.server.text_check import first_invalid_text
from thinkswitch.shadow.agreement import judge, option_letter
from thinkswitch.thinking.parsers import ThinkTagParser
from thinkswitch.triage.features import cue_vector
name, size = sys.argv[1], int(sys.argv[2])
def run(shape):
    return (shape * (size // len(shape) + 1))[:size]
def parser():
    p = ThinkTagParser("optional")
    for _ in range(size):
        p.feed(" ")
def reader():
    r = ChunkReader("bench")
    for _ in range(size):
        r.feed(b"a")
def template():
    t = ChatTemplate("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}")
    t.render_parts(tuple(ChatMessage(role="user", content="") for _ in range(size)))
def nested():
    document = json.loads("[" * 800 + ",".join(["1"] * size) + "]" * 800)
    started = time.perf_counter()
    first_invalid_text(document)
    return started
cases = {
    "triage choice lines (newline+tab)": lambda: cue_vector(run("\\n\\t")),
    "option letter (newline+tab)": lambda: option_letter(run("\\n\\t")),
    "option letter (answer + blanks)": lambda: option_letter("answer" + run(" ") + "x"),
    "judge option lines (space+newline)": lambda: judge(run(" \\n"), "B", "C"),
    "#### answer (newlines)": lambda: extract_answer(run("\\n")),
    "#### answer (blank run)": lambda: extract_answer("#### a" + run(" ") + "b"),
    "unclosed \\\\boxed{": lambda: extract_answer(run("\\\\boxed{")),
    "\\\\boxed tokens": lambda: extract_answer(run("\\\\boxed")),
    "parser: blank deltas": parser,
    "SSE: one-byte reads of a line": reader,
    "chat template: empty turns": template,
    "Unicode check: values 800 deep": nested,
}
started = time.perf_counter()
late = cases[name]()
print(time.perf_counter() - (late if isinstance(late, float) else started))
"""

SIZES = {"text": (16_000, 64_000, 256_000), "deltas": (50_000, 200_000, 500_000),
         "turns": (2_000, 8_000, 32_000), "values": (25_000, 100_000, 400_000)}
UNITS = {"parser: blank deltas": "deltas", "SSE: one-byte reads of a line": "deltas",
         "chat template: empty turns": "turns", "Unicode check: values 800 deep": "values"}
NAMES = ("triage choice lines (newline+tab)", "option letter (newline+tab)",
         "option letter (answer + blanks)", "judge option lines (space+newline)",
         "#### answer (newlines)", "#### answer (blank run)", "unclosed \\boxed{",
         "\\boxed tokens", *UNITS)


def seconds(name: str, size: int, timeout: float) -> str:
    try:
        done = subprocess.run([sys.executable, "-c", CASE, name, str(size)], capture_output=True,
                              text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return f">{timeout:g}"
    return f"{float(done.stdout):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per case and size")
    args = parser.parse_args()
    started = time.perf_counter()
    for name in NAMES:
        unit = UNITS.get(name, "text")
        cells = [f"{size:,}: {seconds(name, size, args.timeout)} s" for size in SIZES[unit]]
        print(f"{name:38} ({unit}) " + "  ".join(cells), flush=True)
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
