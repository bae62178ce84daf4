"""One request's generation on llama.cpp, as the passes budget forcing strings together.

Generation runs token by token through `Llama.generate`, which reuses the KV cache for the
longest common prefix of the token list it is given. Budget forcing (`thinking.forcing`)
therefore costs no re-prefill: to cut or close, the dialect's closing text is appended to the
tokens already generated and generation goes on; to wait, the thinking so far is re-tokenised
with "Wait," appended and generation goes on from there.

Thinking tokens are counted with the model's own tokenizer: a generated token counts as
thinking when the reasoning parser is inside the thinking at the moment it arrives (so the
model's own end marker counts); injected "Wait," tokens count too, injected close text does not.

A forced answer is never empty: while the answer is still blank, `AnswerFirst` keeps the
model's end-of-generation tokens from being sampled (a model that ended inside its thinking
tends to end again right after the close marker). A thinking request whose model ends with no
answer (inside its thinking, or right after closing it) is such a forced answer.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

import numpy as np

from thinkswitch.kernel.events import AnswerDelta, EngineEvent, ThinkingDelta
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.kernel.result import FinishReason
from thinkswitch.thinking.dialects import Dialect, PromptPlan
from thinkswitch.thinking.forcing import BudgetForcing, ForcedReason, PassEnd
from thinkswitch.thinking.parsers import ReasoningParser, Segment

Pass = Generator[EngineEvent, None, PassEnd]


class AnswerFirst:
    """A llama.cpp logits processor that forbids ending while `active` (the answer is blank)."""

    def __init__(self, eog: Iterable[int]) -> None:
        self._eog = np.array(sorted(eog), dtype=np.intp)
        self.active = True

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.active:
            scores[self._eog] = -np.inf
        return scores


class LlamaRun:
    """The `ForcingHost` of the embedded engine: the token list, the parser and the counters
    of one generation; every pass continues the same token list (and so the same KV cache)."""

    def __init__(
        self,
        llama: Any,
        eog: frozenset[int],
        tokenize: Callable[[str], list[int]],
        tokens: list[int],
        prompt: PromptPlan,
        request: GenerationRequest,
        dialect: Dialect,
        n_ctx: int,
        record: Callable[[int], None] | None = None,
        processors: tuple[Any, ...] = (),
    ) -> None:
        """`record` sees every generated token (the logprob recorder's `take`), `processors`
        are llama.cpp logits processors for every pass."""
        plan = request.plan
        self._llama = llama
        self._eog = eog
        self._tokenize = tokenize
        self._request = request
        self._dialect = dialect
        self._n_ctx = n_ctx
        self._record = record
        self._processors = processors
        self.base = list(tokens)
        self.tokens = list(tokens)
        self.thinking_on = plan.mode == "on"
        self.forcing = BudgetForcing.for_plan(plan.mode, plan.budget or n_ctx, plan.min_thinking)
        self.parser: ReasoningParser = dialect.parser(prompt.start_state, scrub=True)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.thinking_tokens = 0
        self.answer_tokens = 0
        self.thinking_text: list[str] = []
        self.answered = False  # some non-blank answer text was emitted
        self.finish: FinishReason = "stop"
        self.guard: AnswerFirst | None = None

    def think(self) -> Pass:
        return (yield from self._pass(self._processors))

    def extend(self, text: str) -> EngineEvent:
        """The thinking so far + `text`, re-tokenised and re-counted: the next pass goes on
        from there (the KV cache keeps the common prefix)."""
        self.thinking_text.append(text)
        thinking = self._tokenize("".join(self.thinking_text))
        self.thinking_tokens = len(thinking)
        self.tokens = [*self.base, *thinking]
        self.parser = self._dialect.parser("inside", scrub=True)
        return ThinkingDelta(text)

    def answer(self, reason: ForcedReason) -> Pass:
        if not self.parser.in_answer:  # else the model closed its thinking itself
            self.tokens = [*self.tokens, *self._tokenize(self._dialect.close_text)]
        self.parser = self._dialect.parser("disabled", scrub=True)
        self.guard = AnswerFirst(self._eog)
        return (yield from self._pass((*self._processors, self.guard)))

    def flush(self) -> Iterator[EngineEvent]:
        """The parser's held-back text, at the very end."""
        yield from self._emit(self.parser.flush())

    def _pass(self, processors: tuple[Any, ...]) -> Pass:
        request = self._request
        options = request.options
        logits_processor = None
        if processors:
            from llama_cpp import LogitsProcessorList

            logits_processor = LogitsProcessorList(processors)
        end: PassEnd = "done"
        for token in self._llama.generate(
            self.tokens, temp=request.temperature, top_k=40, min_p=0.05, repeat_penalty=1.1,
            top_p=options.get("top_p", 0.95),
            presence_penalty=options.get("presence_penalty", 0.0),
            frequency_penalty=options.get("frequency_penalty", 0.0),
            logits_processor=logits_processor,
        ):
            if token in self._eog:
                if self.thinking_on and (self.parser.in_thinking or not self.answered):
                    yield from self._emit(self.parser.flush())
                    end = "no_answer"
                else:
                    self.finish = "stop"
                break
            self.tokens.append(token)
            if self._record is not None:
                self._record(token)
            was_thinking = self.parser.in_thinking
            segments = self.parser.feed(self.decoder.decode(self._llama.detokenize([token])))
            if was_thinking:
                self.thinking_tokens += 1
            else:
                self.answer_tokens += 1
            if (self.thinking_on and was_thinking and self.parser.in_answer
                    and self.forcing.closed_early(self.thinking_tokens)):
                # The model closed its thinking too early: drop what followed the marker.
                yield from self._emit([s for s in segments if s.kind == "thinking"])
                end = "early"
                break
            yield from self._emit(segments)
            if self.forcing.cut_now(self.thinking_tokens, self.parser.in_thinking):
                yield from self._emit(self.parser.flush())
                end = "cut"
                break
            generated = self.answer_tokens
            if not self.thinking_on:
                generated += self.thinking_tokens
            if generated >= request.plan.answer_max_tokens or len(self.tokens) >= self._n_ctx:
                self.finish = "length"
                break
        pending = self.decoder.decode(b"", final=True)
        if pending:
            yield from self._emit(self.parser.feed(pending))
        self.decoder.reset()
        return end

    def _emit(self, segments: list[Segment]) -> Iterator[EngineEvent]:
        for segment in segments:
            if segment.kind == "thinking":
                self.thinking_text.append(segment.text)
                yield ThinkingDelta(segment.text)
            else:
                if segment.text.strip():
                    self.answered = True
                    if self.guard is not None:
                        self.guard.active = False
                yield AnswerDelta(segment.text)
