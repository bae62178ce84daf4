"""The optional judge call: the same engine, asked without thinking whether two answers say
the same. Used (with `[triage] shadow_judge = true`) where the local judges cannot tell: long
free text, or an answer they could not read. Its tokens are shadow tokens."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from thinkswitch.kernel.errors import ThinkswitchError
from thinkswitch.kernel.events import AnswerDelta, EngineEvent, UsageReport
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.pairs import Agreement
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan

if TYPE_CHECKING:
    from thinkswitch.switch.pipeline import Switch

#: Answer tokens the judge may write ("yes" or "no" and a little slack).
JUDGE_ANSWER_TOKENS = 8
#: Characters of the question and of each answer shown to the judge.
SHOWN_CHARS = 2000
PROMPT = ("Question:\n{question}\n\nAnswer A:\n{first}\n\nAnswer B:\n{second}\n\n"
          "Do answers A and B give the same final answer to the question? "
          "Reply with one word: yes or no.")
_VERDICT = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def ask_model(switch: Switch, question: str, first: str, second: str,
              guard: Callable[[Iterator[EngineEvent]], Iterator[EngineEvent]] = iter,
              ) -> tuple[Agreement | None, int]:
    """The engine's verdict (None when it gave no yes or no, or failed) and the tokens it
    spent (prompt and answer). `guard` wraps the engine's events (the runner's preemption)."""
    prompt = PROMPT.format(question=question[:SHOWN_CHARS], first=first[:SHOWN_CHARS],
                           second=second[:SHOWN_CHARS])
    generation = GenerationRequest(
        messages=(ChatMessage(role="user", content=prompt),),
        plan=ThinkingPlan(mode="off", budget=None, answer_max_tokens=JUDGE_ANSWER_TOKENS),
        temperature=0.0, seed=0)
    words: list[str] = []
    tokens = 0
    try:
        for event in guard(switch.engine.execute(generation, switch.dialect)):
            if isinstance(event, AnswerDelta):
                words.append(event.text)
            elif isinstance(event, UsageReport):
                tokens = event.prompt_tokens + event.thinking_tokens + event.answer_tokens
    except ThinkswitchError:
        return None, tokens
    found = _VERDICT.search("".join(words))
    if found is None:
        return None, tokens
    agree = found.group(1).lower() == "yes"
    return Agreement(agree=agree, method="judge", note=f"the model said {found.group(1)!r}"), \
        tokens
