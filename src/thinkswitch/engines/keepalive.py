"""The keep-alive race: a request sent once more when its reused connection was closed under
it before any response came back (the `openai` engine's chat calls, the native-API engines).

An HTTP/1.1 server closes an idle kept-alive connection when it likes (uvicorn, under vLLM and
the benches' upstream, after 5 s); a call that takes that connection from the pool in the
instant before the close arrives is written into a closed socket and gets a reset or an end of
stream, and no answer. httpcore does not send it again (it drops the dead connection only), so
`sent_again_once` does, once: nothing of the request was answered, and the pool hands the
second try a live connection or a new one. Only the send is retried (until the response's
headers are in), never a stream already under way. Under bench/proxy_throughput.py's load the
proxy reuses upstream connections idle up to 4.8 s (against uvicorn's 5): the likely cause of
one stream in ~2,000 once ending in an error event there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import httpx

#: How a send fails when its connection was closed under it before any response came back.
UNANSWERED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)

SentT = TypeVar("SentT")


def sent_again_once(send: Callable[[], SentT]) -> SentT:
    """What `send` returns, calling it a second time if the first met the keep-alive race
    (`UNANSWERED`); `send` must return once the response's headers are in."""
    try:
        return send()
    except UNANSWERED:
        return send()
