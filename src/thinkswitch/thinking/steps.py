"""Split a thinking trace into steps people can point at.

A step is a paragraph, a numbered or "Step N" line, or one of the model's own turns
("Wait,", "Alternatively,", ...) that starts a new line of thought inside a paragraph. Each step
carries its 1-based index and character offsets into the thinking text, so
`thinking[step.start:step.end]` is the step, and flags on step N mean the same text forever:
the split is a pure function of the text, computed once and stored with the trace.
"""

from __future__ import annotations

import itertools
import re
from typing import Literal

from thinkswitch.kernel.result import Step

StepKind = Literal["paragraph", "numbered", "turn"]

# A line that starts an enumerated step: "1.", "2)", "(3)", "Step 4:", "- ", "* ", "• ".
_NUMBERED = re.compile(
    r"^[ \t]*(?:\(?\d{1,3}[.)](?=\s)|step\s+\d{1,3}\b|[-*\u2022](?=\s))", re.IGNORECASE
)
# The model changing course mid-paragraph: such a sentence starts a step of its own.
_TURNS = (
    "wait", "but wait", "alternatively", "hmm", "actually", "on second thought",
    "let me check", "let me double-check", "let me verify", "let me re-check", "hold on",
    "however, wait", "no, wait", "oh wait",
)
_TURN = re.compile(
    r"(?:(?<=[.!?:])[ \t]+|(?<=\n)[ \t]*)(?=(?:" + "|".join(re.escape(t) for t in _TURNS)
    + r")\b[,.!:]?)",
    re.IGNORECASE,
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# A text (lowercased) that opens with a turn: any of them followed by a word boundary.
_TURN_START = re.compile("(?:" + "|".join(re.escape(t) for t in _TURNS) + r")\b")


def split_steps(thinking: str) -> list[Step]:
    """The steps of `thinking`, in order, covering all of its non-blank text."""
    spans: list[tuple[int, int, StepKind]] = []
    for start, end in _paragraphs(thinking):
        for line_start, line_end, kind in _numbered_blocks(thinking, start, end):
            spans.extend(_turns(thinking, line_start, line_end, kind))
    return [Step(index=i, start=s, end=e, kind=k) for i, (s, e, k) in enumerate(spans, 1)]


def _trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _paragraphs(text: str) -> list[tuple[int, int]]:
    spans, position = [], 0
    for brk in _PARAGRAPH_BREAK.finditer(text):
        spans.append((position, brk.start()))
        position = brk.end()
    spans.append((position, len(text)))
    return [span for s, e in spans if (span := _trimmed(text, s, e)) is not None]


def _numbered_blocks(text: str, start: int, end: int) -> list[tuple[int, int, StepKind]]:
    """A paragraph cut before each numbered line; text before the first one is a paragraph."""
    cuts: list[tuple[int, StepKind]] = [(start, "paragraph")]
    position = start
    for line in text[start:end].splitlines(keepends=True):
        if _NUMBERED.match(line):
            if position == start:
                cuts[0] = (start, "numbered")
            else:
                cuts.append((position, "numbered"))
        position += len(line)
    blocks = []
    for (cut, kind), (following, _) in zip(cuts, [*cuts[1:], (end, "paragraph")], strict=True):
        span = _trimmed(text, cut, following)
        if span is not None:
            blocks.append((span[0], span[1], kind))
    return blocks


def _turns(text: str, start: int, end: int, kind: StepKind) -> list[tuple[int, int, StepKind]]:
    """A block cut before each sentence that turns the reasoning ("Wait, ...")."""
    cuts = [match.end() + start for match in _TURN.finditer(text[start:end]) if match.end() > 0]
    pieces: list[tuple[int, int, StepKind]] = []
    bounds = [start, *[c for c in cuts if start < c < end], end]
    for index, (s, e) in enumerate(itertools.pairwise(bounds)):
        span = _trimmed(text, s, e)
        if span is not None:
            pieces.append((span[0], span[1], kind if index == 0 else "turn"))
    if pieces and pieces[0][2] != "turn" and _starts_with_turn(text, pieces[0][0]):
        pieces[0] = (pieces[0][0], pieces[0][1], "turn")
    return pieces


def _starts_with_turn(text: str, start: int) -> bool:
    return _TURN_START.match(text[start:start + 40].lower()) is not None
