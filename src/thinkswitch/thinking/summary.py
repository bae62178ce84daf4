"""A summary of a thinking trace, taken from the trace itself (no second model call).

The Responses API's `reasoning.summary` asks for a summary of the model's reasoning. A model
that wrote the trace would need a second pass to summarise it, costing tokens and latency the
switch exists to save; so the summary is extractive: `concise` (and `auto`) is the last step of
the trace (where a model states what it concluded), `detailed` is the first sentence of every
step. Both are cut at `MAX_CHARS`, on a word boundary.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

MAX_CHARS = 600
_STEP_BREAK = re.compile(r"\n\s*\n|\n(?=\s*(?:\d+[.)]|[-*•]) )")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def steps_of(thinking: str) -> list[str]:
    """The trace's steps: paragraphs, or list lines, without blank ones."""
    return [step.strip() for step in _STEP_BREAK.split(thinking) if step.strip()]


def _cut(text: str, limit: int = MAX_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    return (head.rsplit(" ", 1)[0] if " " in head else head) + "…"


def _concise(thinking: str) -> str:
    steps = steps_of(thinking)
    return _cut(steps[-1]) if steps else ""


def _detailed(thinking: str) -> str:
    firsts = [_SENTENCE_END.split(step, maxsplit=1)[0] for step in steps_of(thinking)]
    return _cut(" ".join(firsts))


SUMMARIZERS: Mapping[str, Callable[[str], str]] = MappingProxyType(
    {"auto": _concise, "concise": _concise, "detailed": _detailed})


def summarize(thinking: str, kind: str) -> str:
    """The summary of `thinking` of that kind (`auto`, `concise`, `detailed`)."""
    return SUMMARIZERS[kind](thinking)
