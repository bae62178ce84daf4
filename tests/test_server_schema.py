"""The served OpenAPI schema, fuzzed with schemathesis against a real server: no 5xx.

Every operation in `/openapi.json` gets a bounded number of generated requests, valid ones
(positive) and ones that break the schema (negative). A client's mistake must be a 4xx in the
dialect's error format, never a 500.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from support.live_server import live_server

from thinkswitch.engines.instant import InstantEngine
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.trace.backends import open_store
from thinkswitch.trace.recorder import Recorder
from thinkswitch.triage.rules import RulesPolicy

pytestmark = pytest.mark.slow  # schemathesis over the whole schema: not in make test-fast

EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = open_store(tmp_path_factory.mktemp("schema") / "traces.sqlite")
    switch = Switch(SwitchParts(InstantEngine(), get_dialect("prompted"), RulesPolicy(), Settings(),
                                Recorder(store)))
    with live_server(create_app(switch)) as url:
        yield url
    store.close()


def operations(root: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{root}/openapi.json")
    results: list[Any] = list(schema.get_all_operations())  # each an Ok or an Err
    return [result.ok() for result in results]


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_generated_request_gets_a_server_error(root: str, mode: str) -> None:
    found = operations(root)
    paths = {op.path for op in found}
    assert {"/v1/chat/completions", "/v1/messages", "/v1/models", "/health"} <= paths
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    fuzzed: list[str] = []
    for operation in found:
        strategy = operation.as_strategy(schemathesis.GenerationMode(mode))

        @hypothesis.given(case=strategy)
        @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        def call(case: Any) -> None:
            response = case.call(base_url=root, timeout=30)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path} {case.body!r} -> "
                                f"{response.status_code} {response.text[:200]}")

        try:
            call()
        except hypothesis.errors.Unsatisfiable:
            assert mode == "negative", f"{operation.path}: no valid request to generate"
            continue  # nothing in this operation's schema to break (no body, no parameters)
        fuzzed.append(operation.path)
    assert not failures, "\n".join(failures[:5])
    assert {"/v1/chat/completions", "/v1/messages"} <= set(fuzzed)
    assert sum(statuses.values()) >= len(fuzzed)
    assert any(400 <= status < 500 for status in statuses) or mode == "positive"


def test_a_sample_of_valid_chat_requests_is_answered(root: str) -> None:
    """Guard against a fuzz run that only ever produced refusals: 200s do happen."""
    import httpx

    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(f"{root}/v1/chat/completions", json=body)
    assert response.status_code == 200
    trace_id = response.json()["thinkswitch"]["trace_id"]
    assert isinstance(trace_id, str) and len(trace_id) > 8
