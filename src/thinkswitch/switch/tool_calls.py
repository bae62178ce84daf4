"""Tool calls as OpenAI streams them: fragments merged into whole calls.

The first fragment of a call carries its `index`, `id`, `type` and `function.name`; later
fragments with the same index carry pieces of `function.arguments`, to be concatenated.
Fragments come from an upstream server, so their shape is checked: a malformed one is the
upstream's failure (`EngineUnavailableError`), never a crash of ours.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from thinkswitch.kernel.errors import EngineUnavailableError

MAX_TOOL_CALLS = 128


def _checked(fragment: Any, next_index: int) -> tuple[int, dict[str, Any]]:
    if not isinstance(fragment, dict):
        raise EngineUnavailableError("upstream sent a tool call that is not an object")
    index = fragment.get("index", next_index)
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < MAX_TOOL_CALLS:
        raise EngineUnavailableError(f"upstream sent a tool call with index {index!r}")
    function = fragment.get("function") or {}
    if not isinstance(function, dict) or not all(
            isinstance(function.get(key, ""), str | None) for key in ("name", "arguments")):
        raise EngineUnavailableError("upstream sent a tool call with a malformed function")
    return index, function


def merge_tool_calls(calls: list[dict[str, Any]], fragments: Iterable[dict[str, Any]]) -> None:
    """Fold streamed `fragments` into `calls` (whole calls, in index order), in place."""
    for fragment in fragments:
        index, function = _checked(fragment, len(calls))
        while len(calls) <= index:
            calls.append({"id": "", "type": "function",
                          "function": {"name": "", "arguments": ""}})
        call = calls[index]
        if isinstance(fragment.get("id"), str) and fragment["id"]:
            call["id"] = fragment["id"]
        if isinstance(fragment.get("type"), str) and fragment["type"]:
            call["type"] = fragment["type"]
        if function.get("name"):
            call["function"]["name"] = function["name"]
        call["function"]["arguments"] += function.get("arguments") or ""
