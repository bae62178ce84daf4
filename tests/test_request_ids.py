"""Every response under `/v1/` names its request, and the name leads to the trace record.

The official SDKs read the id into `_request_id` (openai: `x-request-id`; anthropic:
`request-id`); it is the id of the request's trace record, the response ids are built from it
(`chatcmpl-<id>`, `msg_<id>`, `resp_<id>`), and `thinkswitch logs show` takes either form.
Errors carry an id too. A real server on 127.0.0.1 with a SQLite trace store; the engine's
answers are known (support.clients_server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from support.cli import thinkswitch
from support.clients_server import ANSWER, API_KEY, FAIL_MIDWAY, MODEL, clients_server

from thinkswitch.trace.backends import open_store
from thinkswitch.trace.record import TraceRecord
from thinkswitch.trace.recorder import Recorder
from thinkswitch.trace.store import SqlTraceStore

QUESTION = [{"role": "user", "content": "How many apples are in 3 boxes of 4?"}]
Served = tuple[str, SqlTraceStore, Path]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    db = tmp_path_factory.mktemp("ids") / "trace.sqlite"
    store = open_store(str(db))
    with clients_server(recorder=Recorder(store)) as root:
        yield root, store, db
    store.close()


def openai_sdk(root: str, key: str = API_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{root}/v1", api_key=key, max_retries=0)


def anthropic_sdk(root: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=root, api_key=API_KEY, max_retries=0)


def recorded(store: SqlTraceStore, request_id: str | None) -> TraceRecord:
    assert request_id, "the response named no request"
    record = store.get(request_id)
    assert record is not None, f"no trace record {request_id!r}"
    assert record.kind == "request"
    return record


def test_a_chat_completion_names_its_trace_record(served: Served) -> None:
    root, store, db = served
    raw = openai_sdk(root).chat.completions.with_raw_response.create(
        model=MODEL, messages=QUESTION)  # type: ignore[arg-type]
    completion = raw.parse()
    request_id = completion._request_id
    assert request_id == raw.headers["x-request-id"] == raw.headers["request-id"]
    assert completion.id == f"chatcmpl-{request_id}"
    assert recorded(store, request_id).answer == "".join(ANSWER)
    for named in (request_id, completion.id):
        shown = thinkswitch("logs", "show", str(named), "--db", str(db))
        assert shown.returncode == 0, shown.stderr
        assert f"record {request_id}" in shown.stdout and "12 apples" in shown.stdout


def test_a_streamed_chat_completion_names_its_trace_record(served: Served) -> None:
    root, store, _ = served
    stream = openai_sdk(root).chat.completions.create(model=MODEL, messages=QUESTION,  # type: ignore[arg-type]
                                                      stream=True)
    chunks = list(stream)
    request_id = stream.response.headers["x-request-id"]
    assert {chunk.id for chunk in chunks} == {f"chatcmpl-{request_id}"}
    assert recorded(store, request_id).answer == "".join(ANSWER)


def test_each_request_gets_its_own_id(served: Served) -> None:
    root, _, _ = served
    client = openai_sdk(root)
    ids = {client.chat.completions.create(model=MODEL, messages=QUESTION)._request_id  # type: ignore[arg-type]
           for _ in range(3)}
    assert len(ids) == 3


def test_a_response_names_its_trace_record(served: Served) -> None:
    root, store, db = served
    client = openai_sdk(root)
    response = client.responses.create(model=MODEL, input="How many apples?")
    assert response.id == f"resp_{response._request_id}"
    assert recorded(store, response._request_id).answer == "".join(ANSWER)
    stream = client.responses.create(model=MODEL, input="How many apples?", stream=True)
    done = [event for event in stream if event.type == "response.completed"]
    streamed_id = stream.response.headers["x-request-id"]
    assert [event.response.id for event in done] == [f"resp_{streamed_id}"]  # type: ignore[union-attr]
    recorded(store, streamed_id)
    shown = thinkswitch("logs", "show", f"resp_{streamed_id}", "--db", str(db))
    assert shown.returncode == 0 and streamed_id in shown.stdout


def test_an_unstored_response_is_traced_but_cannot_be_retrieved_by_its_request_id(
        served: Served) -> None:
    root, store, _ = served
    client = openai_sdk(root)
    response = client.responses.create(model=MODEL, input="How many apples?", store=False)
    request_id = response._request_id
    assert request_id is not None and request_id.startswith("unstored-")
    assert response.id != f"resp_{request_id}"
    assert recorded(store, request_id).answer == "".join(ANSWER)
    for named in (response.id, f"resp_{request_id}"):
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(named)


def test_an_anthropic_message_names_its_trace_record(served: Served) -> None:
    root, store, db = served
    client = anthropic_sdk(root)
    message = client.messages.create(model=MODEL, max_tokens=64, messages=QUESTION)  # type: ignore[arg-type]
    assert message.id == f"msg_{message._request_id}"
    assert recorded(store, message._request_id).answer == "".join(ANSWER)
    with client.messages.stream(model=MODEL, max_tokens=64, messages=QUESTION) as stream:  # type: ignore[arg-type]
        final = stream.get_final_message()
        assert stream.request_id is not None
        assert final.id == f"msg_{stream.request_id}"
    recorded(store, stream.request_id)
    shown = thinkswitch("logs", "show", final.id, "--db", str(db))
    assert shown.returncode == 0 and str(stream.request_id) in shown.stdout


def test_a_failed_answer_names_the_record_of_its_failure(served: Served) -> None:
    root, store, _ = served
    with pytest.raises(openai.APIStatusError) as failed:
        openai_sdk(root).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": FAIL_MIDWAY}])
    assert failed.value.status_code == 502
    assert recorded(store, failed.value.request_id).error is not None
    with pytest.raises(anthropic.APIStatusError) as failed_too:
        anthropic_sdk(root).messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": FAIL_MIDWAY}])
    assert recorded(store, failed_too.value.request_id).error is not None


def test_refusals_carry_a_request_id_too(served: Served) -> None:
    root, _, _ = served
    with pytest.raises(openai.AuthenticationError) as unknown_key:
        openai_sdk(root, key="sk-wrong").chat.completions.create(model=MODEL, messages=QUESTION)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError) as invalid:
        openai_sdk(root).chat.completions.create(model=MODEL, messages=[])
    with pytest.raises(anthropic.BadRequestError) as invalid_too:
        anthropic_sdk(root).messages.create(model=MODEL, max_tokens=0, messages=QUESTION)  # type: ignore[arg-type]
    ids = [unknown_key.value.request_id, invalid.value.request_id, invalid_too.value.request_id]
    assert all(ids) and len(set(ids)) == 3
    streamed = httpx.post(f"{root}/v1/chat/completions", json={"model": MODEL, "stream": True},
                          headers={"authorization": f"Bearer {API_KEY}"})
    assert streamed.status_code == 400 and streamed.headers["x-request-id"]


def test_a_busy_server_names_its_429s() -> None:
    with clients_server(capacity=0) as root:
        with pytest.raises(openai.RateLimitError) as busy:
            openai_sdk(root).chat.completions.create(model=MODEL, messages=QUESTION)  # type: ignore[arg-type]
        with pytest.raises(anthropic.RateLimitError) as busy_too:
            anthropic_sdk(root).messages.create(model=MODEL, max_tokens=64, messages=QUESTION)  # type: ignore[arg-type]
    assert busy.value.request_id and busy_too.value.request_id
    assert busy.value.request_id != busy_too.value.request_id


def test_paths_outside_the_api_have_no_request_id(served: Served) -> None:
    root, _, _ = served
    assert "x-request-id" not in httpx.get(f"{root}/health").headers
