"""Tool calls as OpenAI streams them: fragments merged into whole calls.

The first fragment of a call carries its `index`, `id`, `type` and `function.name`; later
fragments with the same index carry pieces of `function.arguments`, to be concatenated.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def merge_tool_calls(calls: list[dict[str, Any]], fragments: Iterable[dict[str, Any]]) -> None:
    """Fold streamed `fragments` into `calls` (whole calls, in index order), in place."""
    for fragment in fragments:
        index = int(fragment.get("index", len(calls)))
        while len(calls) <= index:
            calls.append({"id": "", "type": "function",
                          "function": {"name": "", "arguments": ""}})
        call = calls[index]
        if fragment.get("id"):
            call["id"] = fragment["id"]
        if fragment.get("type"):
            call["type"] = fragment["type"]
        function = fragment.get("function") or {}
        if function.get("name"):
            call["function"]["name"] = function["name"]
        call["function"]["arguments"] += function.get("arguments") or ""
