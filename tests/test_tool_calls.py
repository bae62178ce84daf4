"""Merging streamed tool-call fragments, and refusing malformed ones from an upstream."""

from __future__ import annotations

from typing import Any

import pytest

from thinkswitch.kernel.errors import EngineUnavailableError
from thinkswitch.switch.tool_calls import merge_tool_calls


def test_fragments_merge_into_whole_calls_in_index_order() -> None:
    calls: list[dict[str, Any]] = []
    merge_tool_calls(calls, [{"index": 1, "id": "b", "type": "function",
                              "function": {"name": "second", "arguments": ""}}])
    merge_tool_calls(calls, [{"index": 0, "id": "a", "function": {"name": "first",
                                                                  "arguments": '{"x"'}},
                             {"index": 1, "function": {"arguments": "{}"}}])
    merge_tool_calls(calls, [{"index": 0, "function": {"arguments": ": 1}"}}])
    assert calls == [
        {"id": "a", "type": "function", "function": {"name": "first", "arguments": '{"x": 1}'}},
        {"id": "b", "type": "function", "function": {"name": "second", "arguments": "{}"}}]


@pytest.mark.parametrize("fragment", [
    "call", {"index": "0"}, {"index": -1}, {"index": 10**7}, {"index": True},
    {"index": 0, "function": "f"}, {"index": 0, "function": {"arguments": 5}},
])
def test_a_malformed_fragment_is_the_upstreams_failure(fragment: Any) -> None:
    calls: list[dict[str, Any]] = []
    with pytest.raises(EngineUnavailableError, match="upstream sent a tool call"):
        merge_tool_calls(calls, [fragment])
    assert len(calls) <= 1
