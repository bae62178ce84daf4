"""The OpenAI engine's byte-level SSE reader: however the network cuts the stream, the chunks
are those of the stream read line by line, and what orjson refuses is read as before."""

from __future__ import annotations

import json
import random

import pytest

from thinkswitch.engines.sse import (
    ChunkReader,
    StreamChunk,
    StreamUsage,
    _fast_chunk,
    chunk_of,
    parse_chunk,
)
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


#: payloads of every shape the fast decoder must read as `chunk_of` of their JSON reads them,
#: or hand on to it: odd types, several choices, duplicate keys, error fields, big numbers
SHAPES = [
    b'{"id":"x","object":"chat.completion.chunk","created":0,"model":"m",'
    b'"choices":[{"index":0,"delta":{"reasoning_content":" w1"},"finish_reason":null}]}',
    b'{"choices":[{"index":0,"delta":{"reasoning":"vllm","reasoning_content":"old"}}]}',
    b'{"choices":[{"index":0,"delta":{"reasoning":"","reasoning_content":"old"}}]}',
    b'{"choices":[{"index":0,"delta":{"reasoning":5,"content":["x"]}}]}',
    b'{"choices":[{"index":1,"delta":{"content":"second"}},{"delta":{"content":"first"}}]}',
    b'{"choices":[{"index":"0","delta":{"content":"string index"}}]}',
    b'{"choices":[{"index":null,"delta":{"content":"null index"}}]}',
    b'{"choices":[{"index":0,"delta":null,"finish_reason":"length"}]}',
    b'{"choices":[{"index":0,"delta":{},"finish_reason":""}]}',
    b'{"choices":[{"index":0,"delta":{},"finish_reason":7}]}',
    b'{"choices":[{"index":0,"delta":{"content":"a","content":"b"}}],"choices":[]}',
    b'{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c"},3,"x"]}}]}',
    b'{"choices":[{"index":0,"delta":{"tool_calls":{"index":0}}}]}',
    b'{"choices":null,"usage":{"prompt_tokens":3,"completion_tokens":true}}',
    b'{"choices":[],"usage":{"prompt_tokens":123456789012345678901234567890}}',
    b'{"choices":[],"usage":"none"}',
    b'{"choices":"nope"}',
    b'{"choices":[1,{"index":0,"delta":{"content":"after a number"}}]}',
    b'{"choices":[{"index":0,"delta":"text"}]}',
    b'{"choices":[{"index":0,"delta":{"content":"\\ud83d\\ude00 \\u00e9"}}]}',
    b'{"error":null,"choices":[{"index":0,"delta":{"content":"null error"}}]}',
    b'{"message":"","choices":[{"index":0,"delta":{"content":"empty message"}}]}',
    b'{"detail":null,"choices":[{"index":0,"delta":{"content":"null detail"}}]}',
    b'{}',
]


@pytest.mark.parametrize("payload", SHAPES)
def test_every_payload_shape_reads_as_its_json_says(payload: bytes) -> None:
    """`ChunkReader` decodes the common shape straight into its fields (msgspec) and hands
    the rest to `chunk_of`: both give what `chunk_of` of the parsed JSON gives."""
    expected = chunk_of(json.loads(payload), "upstream")
    chunks, _ = read([b"data: " + payload + b"\n\n"])
    assert chunks == [expected]


@pytest.mark.parametrize("payload", [
    b'{"error":{"message":"overloaded"},"choices":[]}',
    b'{"object":"error","message":"bad things"}',
    b'{"detail":"went wrong"}',
])
def test_error_fields_still_end_the_stream_with_their_message(payload: bytes) -> None:
    reader = ChunkReader("upstream")
    with pytest.raises(EngineUnavailableError, match="failed mid-stream"):
        reader.feed(b"data: " + payload + b"\n\n")


def test_the_common_shape_takes_the_fast_decoder_and_error_fields_do_not() -> None:
    assert _fast_chunk(SHAPES[0]) == StreamChunk(reasoning=" w1")
    assert _fast_chunk(b'{"choices":[],"usage":{"prompt_tokens":3}}') == StreamChunk(
        usage=StreamUsage(prompt_tokens=3))
    assert _fast_chunk(b'{"error":null,"choices":[]}') is None
    assert _fast_chunk(b'{"choices":[{"index":0,"delta":"text"}]}') is None
    assert _fast_chunk(b'{"choices":[{"delta":{"content":"\\ud800"}}]}') is None


def test_a_payload_nested_past_the_parsers_is_the_upstreams_failure() -> None:
    """msgspec, orjson and the standard library each give up on deep nesting (at different
    depths): the line is then the upstream's garbage, never a RecursionError."""
    deep = b'{"choices":[{"index":0,"delta":{"tool_calls":' + b"[" * 100_000 + b"]" * 100_000
    assert _fast_chunk(deep + b"}}]}") is None
    with pytest.raises(EngineUnavailableError, match="not JSON"):
        ChunkReader("upstream").feed(b"data: " + deep + b"}}]}\n\n")
