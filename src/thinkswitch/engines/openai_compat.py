"""`openai`: any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp server, Ollama, OpenAI).

One request is one or more streamed `POST {base_url}/chat/completions` calls:

- Thinking arrives either in a separate delta field (`reasoning` / `reasoning_content`, when
  the server runs a reasoning parser) or inside `content` with the dialect's markers, which the
  dialect's parser splits. Once a reasoning field has been seen, content is answer only.
- Budgets. `budget_style` (see `budget_styles`) sends vLLM's or llama.cpp server's
  server-side cap, or Ollama's `think` switch. The default,
  `"cut"`, works on every server: thinking deltas are counted here, and when they reach the
  budget while the model is still thinking the stream is closed (so the server stops), and a
  second call with thinking off asks for the answer, given the trace so far (`CUT_PROMPT`).
  The finish reason is then `"budget"`.
- Token counts. When the final usage chunk reports `completion_tokens_details.reasoning_tokens`
  (OpenAI) those are the thinking tokens; otherwise thinking tokens are the number of
  non-empty thinking deltas (vLLM and llama.cpp server send about one token per delta), and
  answer tokens are `completion_tokens` minus those when reported, else answer deltas too.
  A stream closed at the budget never reports usage, so there the delta counts stand.
- `min_thinking` needs the server to continue an assistant prefill (`send_prefill`, vLLM and
  SGLang `continue_final_message`): when thinking ends early, the answer is dropped and a
  new call continues from start marker + trace + `wait_text`. Without prefill support the
  model cannot be pushed back into thinking, so `min_thinking` is ignored.
- Without `send_prefill`, a dialect's prefilled start marker is never sent, so the model was
  not put inside thinking: its output is parsed with thinking optional instead.
- OpenAI reasoning models (`openai_effort`) reject `temperature` and `max_tokens`: for that
  dialect the body carries `max_completion_tokens` and no temperature.
- Replicas. `base_url` may list several servers of one model; each call goes to the least
  busy usable one (`pool.py`: circuit breaker, health checks). A request whose upstream fails
  through the replica's fault (unreachable, timed out, 5xx/429, broken stream) before any
  event was yielded is retried once, from scratch, on another replica; after an event was
  yielded it is not (the caller already has part of an answer) and the error says so.
  Connect and inter-chunk read timeouts are httpx's; first-token and total deadlines are
  held by `deadlines.StreamGuard`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import httpx

from thinkswitch.engines.base import Engine
from thinkswitch.engines.budget_styles import native_budget
from thinkswitch.engines.deadlines import StreamGuard
from thinkswitch.engines.pool import ReplicaPool, Route, Watchdog, split_urls
from thinkswitch.engines.sse import StreamChunk, StreamUsage, error_message, iter_chunks, one_line
from thinkswitch.kernel.errors import EngineUnavailableError, UpstreamRejectedError
from thinkswitch.kernel.events import (
    AnswerDelta,
    EngineEvent,
    Finish,
    ThinkingDelta,
    ToolCallDelta,
    UsageReport,
)
from thinkswitch.kernel.messages import ChatMessage
from thinkswitch.kernel.plan import GenerationRequest, ThinkingPlan
from thinkswitch.kernel.result import FinishReason
from thinkswitch.settings import BudgetStyle, Settings
from thinkswitch.thinking.dialects import Dialect, PromptPlan, guess_dialect
from thinkswitch.thinking.parsers import ReasoningParser, Segment, StartState

CUT_PROMPT = (
    "Your reasoning so far, cut at the thinking budget:\n{trace}\n\nNow give the final answer only."
)
#: How many times an early end of thinking is replaced by `wait_text` (guards against loops).
MAX_WAITS = 4

Stop = Literal["budget", "early"]


@dataclass
class _PassResult:
    """What one streamed call produced, besides the events it yielded."""

    thinking: int = 0
    answer: int = 0
    trace: list[str] = field(default_factory=list)
    usage: StreamUsage | None = None
    finish: str | None = None
    stop: Stop | None = None

    def tokens(self) -> tuple[int, int, int]:
        """(prompt, thinking, answer) tokens, from the usage chunk where it is trustworthy."""
        usage = self.usage or StreamUsage()
        prompt = usage.prompt_tokens or 0
        if self.stop is not None:
            return prompt, self.thinking, self.answer
        thinking = self.thinking if usage.reasoning_tokens is None else usage.reasoning_tokens
        if usage.completion_tokens is None:
            return prompt, thinking, self.answer
        return prompt, thinking, max(0, usage.completion_tokens - thinking)


Pass = Generator[EngineEvent, None, _PassResult]


@dataclass
class _Totals:
    prompt: int = 0
    thinking: int = 0
    answer: int = 0

    def add(self, result: _PassResult, *, all_answer: bool = False) -> None:
        prompt, thinking, answer = result.tokens()
        self.prompt += prompt
        if all_answer:
            self.answer += thinking + answer
        else:
            self.thinking += thinking
            self.answer += answer


def _reach_error(url: str, error: Exception) -> EngineUnavailableError:
    reason = str(error) or type(error).__name__
    if isinstance(error, httpx.TimeoutException) and "timed out" not in reason.lower():
        reason = f"timed out ({reason})"
    return EngineUnavailableError(f"cannot reach {url}: {one_line(reason)}")


def _detail(response: httpx.Response) -> str:
    """What an upstream's error response says, in one line."""
    try:
        message = error_message(response.json())
    except ValueError:
        message = None
    return message or one_line(response.text) or response.reason_phrase


def _rejected(response: httpx.Response) -> UpstreamRejectedError:
    """A 4xx (not 429) from the upstream: the request's fault, told without our URLs."""
    return UpstreamRejectedError(
        f"the model server refused the request (HTTP {response.status_code}): "
        f"{_detail(response)}")


def _status_error(url: str, response: httpx.Response) -> EngineUnavailableError:
    return EngineUnavailableError(
        f"{url} answered HTTP {response.status_code}: {_detail(response)}")


class OpenAICompatEngine(Engine):
    """A model behind an OpenAI-compatible HTTP server; see the module docstring."""

    name = "openai"
    passthrough = frozenset({
        "tools", "tool_choice", "parallel_tool_calls", "response_format", "top_p", "stop",
        "presence_penalty", "frequency_penalty", "logit_bias", "user", "metadata",
        "service_tier", "store",
    })

    def __init__(
        self,
        *,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
        first_token_timeout_s: float = 60.0,
        total_timeout_s: float = 600.0,
        breaker_failures: int = 3,
        breaker_cooldown_s: float = 10.0,
        health_interval_s: float = 5.0,
        budget_style: BudgetStyle = "cut",
        send_prefill: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        urls = split_urls(base_url)
        self.pool = ReplicaPool(
            urls,
            breaker_failures=breaker_failures,
            breaker_cooldown_s=breaker_cooldown_s,
            health_interval_s=health_interval_s,
            probe=self._probe,
        )
        self._watchdog = Watchdog()
        self._deadlines = (read_timeout_s, first_token_timeout_s, total_timeout_s)
        self.budget_style = budget_style
        self.send_prefill = send_prefill
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
            transport=transport,
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, transport: httpx.BaseTransport | None = None
    ) -> OpenAICompatEngine:
        return cls(
            base_url=settings.base_url,
            model=settings.model,
            api_key=settings.api_key,
            connect_timeout_s=settings.connect_timeout_s,
            read_timeout_s=settings.read_timeout_s,
            first_token_timeout_s=settings.first_token_timeout_s,
            total_timeout_s=settings.total_timeout_s,
            breaker_failures=settings.breaker_failures,
            breaker_cooldown_s=settings.breaker_cooldown_s,
            health_interval_s=settings.health_interval_s,
            budget_style=settings.budget_style,
            send_prefill=settings.send_prefill,
            transport=transport,
        )

    @property
    def model(self) -> str:
        """The configured model, else the first one the server lists (asked once)."""
        if self._model is None:
            self._model = self._first_model()
        return self._model

    def suggested_dialect(self) -> str:
        """The dialect the model name suggests (`settings.dialect` overrides it)."""
        return guess_dialect(self.model)

    def close(self) -> None:
        self.pool.close()
        self._watchdog.close()
        self._client.close()

    def _probe(self, base_url: str) -> bool:
        """Health check of one replica: it lists its models."""
        response = self._client.get(f"{base_url}/models", timeout=self._client.timeout.connect)
        return response.status_code < 400

    def _first_model(self) -> str:
        for base in self.pool.urls:  # the first replica that answers
            url = f"{base}/models"
            try:
                response = self._client.get(url)
                break
            except (httpx.HTTPError, httpx.InvalidURL) as error:
                if base == self.pool.urls[-1]:
                    raise _reach_error(url, error) from error
        if response.status_code >= 400:
            raise _status_error(url, response)
        try:
            data = response.json().get("data")
            return str(data[0]["id"])
        except (ValueError, AttributeError, LookupError, TypeError):
            raise EngineUnavailableError(f"{url} lists no model; set the model name") from None

    def _stream(
        self, body: Mapping[str, object], route: Route
    ) -> Generator[StreamChunk, None, None]:
        """The chunks of one call to a replica the pool picks; closing this generator closes
        the response. A failure that is the replica's fault is told to the pool and `route`."""
        lease = self.pool.acquire(route.tried)
        url = f"{lease.url}/chat/completions"
        read_s, first_s, total_s = self._deadlines
        guard = StreamGuard(
            self._watchdog, url, read_s=read_s, first_token_s=first_s, total_s=total_s
        )
        fault: str | None = None
        judged = True
        try:
            timeout = guard.timeout(self._client.timeout)
            with self._client.stream("POST", url, json=body, timeout=timeout) as response:
                guard.attach(response)
                if response.status_code >= 400:
                    response.read()
                    # a 4xx other than 429 is the request's fault, not the replica's
                    refused = response.status_code < 500 and response.status_code != 429
                    raise _rejected(response) if refused else _status_error(url, response)
                for chunk in iter_chunks(response.iter_lines(), url):
                    guard.chunk(bool(chunk.reasoning or chunk.content or chunk.tool_calls))
                    yield chunk
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as error:
            failure = guard.expired() or _reach_error(url, error)
            fault = str(failure)
            raise failure from error
        except EngineUnavailableError as error:
            fault = str(error)
            raise
        except GeneratorExit:  # the caller stopped reading: says nothing about the replica
            judged = False
            raise
        finally:
            guard.close()
            self.pool.release(lease, fault, judged=judged)
            if fault is not None:
                route.fault(lease.url)

    def _body(
        self,
        request: GenerationRequest,
        dialect: Dialect,
        prompt: PromptPlan,
        *,
        max_tokens: int | None,
        prefill: str = "",
        extras: Mapping[str, object] | None = None,
    ) -> dict[str, object]:
        messages = [m.wire() for m in prompt.messages]
        body: dict[str, object] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if dialect.local:
            body["temperature"] = request.temperature
        if request.seed is not None:
            body["seed"] = request.seed
        if max_tokens is not None:
            body["max_tokens" if dialect.local else "max_completion_tokens"] = max_tokens
        body.update(request.options)
        body.update(prompt.request_extras)
        body.update(extras or {})
        if prefill:
            messages.append({"role": "assistant", "content": prefill})
            body["continue_final_message"] = True
            body["add_generation_prompt"] = False
        return body

    def _start_state(self, prompt: PromptPlan, dialect: Dialect) -> StartState:
        opened_by_prefill = prompt.prefill.lstrip().startswith(dialect.parser.start)
        if prompt.start_state == "inside" and opened_by_prefill and not self.send_prefill:
            return "optional"
        return prompt.start_state

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        """`_execute` through the pool: retried once on another replica when the upstream
        failed through its replica's fault before anything was yielded."""
        route = Route()
        for attempt in (1, 2):
            yielded = False
            events = self._execute(request, dialect, route)
            try:
                for event in events:
                    yielded = True
                    yield event
                return
            except EngineUnavailableError as error:
                if yielded:
                    raise EngineUnavailableError(
                        f"upstream failed mid-stream, after part of the answer was sent "
                        f"(not retried): {error}"
                    ) from error
                if attempt == 2 or not route.faulted or not self.pool.usable(route.tried):
                    raise
                route.faulted = False
            finally:
                events.close()

    def _execute(
        self, request: GenerationRequest, dialect: Dialect, route: Route
    ) -> Generator[EngineEvent, None, None]:
        plan = request.plan
        prompt = dialect.prepare(request.messages, plan)
        budget = plan.budget if plan.mode == "on" else None
        native = native_budget(self.budget_style, plan, prompt.request_extras)
        cut = budget is not None and native.cut
        extras = dict(native.fields)
        prefill = prompt.prefill if self.send_prefill else ""
        opening = prefill if prefill.lstrip().startswith(dialect.parser.start) else ""
        opening = opening or dialect.parser.start
        waits = MAX_WAITS if plan.mode == "on" and self.send_prefill and plan.min_thinking else 0
        parser = dialect.parser(self._start_state(prompt, dialect))
        totals = _Totals()
        trace: list[str] = []
        while True:
            spent = totals.thinking
            max_tokens: int | None = plan.answer_max_tokens
            if plan.mode == "on":
                max_tokens = None if budget is None else budget - spent + plan.answer_max_tokens
            body = self._body(
                request, dialect, prompt, max_tokens=max_tokens, prefill=prefill, extras=extras
            )
            result = yield from self._pass(
                body,
                parser,
                cap=budget - spent if cut and budget is not None else None,
                floor=plan.min_thinking - spent if waits else 0,
                route=route,
            )
            totals.add(result)
            trace.extend(result.trace)
            if result.stop != "early":
                break
            waits -= 1
            trace.append(dialect.wait_text)
            yield ThinkingDelta(dialect.wait_text)
            prefill = opening + "".join(trace)
            parser = dialect.parser("inside")
        finish: FinishReason = "stop"
        if result.finish == "length":
            finish = "length"
        elif result.finish == "tool_calls":
            finish = "tool_calls"
        if result.stop == "budget":
            answer = yield from self._answer_after_cut(request, dialect, "".join(trace), route)
            totals.add(answer, all_answer=True)
            finish = "budget"
        yield UsageReport(totals.prompt, totals.thinking, totals.answer)
        yield Finish(finish)

    def _answer_after_cut(
        self, request: GenerationRequest, dialect: Dialect, trace: str, route: Route
    ) -> Pass:
        """Second call, thinking off: the trace so far goes in as a user turn."""
        note = ChatMessage(role="user", content=CUT_PROMPT.format(trace=trace.strip()))
        off = ThinkingPlan(mode="off", answer_max_tokens=request.plan.answer_max_tokens)
        prompt = dialect.prepare((*request.messages, note), off)
        prefill = prompt.prefill if self.send_prefill else ""
        extras = native_budget(self.budget_style, off, prompt.request_extras).fields
        body = self._body(
            request, dialect, prompt, max_tokens=off.answer_max_tokens, prefill=prefill,
            extras=extras,
        )
        parser = dialect.parser(self._start_state(prompt, dialect))
        return (
            yield from self._pass(body, parser, cap=None, floor=0, answer_only=True, route=route)
        )

    def _pass(
        self,
        body: Mapping[str, object],
        parser: ReasoningParser,
        *,
        cap: int | None,
        floor: int,
        answer_only: bool = False,
        route: Route,
    ) -> Pass:
        """Stream one call. Stops early at `cap` thinking deltas while still thinking
        ("budget"), or when thinking ends before `floor` deltas ("early"); `answer_only`
        drops thinking text (it still counts)."""
        result = _PassResult()
        server_split = False
        chunks = self._stream(body, route)
        try:
            for chunk in chunks:
                result.usage = chunk.usage or result.usage
                result.finish = chunk.finish_reason or result.finish
                if chunk.tool_calls:
                    result.answer += 1
                    yield ToolCallDelta(chunk.tool_calls)
                if chunk.reasoning:
                    server_split = True
                    result.thinking += 1
                    if not answer_only:
                        result.trace.append(chunk.reasoning)
                        yield ThinkingDelta(chunk.reasoning)
                    if cap is not None and result.thinking >= cap:
                        result.stop = "budget"
                        return result
                if not chunk.content:
                    continue
                segments = (
                    [Segment("answer", chunk.content)]
                    if server_split
                    else parser.feed(chunk.content)
                )
                kinds = {segment.kind for segment in segments}
                thinking = "thinking" in kinds or (not kinds and parser.in_thinking)
                result.thinking += int(thinking)
                result.answer += int(not thinking)
                ended = server_split or parser.in_answer
                early = ended and result.thinking < floor
                for segment in segments:
                    if segment.kind == "answer" and early:
                        break
                    yield from self._emit(segment, result, answer_only)
                if early:
                    result.stop = "early"
                    return result
                still_thinking = parser.in_thinking and not server_split
                if cap is not None and result.thinking >= cap and still_thinking:
                    result.stop = "budget"
                    return result
            for segment in parser.flush():
                yield from self._emit(segment, result, answer_only)
            return result
        finally:
            chunks.close()

    @staticmethod
    def _emit(segment: Segment, result: _PassResult, answer_only: bool) -> Iterator[EngineEvent]:
        if segment.kind == "answer":
            yield AnswerDelta(segment.text)
        elif not answer_only:
            result.trace.append(segment.text)
            yield ThinkingDelta(segment.text)
