"""The embedded engine: llama-cpp-python on a GGUF file, with token-level budget forcing.

Budget forcing is `thinking.forcing`'s; `llama_run.LlamaRun` plugs this engine into it by
continuing from the same KV cache (no re-prefill), and says how tokens are counted.

Asked for `logprobs`, the engine records the log-probability of every token it generates with a
llama.cpp logits processor (`SampledLogprobs`), not with `logits_all`, which keeps the logits of
every prompt position too and makes generation several times slower.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from thinkswitch.engines.base import Engine
from thinkswitch.engines.chat_template import ChatTemplate, PromptPart
from thinkswitch.engines.llama_run import LlamaRun
from thinkswitch.engines.model_files import resolve_model_path
from thinkswitch.kernel.errors import BudgetError, ModelNotFoundError, UsageError
from thinkswitch.kernel.events import EngineEvent, Finish, TokenLogprobs, UsageReport
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.settings import Settings
from thinkswitch.thinking.dialects import Dialect, PromptPlan
from thinkswitch.thinking.forcing import run_forced

RANDOM_SEED = 0xFFFFFFFF  # llama.cpp's LLAMA_DEFAULT_SEED: a fresh random seed


@dataclass(frozen=True)
class LoadedModel:
    """One llama.cpp model in memory, with the lock that serialises its use."""

    llama: Any
    template: ChatTemplate
    eog: frozenset[int]
    lock: threading.Lock = field(default_factory=threading.Lock)


@lru_cache(maxsize=4)
def default_threads() -> int:
    """All cores but one. llama.cpp's threads busy-wait for each other at every step, so when
    they hold every core, any other work on the machine (the server's own event loop, a client,
    a build) stalls them: on 2 cores, one competing process made 64 tokens take 104 s on 2
    threads against 1.5 s on 1. Leaving a core free costs ~40% of peak speed on an idle
    2-core machine and removes the collapse; set `n_threads` on a dedicated box.

    The same rule holds for prefill (`n_threads_batch`), whose threads busy-wait the same way:
    left at llama.cpp's default of every core, prefill of ~600 tokens took twice as long with
    one busy process on the other core."""
    return max(1, (os.cpu_count() or 1) - 1)


@lru_cache(maxsize=4)
def load_model(path: Path, n_ctx: int, n_threads: int | None) -> LoadedModel:
    """Load a GGUF once per process; later engines on the same file share it."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise ModelNotFoundError(
            "llama-cpp-python is not installed: run `make setup` (or pip install thinkswitch)"
        ) from None

    try:
        llama = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads or default_threads(),
            n_threads_batch=n_threads or default_threads(),
            verbose=False,
            logits_all=False,
        )
    except (ValueError, RuntimeError) as error:
        raise ModelNotFoundError(f"cannot load model {path}: {error}") from None
    # Free the shared models while the interpreter is whole: left to shutdown, `Llama.__del__`
    # runs after llama_cpp's module globals are gone and prints a TypeError. Re-registering
    # keeps one entry however many models load.
    atexit.unregister(load_model.cache_clear)
    atexit.register(load_model.cache_clear)
    metadata: dict[str, str] = llama.metadata
    vocab = llama._model.vocab
    eog = frozenset(
        token for token in range(llama.n_vocab()) if _is_eog(vocab, token)
    ) or frozenset({llama.token_eos()})
    template = ChatTemplate(
        metadata.get("tokenizer.chat_template"),
        bos_token=_piece(llama, llama.token_bos()),
        eos_token=_piece(llama, llama.token_eos()),
    )
    return LoadedModel(llama=llama, template=template, eog=eog)


def _is_eog(vocab: Any, token: int) -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_vocab_is_eog(vocab, token))


def _piece(llama: Any, token: int) -> str:
    if token < 0:
        return ""
    return bytes(llama.detokenize([token], special=True)).decode("utf-8", "replace")


class SampledLogprobs:
    """A llama.cpp logits processor that records the log-probability of each sampled token.

    llama.cpp calls it with the logits row of the next position just before sampling, in token
    id order (it runs first in the sampler chain), but the token is only known once `generate`
    yields it. So it keeps a copy of the row and its log-normaliser, and `take(token)` reads the
    token's log-softmax then. The row is the model's own distribution: before the repeat
    penalty, temperature and top-k/min-p truncation. It returns the logits unchanged, so the
    generated text is the same with and without it.
    """

    def __init__(self) -> None:
        self._row: np.ndarray[Any, np.dtype[np.float32]] | None = None
        self._log_norm = 0.0
        self.logprobs: list[float] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        # A copy (the sampler reorders its buffer after this call); float32 as llama.cpp's own.
        row = np.array(scores, dtype=np.float32)
        peak = float(row.max())
        self._log_norm = peak + float(np.log(np.exp(row - peak).sum(dtype=np.float64)))
        self._row = row
        return scores

    def take(self, token: int) -> None:
        """Record the log-probability of `token`, sampled from the last row seen."""
        if self._row is not None and 0 <= token < len(self._row):
            self.logprobs.append(min(0.0, float(self._row[token]) - self._log_norm))


class LlamaCppEngine(Engine):
    name = "llama_cpp"
    passthrough = frozenset({"top_p", "presence_penalty", "frequency_penalty"})
    default_dialect = "prompted"
    exclusive = True

    def __init__(self, model_path: Path, n_ctx: int = 4096, n_threads: int | None = None) -> None:
        self._path = model_path
        self._model = load_model(model_path, n_ctx, n_threads)
        self.n_ctx = n_ctx

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaCppEngine:
        return cls(resolve_model_path(settings.model), settings.n_ctx, settings.n_threads)

    @property
    def model(self) -> str:
        return self._path.stem

    @property
    def llama(self) -> Any:
        """The underlying `llama_cpp.Llama` (for benchmarks that compare against it)."""
        return self._model.llama

    def supports(self, dialect: Dialect) -> bool:
        return dialect.local

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        """Tokens of `text` as a continuation: no BOS, and no space that SentencePiece
        tokenizers would otherwise put before it (tokenised after a newline, then cut)."""
        anchor = list(self.llama.tokenize(b"\n", add_bos=False, special=False))
        both = list(self.llama.tokenize(b"\n" + text.encode("utf-8"), add_bos=False,
                                        special=special))
        if both[: len(anchor)] == anchor:
            return both[len(anchor) :]
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def prompt_tokens(self, prompt: PromptPlan) -> list[int]:
        """The prompt's tokens. Only the template's own text may become control tokens
        (`<|im_start|>`...): message text is tokenized as plain text, so a user cannot
        forge a turn by typing the markers."""
        template = self._model.template
        parts = template.render_parts(prompt.messages, prompt.prefill, prompt.template_kwargs)
        if parts is None:  # a template that rewrites message text: refuse what could forge
            self._refuse_control_text(prompt)
            text = template.render(prompt.messages, prompt.prefill, prompt.template_kwargs)
            parts = [PromptPart(text, True)]
        tokens = list(self.llama.tokenize(parts[0].text.encode("utf-8"), add_bos=True,
                                          special=parts[0].from_template))
        for part in parts[1:]:
            if not part.text:
                continue
            if part.from_template:
                tokens += self.llama.tokenize(part.text.encode("utf-8"), add_bos=False,
                                              special=True)
            else:
                tokens += self.tokenize(part.text, special=False)
        bos = self.llama.token_bos()
        if len(tokens) > 1 and tokens[0] == tokens[1] == bos:
            tokens = tokens[1:]
        return tokens

    def _refuse_control_text(self, prompt: PromptPlan) -> None:
        for message in prompt.messages:
            plain = self.tokenize(message.content, special=False)
            if self.tokenize(message.content, special=True) != plain:
                raise UsageError(
                    f"a {message.role} message contains this model's control-token text, and "
                    "its chat template rewrites message text, so it cannot be kept as plain "
                    "text; remove the markers")

    def usage_so_far(self, request: GenerationRequest, dialect: Dialect, thinking: str,
                     answer: str) -> UsageReport:
        prompt = dialect.prepare(request.messages, request.plan)
        return UsageReport(len(self.prompt_tokens(prompt)),
                           len(self.tokenize(thinking)) if thinking else 0,
                           len(self.tokenize(answer)) if answer else 0)

    def validate(self, request: GenerationRequest, dialect: Dialect) -> None:
        prompt = dialect.prepare(request.messages, request.plan)
        self._check_context(len(self.prompt_tokens(prompt)), request)

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        prompt = dialect.prepare(request.messages, request.plan)
        tokens = self.prompt_tokens(prompt)
        self._check_context(len(tokens), request)
        with self._model.lock:
            # The sampler is rebuilt from the model's seed on every generate(): set it on every
            # request, or one seeded request would make all later ones deterministic.
            self.llama.set_seed(RANDOM_SEED if request.seed is None else request.seed)
            yield from self._generate(tokens, prompt, request, dialect)

    def _check_context(self, prompt_tokens: int, request: GenerationRequest) -> None:
        plan = request.plan
        thinking = (plan.budget or 0) if plan.mode == "on" else 0
        needed = prompt_tokens + thinking + plan.answer_max_tokens + 8
        if needed > self.n_ctx:
            raise BudgetError(
                f"prompt {prompt_tokens} + budget {thinking} + answer {plan.answer_max_tokens} "
                f"tokens exceed the context window of {self.n_ctx} tokens"
            )

    def _generate(
        self,
        tokens: list[int],
        prompt: PromptPlan,
        request: GenerationRequest,
        dialect: Dialect,
    ) -> Iterator[EngineEvent]:
        recorder = SampledLogprobs() if request.logprobs else None
        run = LlamaRun(
            self.llama, self._model.eog, self.tokenize, tokens, prompt, request, dialect,
            self.n_ctx, record=recorder.take if recorder is not None else None,
            processors=(recorder,) if recorder is not None else (),
        )
        yield from run_forced(run, run.forcing, dialect.wait_text)
        yield from run.flush()
        if recorder is not None:
            yield TokenLogprobs(tuple(recorder.logprobs))
        yield UsageReport(len(run.base), run.thinking_tokens, run.answer_tokens)
        yield Finish(run.forcing.finish(run.finish))
