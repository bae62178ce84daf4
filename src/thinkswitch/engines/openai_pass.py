"""One streamed call of the `openai` engine: thinking and answer apart, counted, and stopped
where budget forcing says.

- Thinking arrives either in a separate delta field (`reasoning` / `reasoning_content`, when
  the server runs a reasoning parser) or inside `content` with the dialect's markers, which the
  dialect's parser splits. Once a reasoning field has been seen, content is answer only (the
  server's parser already split it, so it is not scrubbed either).
- Token counts. When the final usage chunk reports `completion_tokens_details.reasoning_tokens`
  (OpenAI) those are the thinking tokens; otherwise thinking tokens are the number of
  non-empty thinking deltas (vLLM and llama.cpp server send about one token per delta), and
  answer tokens are `completion_tokens` minus those when reported, else answer deltas too.
  A stream closed early (at the budget, or at an early end of thinking) never reports usage,
  so there the delta counts stand.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

from thinkswitch.engines.sse import StreamChunk, StreamUsage
from thinkswitch.kernel.events import AnswerDelta, EngineEvent, ThinkingDelta, ToolCallDelta
from thinkswitch.thinking.forcing import BudgetForcing, PassEnd
from thinkswitch.thinking.parsers import ReasoningParser, Segment


@dataclass
class PassResult:
    """What one streamed call produced, besides the events it yielded."""

    thinking: int = 0
    answer: int = 0
    trace: list[str] = field(default_factory=list)
    usage: StreamUsage | None = None
    finish: str | None = None
    end: PassEnd = "done"
    answered: bool = False

    def tokens(self) -> tuple[int, int, int]:
        """(prompt, thinking, answer) tokens, from the usage chunk where it is trustworthy."""
        usage = self.usage or StreamUsage()
        prompt = usage.prompt_tokens or 0
        if self.end in ("cut", "early"):
            return prompt, self.thinking, self.answer
        thinking = self.thinking if usage.reasoning_tokens is None else usage.reasoning_tokens
        if usage.completion_tokens is None:
            return prompt, thinking, self.answer
        return prompt, thinking, max(0, usage.completion_tokens - thinking)


@dataclass
class Totals:
    """Tokens over every call of one request."""

    prompt: int = 0
    thinking: int = 0
    answer: int = 0

    def add(self, result: PassResult, *, all_answer: bool = False) -> None:
        prompt, thinking, answer = result.tokens()
        self.prompt += prompt
        if all_answer:
            self.answer += thinking + answer
        else:
            self.thinking += thinking
            self.answer += answer


Pass = Generator[EngineEvent, None, PassResult]


def stream_pass(
    chunks: Generator[StreamChunk, None, None],
    parser: ReasoningParser,
    forcing: BudgetForcing,
    *,
    spent: int = 0,
    answer_only: bool = False,
) -> Pass:
    """Stream one call, `spent` thinking tokens into the request. A thinking pass stops where
    `forcing` says (a cut, or an early end of thinking) and says whether the model ended with
    thinking and no answer; an `answer_only` pass drops thinking text (it still counts)."""
    result = PassResult()
    server_split = False
    forced = not answer_only
    # fixed for the pass (waits are used up between passes): whether a budget can cut it,
    # and whether an end of thinking can come too early
    cuts = forced and forcing.thinking_on and forcing.budget is not None
    waits = forced and forcing.can_wait
    try:
        for reasoning, content, finish, usage, tool_calls in chunks:
            if usage is not None:
                result.usage = usage
            if finish:
                result.finish = finish
            if tool_calls:
                result.answer += 1
                result.answered = True
                yield ToolCallDelta(tool_calls)
            if reasoning:
                server_split = True
                result.thinking += 1
                if not answer_only:
                    result.trace.append(reasoning)
                    yield ThinkingDelta(reasoning)
                if cuts and forcing.cut_now(spent + result.thinking, in_thinking=True):
                    result.end = "cut"
                    return result
            if not content:
                continue
            if server_split:  # the server split thinking off: content is answer, as it is
                result.answer += 1
                if waits and forcing.closed_early(spent + result.thinking):
                    result.end = "early"
                    return result
                if not result.answered and content.strip():
                    result.answered = True
                yield AnswerDelta(content)
                continue
            segments = parser.feed(content)
            kinds = {segment.kind for segment in segments}
            thinking = "thinking" in kinds or (not kinds and parser.in_thinking)
            result.thinking += int(thinking)
            result.answer += int(not thinking)
            early = waits and parser.in_answer and forcing.closed_early(spent + result.thinking)
            for segment in segments:
                if segment.kind == "answer" and early:
                    break
                yield from _emit(segment, result, answer_only)
            if early:
                result.end = "early"
                return result
            if cuts and forcing.cut_now(spent + result.thinking, parser.in_thinking):
                result.end = "cut"
                return result
        for segment in parser.flush():
            yield from _emit(segment, result, answer_only)
        if forced and _ended_without_answer(result, forcing):
            result.end = "no_answer"
        return result
    finally:
        chunks.close()


def _ended_without_answer(result: PassResult, forcing: BudgetForcing) -> bool:
    """The model finished a thinking request with thinking and no answer: it ended inside its
    thinking, or the server put everything in `reasoning_content`."""
    return (forcing.thinking_on and result.finish in (None, "stop") and result.thinking > 0
            and not result.answered)


def _emit(segment: Segment, result: PassResult, answer_only: bool) -> Iterator[EngineEvent]:
    if segment.kind == "answer":
        result.answered = result.answered or bool(segment.text.strip())
        yield AnswerDelta(segment.text)
    elif not answer_only:
        result.trace.append(segment.text)
        yield ThinkingDelta(segment.text)
