"""The OpenAI face's fast chunk encoding says exactly what `json.dumps` of the chunk says, and
batched streaming keeps order and the high-water bound."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from thinkswitch.server.openai_stream import ChunkEncoder
from thinkswitch.server.streaming import iterate_batches_in_thread
from thinkswitch.settings import ReasoningField

TEXTS = [" w1", "", 'a "quoted" \\ back', "line\nbreak\ttab", "é ü 漢字 🙂", "\u2028\x00",
         "</script>"]


def payload(sse: str) -> object:
    assert sse.startswith("data: ") and sse.endswith("\n\n")
    return json.loads(sse[len("data: "):-2])


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize(("field", "names"), [
    ("reasoning_content", ("reasoning_content",)),
    ("reasoning", ("reasoning",)),
    ("both", ("reasoning_content", "reasoning")),
])
def test_delta_templates_equal_the_whole_chunk_through_json(
        text: str, field: ReasoningField, names: tuple[str, ...]) -> None:
    encoder = ChunkEncoder("chatcmpl-1", 'model "x"', 1700000000, field)
    envelope = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
                "model": 'model "x"'}

    def whole(delta: dict[str, str]) -> object:
        return {**envelope, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}

    assert payload(encoder.answer(text)) == whole({"content": text})
    assert payload(encoder.thinking(text)) == whole(dict.fromkeys(names, text))
    assert payload(encoder.chunk({"content": text})) == whole({"content": text})
    assert list(json.loads(encoder.answer(text)[6:])) == ["id", "object", "created", "model",
                                                          "choices"]


def test_batches_keep_order_and_end_with_the_error() -> None:
    def source() -> Iterator[int]:
        yield from range(300)
        raise ValueError("upstream broke")

    got: list[int] = []
    sizes: list[int] = []

    async def run() -> None:
        async for batch in iterate_batches_in_thread(source(), high_water=16, max_batch=16):
            sizes.append(len(batch))
            got.extend(batch)
            await asyncio.sleep(0.001)

    with pytest.raises(ValueError, match="upstream broke"):
        asyncio.run(run())
    assert got == list(range(300))
    assert max(sizes) <= 16 and len(sizes) < 300  # batched, within the bound
