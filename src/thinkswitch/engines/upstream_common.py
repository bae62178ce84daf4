"""What the engines for the native reasoning APIs (Anthropic Messages, OpenAI Responses) share:
reading a stream of named server-sent events, telling an upstream's errors apart, and keeping
the upstream's opaque reasoning (signed thinking blocks, redacted thinking, encrypted reasoning
items) so that it can be passed back on the next turn.

Those APIs want the reasoning of an earlier assistant turn back (Anthropic requires the signed
thinking blocks in a tool-use loop; OpenAI's encrypted reasoning items let a stateless caller
continue), but the switch's clients hold only the answer: the engine remembers the reasoning
per assistant turn (keyed by the turn's text and tool-call ids, in a bounded LRU map held by the
engine, so in one process) and puts it back when that turn comes again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from thinkswitch.engines.sse import error_message, one_line
from thinkswitch.kernel.errors import EngineUnavailableError, UpstreamRejectedError
from thinkswitch.kernel.messages import ChatMessage

MEMO_SIZE = 1024


def iter_events(lines: Iterable[str], source: str) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a stream of `event:` / `data:` pairs (the event name is also in
    each payload's `type`); garbage is the upstream's failure."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if not data or data == "[DONE]":
            continue
        try:
            payload = json.loads(data)
        except (json.JSONDecodeError, RecursionError):  # garbage, or nested past the parser
            raise EngineUnavailableError(
                f"{source} sent a stream line that is not JSON: {one_line(data)[:80]!r}"
            ) from None
        if not isinstance(payload, dict):
            raise EngineUnavailableError(f"{source} sent a stream event that is not an object")
        yield payload


def status_error(source: str, response: httpx.Response) -> Exception:
    """An upstream's error status: its fault (5xx, 429, Anthropic's 529 overloaded) or the
    request's (other 4xx), with the upstream's own message."""
    try:
        message = error_message(response.json())
    except ValueError:
        message = None
    detail = message or one_line(response.text) or response.reason_phrase
    if 400 <= response.status_code < 500 and response.status_code != 429:
        return UpstreamRejectedError(
            f"the model server refused the request (HTTP {response.status_code}): {detail}")
    return EngineUnavailableError(f"{source} answered HTTP {response.status_code}: {detail}")


def reach_error(source: str, error: Exception, started: bool) -> EngineUnavailableError:
    reason = one_line(str(error) or type(error).__name__)
    if started:
        return EngineUnavailableError(f"{source} stream broke mid-answer: {reason}")
    return EngineUnavailableError(f"cannot reach {source}: {reason}")


def turn_key(content: str, call_ids: Iterable[str]) -> str:
    """What identifies an assistant turn across requests: its text and its tool calls."""
    text = json.dumps([content.strip(), sorted(call_ids)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def message_key(message: ChatMessage) -> str:
    return turn_key(message.content, [str(call.get("id", "")) for call in
                                      message.tool_calls or ()])


class ReasoningMemo:
    """Opaque reasoning per assistant turn (see the module docstring); thread-safe."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self._items: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def keep(self, key: str, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        with self._lock:
            self._items[key] = items
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def recall(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items.get(key, ()))
