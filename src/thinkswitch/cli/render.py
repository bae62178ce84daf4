"""How `ask` shows a streamed answer: decision and thinking (dimmed) on stderr, answer on stdout.

The split lets `thinkswitch ask ... > answer.txt` capture only the answer.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from thinkswitch.cli.terminal_text import shown
from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.events import AnswerDelta, ThinkingDelta
from thinkswitch.kernel.result import Result


class StreamPrinter:
    def __init__(self, out: Console, err: Console, show_thinking: bool) -> None:
        self._out = out
        self._err = err
        self._show_thinking = show_thinking
        self._thinking_open = False

    def decision(self, decision: Decision) -> None:
        budget = f", budget {decision.budget}" if decision.budget else ""
        line = f"[{decision.requested} → {decision.mode}{budget}] {decision.reason}"
        self._err.print(shown(line, style="bold cyan"))

    def delta(self, event: ThinkingDelta | AnswerDelta) -> None:
        if isinstance(event, ThinkingDelta):
            if not self._show_thinking:
                return
            if not self._thinking_open:
                self._err.print(Text("thinking: ", style="dim italic"), end="")
                self._thinking_open = True
            self._err.print(shown(event.text, style="dim"), end="")
            return
        if self._thinking_open:
            self._err.print()
            self._thinking_open = False
        self._out.print(shown(event.text), end="")

    def result(self, result: Result) -> None:
        self._out.print()
        usage, timings = result.usage, result.timings
        first = f"{timings.first_answer_s:.2f}s" if timings.first_answer_s is not None else "-"
        self._err.print(
            shown(
                f"{result.engine}:{result.model} · thinking {usage.thinking_tokens} + answer "
                f"{usage.answer_tokens} tokens (prompt {usage.prompt_tokens}) · first answer "
                f"{first} · total {timings.total_s:.2f}s · finish {result.finish_reason}",
                style="dim",
            )
        )
