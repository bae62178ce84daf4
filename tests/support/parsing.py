"""Running a reasoning parser both ways, streaming and whole, for the parser tests.

As vLLM's reasoning-parser tests do, a case runs once fed chunk by chunk (`feed`, then
`flush`) and once on the joined text (`split`): both must give the same (thinking, answer).
`parser_cases` parametrizes a test over a table of cases and over both ways.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

import pytest

from thinkswitch.thinking.parsers import ReasoningParser, StartState

F = TypeVar("F", bound=Callable[..., object])


class ParserCase(NamedTuple):
    """One row of a parser table: its id, the parser, the model's output in chunks, the start
    state, and the expected thinking and answer."""

    id: str
    parser: type[ReasoningParser]
    chunks: list[str]
    start: StartState
    thinking: str
    answer: str


def run_parser(
    parser: type[ReasoningParser], chunks: Sequence[str], start: StartState, streaming: bool,
    scrub: bool = False,
) -> tuple[str, str]:
    """Parse `chunks` one way or the other and return (thinking, answer)."""
    if not streaming:
        return parser.split("".join(chunks), start, scrub=scrub)
    instance = parser(start, scrub=scrub)
    segments = [segment for chunk in chunks for segment in instance.feed(chunk)]
    segments += instance.flush()
    thinking = "".join(s.text for s in segments if s.kind == "thinking")
    answer = "".join(s.text for s in segments if s.kind == "answer")
    return thinking, answer


def parser_cases(cases: Sequence[ParserCase]) -> Callable[[F], F]:
    """Parametrize a test taking `case` and `streaming` over `cases`, each both ways (test ids
    `<case id>-streaming` and `<case id>-whole`)."""

    def decorate(test: F) -> F:
        each_case = pytest.mark.parametrize("case", cases, ids=[case.id for case in cases])
        both_ways = pytest.mark.parametrize("streaming", [True, False],
                                            ids=["streaming", "whole"])
        marked: F = both_ways(each_case(test))
        return marked

    return decorate
