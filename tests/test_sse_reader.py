"""The OpenAI engine's byte-level SSE reader: however the network cuts the stream, the chunks
are those of the stream read line by line, and what orjson refuses is read as before."""

from __future__ import annotations

import random

import pytest

from thinkswitch.engines.sse import ChunkReader, StreamChunk, StreamUsage, parse_chunk
from thinkswitch.kernel.errors import EngineUnavailableError

STREAM = (
    b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"a\\u00e9 \\"q\\""}}]}\n\n'
    b": ping\n\nevent: message\n"
    b'data: {"choices":[{"index":0,"delta":{"content":"b"}}]}\r\n\r\n'
    b'data:{"choices":[{"index":0,"delta":{"content":"\xe6\xbc\xa2"}}]}\r\r'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,'
    b'"completion_tokens_details":{"reasoning_tokens":1}}}\n\n'
    b"data: [DONE]\n\n"
    b'data: {"choices":[{"index":0,"delta":{"content":"after done"}}]}\n\n'
)
EXPECTED = [
    StreamChunk(reasoning='aé "q"'),
    StreamChunk(content="b"),
    StreamChunk(content="漢"),
    StreamChunk(finish_reason="stop"),
    StreamChunk(usage=StreamUsage(prompt_tokens=3, completion_tokens=2, reasoning_tokens=1)),
]


def read(parts: list[bytes]) -> tuple[list[StreamChunk], bool]:
    reader = ChunkReader("upstream")
    chunks: list[StreamChunk] = []
    for part in parts:
        chunks += reader.feed(part)
    return chunks + reader.end(), reader.done


@pytest.mark.parametrize("seed", range(40))
def test_any_cut_of_the_stream_reads_the_same_chunks(seed: int) -> None:
    rng = random.Random(seed)
    parts, at = [], 0
    while at < len(STREAM):
        step = rng.randint(1, 24)
        parts.append(STREAM[at:at + step])
        at += step
    assert read(parts) == (EXPECTED, True)


def test_a_whole_read_gives_every_chunk_it_completed_at_once() -> None:
    reader = ChunkReader("upstream")
    cut = STREAM.index(b"data:{")
    assert reader.feed(STREAM[:cut + 10]) == EXPECTED[:2]  # nothing waits for a later read
    assert reader.feed(STREAM[cut + 10:]) == EXPECTED[2:] and reader.done


def test_a_last_line_without_its_line_end_still_counts() -> None:
    assert read([b'data: {"choices":[{"index":0,"delta":{"content":"x"}}]}']) == (
        [StreamChunk(content="x")], False)


def test_what_orjson_refuses_is_read_as_text_with_replacement_characters() -> None:
    lone = b'data: {"choices":[{"index":0,"delta":{"content":"a\\ud800b"}}]}\n\n'
    broken = b'data: {"choices":[{"index":0,"delta":{"content":"c\xffd"}}]}\n\n'
    chunks, _ = read([lone + broken])
    assert chunks[0] == parse_chunk(lone[6:].decode().strip(), "upstream")
    assert chunks[0].content.startswith("a") and "\ud800" not in chunks[0].content
    assert chunks[1].content == "c\ufffdd"


@pytest.mark.parametrize(("line", "message"), [
    (b"data: {not json}\n\n", "not JSON"),
    (b"data: [1, 2]\n\n", "not an object"),
    (b'data: {"error": {"message": "overloaded"}}\n\n', "failed mid-stream: overloaded"),
])
def test_garbage_and_in_stream_errors_name_the_upstream(line: bytes, message: str) -> None:
    with pytest.raises(EngineUnavailableError, match=message) as caught:
        ChunkReader("http://up/v1").feed(line)
    assert "http://up/v1" in str(caught.value)


def test_fields_of_the_wrong_type_are_empty_and_vllm_reasoning_wins() -> None:
    chunks, _ = read([b'data: {"choices":[{"index":0,"delta":{"reasoning":"r",'
                      b'"reasoning_content":"r","content":5},"finish_reason":7}]}\n\n'
                      b'data: {"choices":[{"index":1,"delta":{"content":"other choice"}}]}\n\n'])
    assert chunks == [StreamChunk(reasoning="r"), StreamChunk()]
