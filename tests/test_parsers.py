"""The reasoning-parser matrix, each case checked streaming and non-streaming."""

from __future__ import annotations

import random

import pytest
from support.parsing import ParserCase, parser_cases, run_parser

from thinkswitch.kernel.errors import UnknownNameError
from thinkswitch.thinking.parsers import (
    GraniteParser,
    StartState,
    ThinkTagParser,
    get_parser,
)

CASES = [
    ParserCase("whole", ThinkTagParser, ["<think>a b</think>ans"], "inside", "a b", "ans"),
    ParserCase("tag split across chunks", ThinkTagParser,
        ["<thi", "nk>reas", "oning</th", "ink>", "the answer"], "inside", "reasoning",
        "the answer"),
    ParserCase("end tag and text in one chunk", ThinkTagParser,
        ["<think>", "x y", "z</think>\n\nFinal: 4"], "inside", "x yz", "\n\nFinal: 4"),
    ParserCase("start tag and text in one chunk", ThinkTagParser,
        ["<think>step one", " step two</think>", "42"], "inside", "step one step two", "42"),
    ParserCase("prefilled start, only end in output", ThinkTagParser,
        ["step", " one</think>", "Paris"], "inside", "step one", "Paris"),
    ParserCase("missing end tag is all thinking", ThinkTagParser,
        ["<think>still ", "thinking when cut"], "inside", "still thinking when cut", ""),
    ParserCase("missing end tag keeps a partial tag as thinking", ThinkTagParser,
        ["<think>abc</thi"], "inside", "abc</thi", ""),
    ParserCase("thinking disabled is all answer", ThinkTagParser,
        ["<think>not", " parsed</think>x"], "disabled", "", "<think>not parsed</think>x"),
    ParserCase("optional without tag is all answer", ThinkTagParser,
        ["Paris ", "is the capital"], "optional", "", "Paris is the capital"),
    ParserCase("optional with tag thinks", ThinkTagParser,
        ["\n<think>", "hmm</think>", "Paris"], "optional", "hmm", "Paris"),
    ParserCase("optional empty think block (qwen3 /no_think)", ThinkTagParser,
        ["<think>\n\n</think>\n\n", "Paris"], "optional", "\n\n", "\n\nParis"),
    ParserCase("optional partial start that never completes", ThinkTagParser,
        ["<thi"], "optional", "", "<thi"),
    ParserCase("less-than sign inside thinking", ThinkTagParser,
        ["<think>3 < 4 and </", "b> tag</think>yes"], "inside", "3 < 4 and </b> tag", "yes"),
    ParserCase("granite markers", GraniteParser,
        ["Here is my thought", " process:\nadd them\nHere is my re", "sponse:\n7"], "inside",
        "\nadd them\n", "\n7"),
    ParserCase("empty output", ThinkTagParser, [], "inside", "", ""),
]


@parser_cases(CASES)
def test_parser_matrix(case: ParserCase, streaming: bool) -> None:
    assert run_parser(case.parser, case.chunks, case.start, streaming) == (case.thinking,
                                                                           case.answer)


SCRUB_CASES = [  # the answers with the markers removed
    ParserCase("close marker again after a budget cut", ThinkTagParser,
        ["20", "\n</think>"], "disabled", "", "20\n"),
    ParserCase("close marker split across chunks", ThinkTagParser,
        ["20\n</th", "in", "k>"], "disabled", "", "20\n"),
    ParserCase("close marker split, text after it", ThinkTagParser,
        ["The answer is 4.<", "/think> Done"], "disabled", "", "The answer is 4. Done"),
    ParserCase("start and end markers in the answer", ThinkTagParser,
        ["<think>", "x</think>", "\n<thi", "nk>y"], "disabled", "", "x\ny"),
    ParserCase("stray marker after a real close", ThinkTagParser,
        ["<think>a</think>4", "</think>"], "inside", "a", "4"),
    ParserCase("partial marker at the end stays text", ThinkTagParser,
        ["4 </thi"], "disabled", "", "4 </thi"),
    ParserCase("a less-than sign is not a marker", ThinkTagParser,
        ["3 <", " 4 <b>"], "disabled", "", "3 < 4 <b>"),
    ParserCase("optional: a stray close in a direct answer", ThinkTagParser,
        ["Paris", "</think>"], "optional", "", "Paris"),
    ParserCase("granite markers in the answer", GraniteParser,
        ["7\nHere is my re", "sponse:"], "disabled", "", "7\n"),
    ParserCase("only a marker", ThinkTagParser, ["</think>"], "disabled", "", ""),
]


@parser_cases(SCRUB_CASES)
def test_scrub_removes_thinking_markers_from_the_answer(case: ParserCase, streaming: bool
                                                        ) -> None:
    assert run_parser(case.parser, case.chunks, case.start, streaming, scrub=True) == (
        case.thinking, case.answer)


def test_scrub_holds_back_only_what_may_be_a_marker() -> None:
    """Streaming stays live: text is released as soon as it cannot start a marker."""
    parser = ThinkTagParser("disabled", scrub=True)
    assert [s.text for s in parser.feed("20\n</th")] == ["20\n"]
    assert parser.feed("ink>") == []
    assert [s.text for s in parser.feed(" ok")] == [" ok"]
    assert parser.flush() == []


@pytest.mark.parametrize("start", ["inside", "optional", "disabled"])
def test_every_chunking_gives_the_same_split(start: StartState) -> None:
    rng = random.Random(7)
    text = "  <think>I add 2 and 2. </thin no. 4 < 5</think>\n\nThe answer is 4 </think> ok"
    expected = ThinkTagParser.split(text, start)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(0, 12)))
        chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
        assert run_parser(ThinkTagParser, chunks, start, streaming=True) == expected


def test_in_thinking_tracks_state() -> None:
    parser = ThinkTagParser("inside")
    assert parser.in_thinking
    parser.feed("abc</th")
    assert parser.in_thinking
    parser.feed("ink>x")
    assert parser.in_answer and not parser.in_thinking


def test_registry_error_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match="granite, think_tags"):
        get_parser("nope")
    assert get_parser("granite") is GraniteParser
