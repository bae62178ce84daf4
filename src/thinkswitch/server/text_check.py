"""Refuse JSON bodies whose strings are not valid Unicode text, before any route reads them.

JSON may spell a lone UTF-16 surrogate (`"\\ud800"`); Python's parser turns it into a `str` that
cannot be encoded as UTF-8. Left in, it fails wherever text is encoded — the tokenizer, the
trace store, the response itself — as a 500, a 502, or a 200 whose stream is then cut. Every
string (keys too) of a JSON body is checked once here, and the first bad one is a 400 naming
where it is (`messages.0.content`), in the dialect's error format. Bodies that are not JSON
pass untouched: the route's own parsing refuses them. (Raw bytes count too: `json.loads`
decodes bytes with `surrogatepass`, so an encoded surrogate, ED A0 80, arrives the same way.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from starlette.types import ASGIApp, Receive, Scope, Send

from thinkswitch.server.body_limit import replaying
from thinkswitch.server.errors import Refusal

Location = tuple[str | int, ...]


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: A location as a linked list, (parent, key), built in O(1) per value: a flat tuple copied for
#: every child costs depth x values (a 1 MiB body nested 200 deep took seconds).
Path = tuple["Path", str | int] | None


def _location(path: Path) -> Location:
    parts: list[str | int] = []
    while path is not None:
        path, key = path
        parts.append(key)
    return tuple(reversed(parts))


def _strings(value: object, where: Path) -> Iterator[tuple[Path, str]]:
    """Every string of a parsed JSON document with its path, keys included."""
    stack: list[tuple[Path, object]] = [(where, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            yield path, item
        elif isinstance(item, dict):
            for key, child in item.items():
                yield (path, key), key
                stack.append(((path, key), child))
        elif isinstance(item, list):
            stack.extend(((path, index), child) for index, child in enumerate(item))


def first_invalid_text(document: object) -> str | None:
    """The dotted location of the first string that is not valid Unicode, or None."""
    for path, text in _strings(document, None):
        if not _encodable(text):
            where = ".".join(str(part) for part in _location(path)) or "body"
            return where.encode("utf-8", "backslashreplace").decode("utf-8")  # keys may be bad
    return None


class TextCheck:
    """ASGI middleware: a JSON request body with a lone surrogate in any string gets a 400."""

    def __init__(self, app: ASGIApp, refuse: Refusal) -> None:
        self.app = app
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:  # the body limit in front has already read and capped it
            incoming = await receive()
            if incoming["type"] == "http.disconnect":
                return
            chunks.append(incoming.get("body", b""))
            if not incoming.get("more_body", False):
                break
        body = b"".join(chunks)
        where = _check(body)
        if where is not None:
            refusal = self.refuse(scope["path"], 400, f"invalid {where}: the text is not valid "
                                  "Unicode (a lone UTF-16 surrogate such as \\ud800)",
                                  "invalid_request_error", param=where)
            await refusal(scope, receive, send)
            return
        await self.app(scope, replaying(body, receive), send)


def _check(body: bytes) -> str | None:
    if body.isascii() and b"\\u" not in body:
        return None  # no escapes and no raw bytes that could decode to a surrogate
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser: the route's
        return None                       # own parse refuses it with a 400
    return first_invalid_text(document)
