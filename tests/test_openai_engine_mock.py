"""The `openai` engine against scripted SSE streams in the shapes real servers send."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from support.upstream_chunks import delta, sse

from thinkswitch.engines.openai_compat import CUT_PROMPT, OpenAICompatEngine
from thinkswitch.engines.registry import create_engine
from thinkswitch.kernel.errors import EngineUnavailableError, UpstreamRejectedError
from thinkswitch.kernel.events import AnswerDelta, SwitchEvent, ThinkingDelta
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

BASE = "http://mock.test/v1"
QUESTION = "What is 2+2?"


def usage(prompt: int, completion: int, reasoning: int | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion}
    if reasoning is not None:
        block["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return {"object": "chat.completion.chunk", "choices": [], "usage": block}


Reply = list[bytes] | httpx.Response | Callable[[httpx.Request], httpx.Response]


@dataclass
class MockServer:
    """Serves one scripted reply per chat call and records what the engine sent."""

    replies: list[Reply]
    models: list[str] = field(default_factory=lambda: ["served-model"])
    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[httpx.Headers] = field(default_factory=list)
    pulled: list[int] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers)
        if request.method == "GET" and request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": m} for m in self.models]})
        assert request.url.path == "/v1/chat/completions"
        self.bodies.append(json.loads(request.content))
        reply = self.replies.pop(0)
        if isinstance(reply, httpx.Response):
            return reply
        if callable(reply):
            return reply(request)
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=self._count(reply)
        )

    def _count(self, events: list[bytes]) -> Iterator[bytes]:
        """Yield the events one by one, recording how many the engine pulled."""
        index = len(self.pulled)
        self.pulled.append(0)
        for event in events:
            self.pulled[index] += 1
            yield event


def make(
    server: MockServer, dialect: str, model: str | None = "Qwen/Qwen3-8B", **overrides: Any
) -> tuple[Switch, OpenAICompatEngine]:
    settings = Settings(engine="openai", model=model, base_url=BASE, **overrides)
    engine = OpenAICompatEngine.from_settings(
        settings, transport=httpx.MockTransport(server.handle)
    )
    return Switch(SwitchParts(engine, get_dialect(dialect), RulesPolicy(), settings)), engine


def ask(switch: Switch, **options: Any) -> tuple[Result, list[SwitchEvent]]:
    events = list(switch.stream(Request.build(QUESTION, **options)))
    result = events[-1]
    assert isinstance(result, Result)
    return result, events


def test_vllm_reasoning_content_is_thinking_and_qwen3_template_switch_is_sent() -> None:
    server = MockServer(
        [
            sse(
                delta(role="assistant", content=""),
                delta(reasoning_content="Two plus"),
                delta(reasoning_content=" two is four."),
                delta(content="\n\n"),
                delta(content="4"),
                delta(finish="stop"),
                usage(prompt=12, completion=6),
            )
        ]
    )
    switch, _ = make(server, "qwen3")
    result, _ = ask(switch, think="on", budget=100, answer_max_tokens=32, temperature=0.0, seed=7)
    body = server.bodies[0]
    assert body["model"] == "Qwen/Qwen3-8B"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    assert body["max_tokens"] == 132
    assert body["temperature"] == 0.0
    assert body["seed"] == 7
    assert "thinking_token_budget" not in body
    assert body["messages"] == [{"role": "user", "content": QUESTION}]
    assert result.thinking == "Two plus two is four."
    assert result.answer == "4"
    # No reasoning_tokens reported: thinking = reasoning deltas, answer = completion - thinking.
    assert (result.usage.prompt_tokens, result.usage.thinking_tokens) == (12, 2)
    assert result.usage.answer_tokens == 4
    assert result.finish_reason == "stop"


def test_newer_vllm_reasoning_field_and_content_after_it_is_answer_only() -> None:
    server = MockServer(
        [
            sse(
                delta(reasoning="Hmm, "),
                delta(reasoning="easy."),
                delta(content="<think>not a marker here</think> 4"),
                delta(finish="stop"),
            )
        ]
    )
    switch, _ = make(server, "deepseek_r1", model="deepseek-r1-distill-qwen-7b")
    result, events = ask(switch, think="on", budget=50)
    assert result.thinking == "Hmm, easy."
    assert result.answer == "<think>not a marker here</think> 4"
    assert [type(e) for e in events[1:-1]] == [ThinkingDelta, ThinkingDelta, AnswerDelta]
    # Prefill is not sent by default, so no continue_final_message either.
    assert server.bodies[0]["messages"][-1]["role"] == "user"
    assert "continue_final_message" not in server.bodies[0]
    assert (result.usage.thinking_tokens, result.usage.answer_tokens) == (2, 1)


def test_qwen3_think_tags_in_content_split_across_chunks() -> None:
    server = MockServer(
        [
            sse(
                delta(content="<thi"),
                delta(content="nk>\nStep"),
                delta(content=" one.</th"),
                delta(content="ink>\n\nThe answer"),
                delta(content=" is 4."),
                delta(finish="stop"),
            )
        ]
    )
    switch, _ = make(server, "qwen3")
    result, _ = ask(switch, think="on", budget=100)
    assert result.thinking == "Step one."
    assert result.answer == "The answer is 4."
    assert (result.usage.thinking_tokens, result.usage.answer_tokens) == (3, 2)


def test_qwen3_off_sends_the_switch_and_no_think() -> None:
    server = MockServer(
        [sse(delta(content="<think>\n\n</think>\n\n"), delta(content="Paris."), delta("stop"))]
    )
    switch, _ = make(server, "qwen3")
    result, _ = ask(switch, think="off", answer_max_tokens=40)
    body = server.bodies[0]
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert body["messages"][-1]["content"].endswith("/no_think")
    assert body["max_tokens"] == 40
    assert result.thinking == ""
    assert result.answer == "Paris."
    assert result.decision.mode == "off"


def test_granite_markers_in_content() -> None:
    server = MockServer(
        [
            sse(
                delta(content="Here is my thought"),
                delta(content=" process:\nAdd them.\nHere is my"),
                delta(content=" response:\nIt is 4."),
                delta(finish="stop"),
                usage(prompt=30, completion=20),
            )
        ]
    )
    switch, _ = make(server, "granite", model="ibm-granite/granite-3.3-8b-instruct")
    result, _ = ask(switch, think="on", budget=64)
    assert server.bodies[0]["chat_template_kwargs"] == {"thinking": True}
    assert result.thinking == "Add them."
    assert result.answer == "It is 4."
    assert result.usage.prompt_tokens == 30


def test_openai_effort_reasoning_tokens_from_usage_and_length_finish() -> None:
    server = MockServer(
        [
            sse(
                delta(role="assistant", content=""),
                delta(content="The answer"),
                delta(content=" is 4"),
                delta(finish="length"),
                usage(prompt=20, completion=70, reasoning=64),
            )
        ]
    )
    switch, _ = make(server, "openai_effort", model="o4-mini", api_key="sk-test")
    result, _ = ask(switch, think="on", budget=2048, answer_max_tokens=100)
    body = server.bodies[0]
    assert body["reasoning_effort"] == "medium"
    assert body["max_completion_tokens"] == 2148
    assert "max_tokens" not in body and "temperature" not in body
    assert server.headers[0]["authorization"] == "Bearer sk-test"
    assert result.thinking == ""
    assert result.answer == "The answer is 4"
    assert (result.usage.prompt_tokens, result.usage.thinking_tokens) == (20, 64)
    assert result.usage.answer_tokens == 6
    assert result.finish_reason == "length"


def test_openai_effort_off_is_minimal() -> None:
    server = MockServer([sse(delta(content="4"), delta("stop"), usage(5, 1, 0))])
    switch, _ = make(server, "openai_effort", model="o4-mini")
    result, _ = ask(switch, think="off")
    assert server.bodies[0]["reasoning_effort"] == "minimal"
    assert result.usage.answer_tokens == 1


def test_thinking_token_budget_style_sends_vllm_cap() -> None:
    server = MockServer([sse(delta(reasoning="ok"), delta(content="4"), delta("stop"))])
    switch, _ = make(server, "qwen3", budget_style="thinking_token_budget")
    result, _ = ask(switch, think="on", budget=256, answer_max_tokens=64)
    assert server.bodies[0]["thinking_token_budget"] == 256
    assert server.bodies[0]["max_tokens"] == 320
    assert result.finish_reason == "stop"
    assert len(server.bodies) == 1


def test_budget_cut_closes_the_stream_and_asks_for_the_answer() -> None:
    thinking = [delta(reasoning_content=f"r{i} ") for i in range(50)]
    server = MockServer(
        [
            sse(*thinking, delta(content="too late"), delta("stop"), usage(10, 60)),
            sse(delta(content="Final: "), delta(content="4"), delta("stop"), usage(40, 3)),
        ]
    )
    switch, _ = make(server, "qwen3")
    result, events = ask(switch, think="on", budget=10, answer_max_tokens=32)
    assert [e for e in events if isinstance(e, ThinkingDelta)] == [
        ThinkingDelta(f"r{i} ") for i in range(10)
    ]
    assert server.pulled[0] == 10  # stopped reading at the cap: the server was cut off
    assert server.bodies[0]["max_tokens"] == 42
    second = server.bodies[1]
    assert second["chat_template_kwargs"] == {"enable_thinking": False}
    assert second["max_tokens"] == 32
    assert second["messages"][0] == {"role": "user", "content": QUESTION}
    trace = "".join(f"r{i} " for i in range(10)).strip()
    note = second["messages"][-1]
    assert note["role"] == "user"
    assert note["content"].startswith(CUT_PROMPT.format(trace=trace))
    assert "too late" not in result.answer
    assert result.answer == "Final: 4"
    assert result.finish_reason == "budget"
    assert (result.usage.thinking_tokens, result.usage.answer_tokens) == (10, 3)
    assert result.usage.prompt_tokens == 40  # the cut stream never reported usage


def test_budget_cut_on_think_tags_in_content_prompted() -> None:
    words = [delta(content="<think>")] + [delta(content=f" w{i}") for i in range(50)]
    server = MockServer([sse(*words), sse(delta(content="Done."), delta("stop"))])
    switch, _ = make(server, "prompted", model="SmolLM2-135M-Instruct")
    result, _ = ask(switch, think="on", budget=5)
    # The prefill was not sent, so the model opened thinking itself (the marker counts).
    assert result.usage.thinking_tokens == 5
    assert result.thinking == "w0 w1 w2 w3"
    assert result.answer == "Done."
    assert result.finish_reason == "budget"
    assert server.bodies[1]["messages"][0]["content"].startswith("Answer directly")


def test_prompted_without_prefill_parses_thinking_as_optional() -> None:
    server = MockServer([sse(delta(content="Just 4."), delta("stop"))])
    switch, _ = make(server, "prompted", model="SmolLM2-135M-Instruct")
    result, _ = ask(switch, think="on", budget=64)
    assert result.thinking == ""
    assert result.answer == "Just 4."
    assert server.bodies[0]["messages"][0]["content"].startswith("Think step by step")


def test_send_prefill_continues_the_assistant_turn() -> None:
    server = MockServer([sse(delta(content="I add.</think>"), delta(content="4"), delta("stop"))])
    switch, _ = make(server, "prompted", model="SmolLM2-135M-Instruct", send_prefill=True)
    result, _ = ask(switch, think="on", budget=64)
    body = server.bodies[0]
    assert body["messages"][-1] == {"role": "assistant", "content": "<think>\n"}
    assert body["continue_final_message"] is True
    assert body["add_generation_prompt"] is False
    assert result.thinking == "I add."
    assert result.answer == "4"


def test_min_thinking_with_prefill_replaces_an_early_end_by_wait() -> None:
    server = MockServer(
        [
            sse(delta(content="short"), delta(content=" idea"), delta(content="</think>")),
            sse(
                *(delta(content=w) for w in (" more", " thought", " here", "</think>", "Final.")),
                delta("stop"),
            ),
        ]
    )
    switch, _ = make(server, "prompted", model="SmolLM2-135M-Instruct", send_prefill=True)
    result, events = ask(switch, think="on", budget=64, min_thinking=5)
    assert ThinkingDelta("\nWait,") in events
    second = server.bodies[1]
    assert second["messages"][-1] == {
        "role": "assistant",
        "content": "<think>\nshort idea\nWait,",
    }
    assert second["max_tokens"] == 64 - 2 + 512
    assert result.thinking == "short idea\nWait, more thought here"
    assert result.answer == "Final."
    assert result.usage.thinking_tokens == 5
    assert result.finish_reason == "stop"


def test_min_thinking_is_ignored_without_prefill() -> None:
    server = MockServer([sse(delta(reasoning="short"), delta(content="4"), delta("stop"))])
    switch, _ = make(server, "qwen3")
    result, _ = ask(switch, think="on", budget=64, min_thinking=10)
    assert len(server.bodies) == 1
    assert result.answer == "4"


def test_model_is_asked_from_the_server_when_not_configured() -> None:
    server = MockServer([sse(delta(content="hi"), delta("stop"))], models=["qwen3-4b", "other"])
    switch, engine = make(server, "prompted", model=None)
    assert engine.model == "qwen3-4b"
    assert engine.suggested_dialect() == "qwen3"
    result, _ = ask(switch, think="off")
    assert server.bodies[0]["model"] == "qwen3-4b"
    assert result.model == "qwen3-4b"
    engine.close()


def test_comments_events_and_data_after_done_are_ignored() -> None:
    stream = [
        b": ping - 2024-01-01\n\n",
        b"event: message\n",
        b"data:" + json.dumps(delta(content="4")).encode() + b"\n\n",
        b"data: [DONE]\n\n",
        b"data: " + json.dumps(delta(content="ignored")).encode() + b"\n\n",
    ]
    switch, _ = make(MockServer([stream]), "qwen3")
    result, _ = ask(switch, think="off")
    assert result.answer == "4"


def test_http_error_names_status_and_server_message() -> None:
    error = {"error": {"message": "The model is overloaded.", "type": "server_error"}}
    server = MockServer([httpx.Response(500, json=error)])
    switch, _ = make(server, "qwen3")
    with pytest.raises(EngineUnavailableError, match="HTTP 500: The model is overloaded"):
        ask(switch, think="off")


def test_old_vllm_error_shape() -> None:
    error = {"object": "error", "message": "The model `x` does not exist.", "code": 404}
    switch, _ = make(MockServer([httpx.Response(404, json=error)]), "qwen3")
    with pytest.raises(UpstreamRejectedError, match=r"\(HTTP 404\): The model `x` does not exist"):
        ask(switch, think="off")


def test_garbage_in_the_stream() -> None:
    server = MockServer(
        [
            [
                b"data: " + json.dumps(delta(content="4")).encode() + b"\n\n",
                b"data: <html>oops</html>\n\n",
            ]
        ]
    )
    switch, _ = make(server, "qwen3")
    with pytest.raises(EngineUnavailableError, match="not JSON"):
        ask(switch, think="off")


def test_error_inside_the_stream() -> None:
    server = MockServer([sse({"error": {"message": "CUDA out of memory"}})])
    switch, _ = make(server, "qwen3")
    with pytest.raises(EngineUnavailableError, match="CUDA out of memory"):
        ask(switch, think="off")


@pytest.mark.parametrize(
    ("exception", "words"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "Connection refused"),
        (httpx.ReadTimeout("timed out"), "timed out"),
    ],
)
def test_transport_failures_become_engine_unavailable(
    exception: httpx.HTTPError, words: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise exception

    switch, _ = make(MockServer([fail]), "qwen3")
    with pytest.raises(EngineUnavailableError, match=f"cannot reach {BASE}/chat/completions: "):
        ask(switch, think="off")
    with pytest.raises(EngineUnavailableError, match=words):
        make(MockServer([fail]), "qwen3")[0].run(Request.build(QUESTION, think="off"))


def test_models_listing_failure_is_engine_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "Incorrect API key provided"}})

    engine = OpenAICompatEngine(base_url=BASE, transport=httpx.MockTransport(handler))
    with pytest.raises(EngineUnavailableError, match="401: Incorrect API key"):
        _ = engine.model


def test_registry_builds_the_engine_without_touching_the_network() -> None:
    engine = create_engine(Settings(engine="openai", model="m", base_url="http://nowhere:1/v1"))
    assert isinstance(engine, OpenAICompatEngine)
    assert engine.name == "openai" and engine.model == "m"
    assert engine.supports(get_dialect("granite"))
    engine.close()


ENDED_CASES = [
    # id, dialect, model, first stream (the model ends with thinking and no answer)
    ("everything in reasoning_content", "qwen3", "Qwen/Qwen3-8B",
     sse(delta(reasoning_content="Two plus"), delta(reasoning_content=" two is four."),
         delta(content="\n\n"), delta("stop"), usage(12, 4))),
    ("end of sequence inside think tags", "qwen3", "Qwen/Qwen3-8B",
     sse(delta(content="<think>\nTwo plus"), delta(content=" two is four."), delta("stop"),
         usage(12, 3))),
    ("closed, then nothing", "deepseek_r1", "deepseek-r1-distill-qwen-7b",
     sse(delta(content="<think>Two plus two is four."), delta(content="</think>\n"),
         delta("stop"), usage(12, 3))),
]


@pytest.mark.parametrize(("dialect", "model", "first"), [c[1:] for c in ENDED_CASES],
                         ids=[c[0] for c in ENDED_CASES])
def test_thinking_with_no_answer_is_closed_and_the_answer_asked_for(
    dialect: str, model: str, first: list[bytes]
) -> None:
    from thinkswitch.engines.openai_compat import ENDED_PROMPT

    server = MockServer([first, sse(delta(content="4"), delta(content="</think>"),
                                    delta("stop"), usage(40, 2))])
    switch, _ = make(server, dialect, model=model)
    result, events = ask(switch, think="on", budget=64, answer_max_tokens=16)
    assert result.thinking == "Two plus two is four."
    assert result.answer == "4"  # the stray marker of the second call is removed
    assert result.finish_reason == "thinking_ended"
    assert len(server.bodies) == 2
    note = server.bodies[1]["messages"][-1]
    assert note["role"] == "user"
    assert note["content"].startswith(ENDED_PROMPT.format(trace="Two plus two is four."))
    assert server.bodies[1]["max_tokens"] == 16
    assert result.usage.prompt_tokens == 52
    answers = [e.text for e in events if isinstance(e, AnswerDelta)]
    assert "".join(answers).strip() == "4"


def test_a_stray_close_marker_after_a_cut_is_removed_streaming_and_not() -> None:
    def script() -> MockServer:
        thinking = [delta(content="<think>")] + [delta(content=f" w{i}") for i in range(20)]
        return MockServer([sse(*thinking),
                           sse(delta(content="20\n</th"), delta(content="ink>"), delta("stop"))])

    switch, _ = make(script(), "prompted", model="SmolLM2-135M-Instruct")
    result, events = ask(switch, think="on", budget=5)
    assert result.answer == "20"
    assert result.finish_reason == "budget"
    streamed = "".join(e.text for e in events if isinstance(e, AnswerDelta))
    assert "</" not in streamed
    switch, _ = make(script(), "prompted", model="SmolLM2-135M-Instruct")
    assert switch.run(Request.build(QUESTION, think="on", budget=5)).answer == "20"


def test_an_answer_cut_by_its_cap_after_a_budget_cut_says_length() -> None:
    thinking = [delta(reasoning_content=f"r{i} ") for i in range(10)]
    server = MockServer([sse(*thinking), sse(delta(content="Final"), delta("length"))])
    switch, _ = make(server, "qwen3")
    result, _ = ask(switch, think="on", budget=5, answer_max_tokens=1)
    assert result.finish_reason == "length"


def test_an_answer_or_a_length_cap_is_not_a_thinking_end() -> None:
    server = MockServer([sse(delta(reasoning_content="hmm"), delta("length"))])
    switch, _ = make(server, "qwen3")
    result, _ = ask(switch, think="on", budget=64)
    assert len(server.bodies) == 1
    assert result.finish_reason == "length"
    off = MockServer([sse(delta(content="<think>hmm"), delta("stop"))])
    switch, _ = make(off, "qwen3")
    result, _ = ask(switch, think="off")
    assert len(off.bodies) == 1
    assert result.finish_reason == "stop"
