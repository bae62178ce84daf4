"""Which field carries thinking in a chat-completions message or delta.

There is no official field: DeepSeek's API named it `reasoning_content`, and SGLang, llama.cpp
server, LM Studio and LiteLLM followed (as did clients: LiteLLM, Dify and the Vercel AI SDK
read it first); OpenRouter, Ollama and vLLM since late 2025 (after OpenAI's gpt-oss guidance)
send `reasoning`. Sending both makes a client that reads both show each thinking delta twice,
so the server sends one, chosen by `--reasoning-field`; `reasoning_content` by default,
because it is the one most clients read (clients that read `reasoning` mostly fall back to
it, not the other way round).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from thinkswitch.settings import DEFAULT_REASONING_FIELD as DEFAULT_REASONING_FIELD
from thinkswitch.settings import ReasoningField as ReasoningField

FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "reasoning_content": ("reasoning_content",),
    "reasoning": ("reasoning",),
    "both": ("reasoning_content", "reasoning"),
})


def reasoning_fields(text: str, choice: ReasoningField) -> dict[str, str]:
    """`text` under the chosen field name(s)."""
    return dict.fromkeys(FIELDS[choice], text)
