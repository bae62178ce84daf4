"""Fuzzing the reasoning parsers: any output, cut into chunks anywhere, streams to the same
(thinking, answer) split as the non-streaming parse, for every dialect's parser and start."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.parsing import run_parser

from thinkswitch.thinking.dialects import DIALECTS
from thinkswitch.thinking.parsers import PARSERS, ReasoningParser, StartState

DIALECT_PARSERS = sorted({dialect.parser for dialect in DIALECTS.values()}, key=lambda p: p.name)
STARTS: tuple[StartState, ...] = ("inside", "optional", "disabled")
# no example database: nothing is written into the checkout
FUZZ = settings(max_examples=250, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def _pieces(parser: type[ReasoningParser]) -> st.SearchStrategy[str]:
    """Text built from marker fragments, so partial and broken markers come up often."""
    markers = [parser.start, parser.end]
    fragments = [m[:cut] for m in markers for cut in range(1, len(m))]
    fragments += [m[cut:] for m in markers for cut in range(1, len(m))]
    return st.lists(
        st.one_of(st.sampled_from(markers + fragments + [" ", "\n", "Wait,", "é", "7"]),
                  st.text(max_size=4)),
        max_size=10,
    ).map("".join)


def _chunked(data: st.DataObject, text: str) -> list[str]:
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)), max_size=12), label="cuts"))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def test_every_dialect_parser_is_registered() -> None:
    assert {parser.name for parser in DIALECT_PARSERS} <= set(PARSERS)
    assert len(DIALECT_PARSERS) >= 2


@pytest.mark.parametrize("scrub", [False, True], ids=["plain", "scrubbed"])
@FUZZ
@given(data=st.data(), parser=st.sampled_from(DIALECT_PARSERS), start=st.sampled_from(STARTS))
def test_random_output_and_chunking_stream_like_the_whole_parse(
    data: st.DataObject, parser: type[ReasoningParser], start: StartState, scrub: bool
) -> None:
    """Any output, cut anywhere, streams to the whole parse's split (plain and scrubbed);
    scrubbing changes only the answer, and the same way at every chunking."""
    text = data.draw(_pieces(parser), label="output")
    chunks = _chunked(data, text)
    assert "".join(chunks) == text
    thinking, answer = run_parser(parser, chunks, start, streaming=True, scrub=scrub)
    assert (thinking, answer) == parser.split(text, start, scrub=scrub)
    assert thinking == parser.split(text, start)[0]


@FUZZ
@given(data=st.data(), parser=st.sampled_from(DIALECT_PARSERS))
def test_whole_markers_in_an_answer_are_removed_at_any_chunking(
    data: st.DataObject, parser: type[ReasoningParser]
) -> None:
    words = st.sampled_from([parser.start, parser.end, " ", "\n", "20", "Wait,", "é"])
    answer_parts = data.draw(st.lists(words, max_size=8), label="answer")
    text = "Final" + "".join(answer_parts)
    chunks = _chunked(data, text)
    _, answer = run_parser(parser, chunks, "disabled", streaming=True, scrub=True)
    expected = "Final" + "".join(p for p in answer_parts if p not in (parser.start, parser.end))
    assert answer == expected


@FUZZ
@given(data=st.data(), parser=st.sampled_from(DIALECT_PARSERS), opened=st.booleans())
def test_a_thinking_then_answer_trace_comes_back_apart_at_any_chunking(
    data: st.DataObject, parser: type[ReasoningParser], opened: bool
) -> None:
    """The output opens with the start marker (or, prefilled, without it), thinks, closes
    the thinking once, then answers: every chunking gives back exactly the two parts."""
    thinking = data.draw(_pieces(parser), label="thinking")
    answer = data.draw(_pieces(parser), label="answer")
    text = (parser.start if opened else "") + thinking + parser.end + answer
    assume(parser.end not in thinking + parser.end[:-1])  # the first end marker is ours
    assume(opened or not text.lstrip().startswith(parser.start))
    chunks = _chunked(data, text)
    assert run_parser(parser, chunks, "inside", streaming=True) == parser.split(
        text, "inside") == (thinking, answer)
    if opened:
        assert run_parser(parser, chunks, "optional", streaming=True) == (thinking, answer)
    assert run_parser(parser, chunks, "disabled", streaming=True) == ("", text)
