"""The helpers of the official Python SDKs beyond plain `create` (which the server tests
cover): `chat.completions.parse` with a pydantic `response_format`, the
`chat.completions.stream` helper (reasoning, usage, strict tool arguments), `with_raw_response`,
`models.retrieve`, `responses.stream` with a `text_format`, Anthropic's `models.list`, and
fields sent at their default values. A real server on 127.0.0.1; the engine's answers are
known (support.clients_server)."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pydantic
import pytest
from support.clients_server import (
    ANSWER,
    API_KEY,
    MODEL,
    PROMPT_TOKENS,
    THINKING,
    ClientsEngine,
    clients_server,
)

from thinkswitch.engines.scripted import ScriptedEngine

QUESTION = [{"role": "user", "content": "How many apples are in 3 boxes of 4?"}]


class Count(pydantic.BaseModel):
    count: int
    unit: str


class GetWeather(pydantic.BaseModel):
    """The weather in a city."""

    city: str


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, ClientsEngine]]:
    engine = ClientsEngine()
    with clients_server(engine) as root:
        yield root, engine


@pytest.fixture(scope="module")
def plain() -> Iterator[tuple[str, ScriptedEngine]]:
    """In front of an engine that takes no passed-through options (as the embedded one)."""
    engine = ScriptedEngine(MODEL)
    with clients_server(engine) as root:
        yield root, engine


def sdk(root: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{root}/v1", api_key=API_KEY, max_retries=0)


def test_parse_with_a_pydantic_response_format(served: tuple[str, ClientsEngine]) -> None:
    root, engine = served
    completion = sdk(root).chat.completions.parse(model=MODEL, messages=QUESTION,  # type: ignore[arg-type]
                                                  response_format=Count)
    message = completion.choices[0].message
    assert message.parsed == Count(count=12, unit="apples")
    sent = engine.requests[-1].options["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Count"
    assert sent["json_schema"]["strict"] is True
    assert set(sent["json_schema"]["schema"]["properties"]) == {"count", "unit"}


def test_parse_where_the_engine_cannot_follow_a_schema_is_a_400(
        plain: tuple[str, ScriptedEngine]) -> None:
    root, engine = plain
    asked = len(engine.requests)
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(root).chat.completions.parse(model=MODEL, messages=QUESTION,  # type: ignore[arg-type]
                                         response_format=Count)
    assert refused.value.status_code == 400 and refused.value.param == "response_format"
    assert refused.value.type == "invalid_request_error"
    assert "response_format" in refused.value.message
    assert len(engine.requests) == asked  # refused before the engine was asked


def test_anthropic_parse_with_an_output_format(served: tuple[str, ClientsEngine],
                                              plain: tuple[str, ScriptedEngine]) -> None:
    root, engine = served
    client = anthropic.Anthropic(base_url=root, api_key=API_KEY, max_retries=0)
    parsed = client.messages.parse(model=MODEL, max_tokens=1000, messages=QUESTION,  # type: ignore[arg-type]
                                   output_format=Count)
    assert parsed.parsed_output == Count(count=12, unit="apples")
    sent = engine.requests[-1].options["response_format"]
    assert sent["type"] == "json_schema"
    assert set(sent["json_schema"]["schema"]["properties"]) == {"count", "unit"}
    cannot = anthropic.Anthropic(base_url=plain[0], api_key=API_KEY, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as refused:
        cannot.messages.parse(model=MODEL, max_tokens=1000, messages=QUESTION,  # type: ignore[arg-type]
                              output_format=Count)
    assert "output_config.format" in refused.value.message


def test_fields_at_their_default_values_are_accepted(plain: tuple[str, ScriptedEngine]) -> None:
    """SDKs and frameworks send some defaults spelled out; they ask for nothing, so an engine
    that takes none of these fields answers them."""
    root, engine = plain
    engine.enqueue(answer=["fine"])
    completion = sdk(root).chat.completions.create(
        model=MODEL, messages=QUESTION, response_format={"type": "text"},  # type: ignore[arg-type]
        logprobs=False, n=1, tools=[], tool_choice="none", stop=[], modalities=["text"],
        prompt_cache_key="k-1", safety_identifier="s-1")
    assert completion.choices[0].message.content == "fine"
    engine.enqueue(answer=["fine"])
    response = sdk(root).responses.create(model=MODEL, input="hi", tool_choice="none",
                                          text={"format": {"type": "text"}})
    assert response.output_text == "fine"
    for asked in engine.requests[-3:]:
        assert not {"response_format", "tools", "tool_choice", "stop"} & set(asked.options)
    engine.enqueue(answer=["fine"])
    message = anthropic.Anthropic(base_url=root, api_key=API_KEY, max_retries=0).messages.create(
        model=MODEL, max_tokens=100, messages=QUESTION, service_tier="auto",  # type: ignore[arg-type]
        metadata={"user_id": "u-1"}, thinking={"type": "disabled"})
    assert message.content[0].text == "fine"  # type: ignore[union-attr]
    with pytest.raises(openai.BadRequestError) as refused:  # a value that asks is still refused
        sdk(root).chat.completions.create(model=MODEL, messages=QUESTION, n=2)  # type: ignore[arg-type]
    assert refused.value.param == "n"


@pytest.mark.parametrize("beta", [False, True], ids=["chat", "beta.chat"])
def test_chat_stream_helper(served: tuple[str, ClientsEngine], beta: bool) -> None:
    client = sdk(served[0])
    completions = client.beta.chat.completions if beta else client.chat.completions
    with completions.stream(model=MODEL, messages=QUESTION,  # type: ignore[arg-type]
                            reasoning_effort="low",
                            stream_options={"include_usage": True}) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert deltas == ["", *ANSWER]  # the role chunk's empty content first, as OpenAI sends
    message = final.choices[0].message
    assert message.content == "".join(ANSWER)
    assert (message.model_extra or {})["reasoning_content"] == "".join(THINKING)
    assert final.usage is not None and final.usage.prompt_tokens == PROMPT_TOKENS
    assert final.usage.completion_tokens_details.reasoning_tokens == len(THINKING)  # type: ignore[union-attr]


def test_chat_stream_helper_parses_strict_tool_arguments(
        served: tuple[str, ClientsEngine]) -> None:
    root, _ = served
    with sdk(root).chat.completions.stream(model=MODEL, messages=QUESTION,  # type: ignore[arg-type]
                                           tools=[openai.pydantic_function_tool(GetWeather)]
                                           ) as stream:
        done = [event for event in stream if event.type == "tool_calls.function.arguments.done"]
        final = stream.get_final_completion()
    assert [(event.name, event.parsed_arguments) for event in done] == [
        ("GetWeather", GetWeather(city="Paris"))]
    call = final.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert final.choices[0].finish_reason == "tool_calls"
    assert call.function.parsed_arguments == GetWeather(city="Paris")  # type: ignore[union-attr]


def test_with_raw_response(served: tuple[str, ClientsEngine]) -> None:
    root, _ = served
    raw = sdk(root).chat.completions.with_raw_response.create(model=MODEL, messages=QUESTION)  # type: ignore[arg-type]
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/json"
    assert raw.parse().choices[0].message.content == "".join(ANSWER)
    client = anthropic.Anthropic(base_url=root, api_key=API_KEY, max_retries=0)
    message = client.messages.with_raw_response.create(model=MODEL, max_tokens=100,
                                                       messages=QUESTION)  # type: ignore[arg-type]
    assert message.headers["content-type"] == "application/json"
    assert message.parse().content[-1].text == "".join(ANSWER)  # type: ignore[union-attr]


def test_models_retrieve_and_anthropic_models_list(served: tuple[str, ClientsEngine]) -> None:
    root, _ = served
    assert sdk(root).models.retrieve(f"{MODEL}:think").id == f"{MODEL}:think"
    with pytest.raises(openai.NotFoundError) as missing:
        sdk(root).models.retrieve("gpt-nonexistent")
    assert missing.value.code == "model_not_found"
    client = anthropic.Anthropic(base_url=root, api_key=API_KEY, max_retries=0)
    listed = list(client.models.list())
    assert listed[0].id == MODEL
    assert all(model.type == "model" and model.display_name == model.id for model in listed)
    assert listed[0].created_at.year == 1970


def test_responses_stream_with_a_text_format(served: tuple[str, ClientsEngine]) -> None:
    root, engine = served
    with sdk(root).responses.stream(model=MODEL, input="How many?", text_format=Count) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert final.output_parsed == Count(count=12, unit="apples")
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert engine.requests[-1].options["response_format"]["json_schema"]["name"] == "Count"
