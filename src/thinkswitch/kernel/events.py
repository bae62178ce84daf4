"""The events of one request, as engines produce them and as the switch streams them.

An engine yields `ThinkingDelta` / `AnswerDelta` / `ToolCallDelta` as text is produced, then one
`UsageReport` and one `Finish` (and, asked for `GenerationRequest.logprobs` and able to, one
`TokenLogprobs` before its `UsageReport`). The switch passes the deltas on between its
`Decision` and its `Result`: faces read these types and never an engine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from thinkswitch.kernel.decision import Decision
from thinkswitch.kernel.result import FinishReason, Result


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True, slots=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """Tool-call fragments exactly as an OpenAI-compatible upstream streamed them
    (`delta.tool_calls` items: index, and id/type/function name on the first fragment,
    then pieces of `function.arguments`)."""

    calls: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class TokenLogprobs:
    """Natural-log probability of each generated token under the model's distribution (before
    penalties, temperature and truncation), in generation order."""

    logprobs: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class UsageReport:
    prompt_tokens: int
    thinking_tokens: int
    answer_tokens: int


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason


EngineEvent = (
    ThinkingDelta | AnswerDelta | ToolCallDelta | TokenLogprobs | UsageReport | Finish
)
#: What the switch yields: the `Decision`, the deltas, then the `Result`.
SwitchEvent = Decision | ThinkingDelta | AnswerDelta | ToolCallDelta | Result
