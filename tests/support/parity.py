"""One streaming/non-streaming parity check per face: the same request asked both ways, the
stream folded back into one answer, and the two compared field by field. A face's stream must
say what its whole answer says (thinking, answer, finish, usage, the switch's decision)."""

from __future__ import annotations

from typing import Any

import anthropic
import openai


def openai_parity(client: openai.OpenAI, **request: Any) -> dict[str, Any]:
    """Ask `/v1/chat/completions` whole and streamed; assert they agree; return the folded
    answer (thinking, answer, finish_reason, usage, decision)."""
    whole = client.chat.completions.create(**request, stream=False)
    message = whole.choices[0].message
    expected = {
        "thinking": (message.model_extra or {}).get("reasoning_content") or "",
        "answer": message.content or "",
        "finish_reason": whole.choices[0].finish_reason,
        "usage": (whole.usage.prompt_tokens, whole.usage.completion_tokens,
                  whole.usage.completion_tokens_details.reasoning_tokens)
        if whole.usage and whole.usage.completion_tokens_details else None,
        "decision": (whole.model_extra or {})["thinkswitch"]["decision"],
    }
    thinking, answer = [], []
    finish: str | None = None
    usage = None
    decision = None
    for chunk in client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}):
        extra = chunk.model_extra or {}
        if "thinkswitch" in extra and "decision" in extra["thinkswitch"]:
            decision = extra["thinkswitch"]["decision"]
        if chunk.usage is not None and chunk.usage.completion_tokens_details is not None:
            usage = (chunk.usage.prompt_tokens, chunk.usage.completion_tokens,
                     chunk.usage.completion_tokens_details.reasoning_tokens)
        for choice in chunk.choices:
            delta_extra = choice.delta.model_extra or {}
            thinking.append(delta_extra.get("reasoning_content") or "")
            answer.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    streamed = {"thinking": "".join(thinking).strip(), "answer": "".join(answer).strip(),
                "finish_reason": finish, "usage": usage, "decision": decision}
    assert streamed == expected
    return streamed


def _block(block: Any) -> dict[str, Any]:
    """A content block as compared: text stripped (a whole answer is, deltas are not), a
    thinking block's signature present (it signs the text as that form sent it)."""
    fields = block.model_dump(exclude_none=True)
    if "signature" in fields:
        assert fields.pop("signature")
    return {key: value.strip() if key in ("text", "thinking") else value
            for key, value in fields.items()}


def anthropic_parity(client: anthropic.Anthropic, **request: Any) -> dict[str, Any]:
    """Ask `/v1/messages` whole and streamed; assert the streamed final message says what
    the whole one says (blocks, stop reason, usage); return its parts."""
    whole = client.messages.create(**request)
    with client.messages.stream(**request) as stream:
        for _ in stream:
            pass
        final = stream.get_final_message()
    blocks = [_block(block) for block in whole.content]
    assert [_block(block) for block in final.content] == blocks
    assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == (
        whole.stop_reason, whole.usage.input_tokens, whole.usage.output_tokens)
    return {"blocks": blocks, "stop_reason": whole.stop_reason,
            "usage": (whole.usage.input_tokens, whole.usage.output_tokens)}


def _response_parts(response: Any) -> dict[str, Any]:
    """What a Responses response says: its items' kinds, reasoning, text (stripped: a whole
    answer is, the items a stream ends with are its deltas joined), status, usage and the
    switch's decision."""
    thinking = [part.text for item in response.output if item.type == "reasoning"
                for part in (item.content or [])]
    text = [part.text for item in response.output if item.type == "message"
            for part in item.content if part.type == "output_text"]
    usage = response.usage
    return {"items": [item.type for item in response.output],
            "thinking": "".join(thinking).strip(), "answer": "".join(text).strip(),
            "status": response.status,
            "usage": (usage.input_tokens, usage.output_tokens,
                      usage.output_tokens_details.reasoning_tokens) if usage else None,
            "decision": (response.model_extra or {})["thinkswitch"]["decision"]}


def responses_parity(client: openai.OpenAI, **request: Any) -> dict[str, Any]:
    """Ask `/v1/responses` whole and streamed; assert the deltas fold into what the whole
    response says and the final streamed response says the same; return its parts."""
    expected = _response_parts(client.responses.create(**request, stream=False))
    thinking, answer = [], []
    final = None
    for event in client.responses.create(**request, stream=True):
        if event.type == "response.reasoning_text.delta":
            thinking.append(event.delta)
        elif event.type == "response.output_text.delta":
            answer.append(event.delta)
        elif event.type in ("response.completed", "response.incomplete"):
            final = event.response
    assert final is not None, "the stream ended without response.completed"
    assert _response_parts(final) == expected
    assert ("".join(thinking).strip(), "".join(answer).strip()) == (
        expected["thinking"], expected["answer"])
    return expected
