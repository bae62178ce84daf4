"""Reasoning parsers: split a model's output into thinking and answer.

A parser only names its two markers; the base class does the work, streaming (`feed` /
`flush`) and non-streaming (`split`), and the two give the same split for every chunking
(the tests check it). Where the thinking starts is a property of the prompt, not the parser:

- ``inside``: the prompt already opened the thinking (a prefilled ``<think>``); everything is
  thinking until the end marker. A start marker at the very beginning is consumed if present.
- ``optional``: the output is thinking only if it opens with the start marker.
- ``disabled``: thinking is off; everything is answer.

A missing end marker leaves everything after the start as thinking.

With ``scrub=True`` the answer never carries the thinking's markup: a start or end marker in
the answer (a model that writes ``</think>`` again after a budget cut closed its thinking) is
removed, the same way streaming and not. Markers are removed in one left-to-right scan of the
answer, so text that only becomes a marker once another is removed stays as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Literal

from thinkswitch.kernel.errors import UnknownNameError

StartState = Literal["inside", "optional", "disabled"]
SegmentKind = Literal["thinking", "answer"]


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    text: str


def _partial_suffix(text: str, marker: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `marker`."""
    for size in range(min(len(text), len(marker) - 1), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


class ReasoningParser:
    """Base parser; a subclass sets `start` and `end`."""

    name: ClassVar[str]
    start: ClassVar[str]
    end: ClassVar[str]

    def __init__(self, start_state: StartState = "inside", *, scrub: bool = False) -> None:
        self._start_state = start_state
        self._scrub = scrub
        self._buffer = ""
        # While the start is pending, blank deltas are held as a list and leading blanks already
        # seen are not rescanned: per-delta rescans of a growing buffer are quadratic in deltas.
        self._blanks: list[str] = []
        self._blank = 0
        self._state: Literal["pending", "thinking", "answer"] = (
            "answer" if start_state == "disabled" else "pending"
        )

    @property
    def in_thinking(self) -> bool:
        """True while new text would count as thinking."""
        if self._state == "pending":
            return self._start_state == "inside"
        return self._state == "thinking"

    @property
    def in_answer(self) -> bool:
        return self._state == "answer"

    def feed(self, text: str) -> list[Segment]:
        """Consume a chunk of output; return the segments that are certain so far."""
        out: list[Segment] = []
        if self._state == "pending":
            if not self._buffer and text.isspace():
                self._blanks.append(text)
                return out
            self._buffer = "".join((*self._blanks, self._buffer, text))
            self._blanks = []
            self._resolve_start()
        else:
            self._buffer += text
        if self._state == "thinking":
            self._scan_thinking(out)
        if self._state == "answer" and self._buffer:
            ready = self._buffer
            if self._scrub:
                ready, self._buffer = self._scrub_ready(self._buffer)
            else:
                self._buffer = ""
            if ready:
                out.append(Segment("answer", ready))
        return out

    def flush(self) -> list[Segment]:
        """End of output: release held-back text under the current state."""
        text, self._buffer = "".join((*self._blanks, self._buffer)), ""
        self._blanks = []
        if not text:
            return []
        kind: SegmentKind = "thinking" if self.in_thinking else "answer"
        return [Segment(kind, text)]

    @classmethod
    def _markers(cls) -> re.Pattern[str]:
        return re.compile(f"{re.escape(cls.start)}|{re.escape(cls.end)}")

    @classmethod
    def scrub_text(cls, text: str) -> str:
        """`text` without the thinking markers (one left-to-right scan)."""
        return cls._markers().sub("", text)

    def _scrub_ready(self, text: str) -> tuple[str, str]:
        """(answer text that is certain, text held back as the start of a possible marker)."""
        keep = max(_partial_suffix(text, self.start), _partial_suffix(text, self.end))
        head = text[: len(text) - keep]
        pattern = self._markers()
        # A marker that starts in `head` may end in the held-back tail: scan whole matches.
        cleaned: list[str] = []
        position = 0
        for match in pattern.finditer(text):
            if match.start() >= len(head):
                break
            cleaned.append(text[position : match.start()])
            position = match.end()
        if position > len(head):
            return "".join(cleaned), text[position:]
        cleaned.append(text[position : len(head)])
        return "".join(cleaned), text[len(head) :]

    def _resolve_start(self) -> None:
        stripped = self._buffer[self._blank :].lstrip()
        if stripped.startswith(self.start):
            self._buffer = stripped[len(self.start) :]
            self._state = "thinking"
        elif not stripped or self.start.startswith(stripped):
            self._blank = len(self._buffer) - len(stripped)
        else:
            self._state = "thinking" if self._start_state == "inside" else "answer"

    def _scan_thinking(self, out: list[Segment]) -> None:
        index = self._buffer.find(self.end)
        if index >= 0:
            if index:
                out.append(Segment("thinking", self._buffer[:index]))
            self._buffer = self._buffer[index + len(self.end) :]
            self._state = "answer"
            return
        keep = _partial_suffix(self._buffer, self.end)
        ready = self._buffer[: len(self._buffer) - keep]
        if ready:
            out.append(Segment("thinking", ready))
        self._buffer = self._buffer[len(ready) :]

    @classmethod
    def split(
        cls, text: str, start_state: StartState = "inside", *, scrub: bool = False
    ) -> tuple[str, str]:
        """Non-streaming split of a whole output into (thinking, answer)."""
        thinking, answer = cls._split(text, start_state)
        return thinking, cls.scrub_text(answer) if scrub else answer

    @classmethod
    def _split(cls, text: str, start_state: StartState) -> tuple[str, str]:
        if start_state == "disabled":
            return "", text
        stripped = text.lstrip()
        if stripped.startswith(cls.start):
            body = stripped[len(cls.start) :]
        elif start_state == "inside":
            body = text
        else:
            return "", text
        index = body.find(cls.end)
        if index < 0:
            return body, ""
        return body[:index], body[index + len(cls.end) :]


class ThinkTagParser(ReasoningParser):
    """`<think>` … `</think>`: DeepSeek-R1, Qwen3, QwQ and the prompted dialect."""

    name = "think_tags"
    start = "<think>"
    end = "</think>"


class GraniteParser(ReasoningParser):
    """IBM Granite 3.x thinking mode."""

    name = "granite"
    start = "Here is my thought process:"
    end = "Here is my response:"


class ThoughtTagParser(ReasoningParser):
    """`<thought>` … `</thought>`: Gemini's OpenAI-compatible endpoint with include_thoughts."""

    name = "thought_tags"
    start = "<thought>"
    end = "</thought>"


PARSERS: Mapping[str, type[ReasoningParser]] = MappingProxyType(
    {parser.name: parser for parser in (ThinkTagParser, GraniteParser, ThoughtTagParser)}
)


def get_parser(name: str) -> type[ReasoningParser]:
    try:
        return PARSERS[name]
    except KeyError:
        raise UnknownNameError("reasoning parser", name, PARSERS) from None
