"""An upstream (OpenAI-compatible, or Anthropic's Messages) on a raw socket that closes a
kept-alive connection just as the next request comes in on it: the keep-alive race at its
worst.

An HTTP/1.1 server may close an idle connection at any time (uvicorn does after 5 s; vLLM and
llama.cpp's server have their own timers). A client that picks that connection from its pool
in the instant before the close reaches it sends its request into a closed socket and gets no
response at all. Here every connection answers its first request (keep-alive, a short
streamed answer) and closes at the arrival of its second without answering it, so a client
that reuses a connection meets the race every time instead of once in thousands of calls.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from support.upstream_chunks import delta, sse

ANSWER = "kept alive"


@dataclass
class Counts:
    """What the upstream saw: connections accepted, requests answered, requests dropped."""

    connections: int = 0
    answered: int = 0
    dropped: int = 0


def chat_stream(text: str) -> bytes:
    """A streamed chat completion answering `text` (OpenAI's chunks)."""
    return b"".join(sse(delta(role="assistant", content=text), delta("stop")))


def messages_stream(text: str) -> bytes:
    """A streamed Anthropic message answering `text`: the fewest events the `anthropic`
    engine reads into an answer and a finish."""
    events = [("message_start", {"message": {"usage": {"input_tokens": 3}}}),
              ("content_block_start", {"index": 0, "content_block": {"type": "text"}}),
              ("content_block_delta", {"index": 0, "delta": {"type": "text_delta",
                                                             "text": text}}),
              ("content_block_stop", {"index": 0}),
              ("message_delta", {"delta": {"stop_reason": "end_turn"},
                                 "usage": {"output_tokens": 2}}),
              ("message_stop", {})]
    return "".join(f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"
                   for name, data in events).encode()


def _response(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def _read_request(connection: socket.socket, pending: bytes) -> bytes | None:
    """Read one request (headers and a Content-Length body); what follows it, or None at
    the end of the connection."""
    while b"\r\n\r\n" not in pending:
        data = connection.recv(65536)
        if not data:
            return None
        pending += data
    head, rest = pending.split(b"\r\n\r\n", 1)
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        data = connection.recv(65536)
        if not data:
            return None
        rest += data
    return rest[length:]


def _serve(connection: socket.socket, counts: Counts, lock: threading.Lock, reset: bool,
           answer: bytes) -> None:
    with connection:
        left = _read_request(connection, b"")
        if left is None:
            return
        connection.sendall(answer)
        with lock:
            counts.answered += 1
        if not left and not connection.recv(1, socket.MSG_PEEK):
            return  # the client closed it
        with lock:
            counts.dropped += 1
        if not reset:  # read it and close: the client reads the end of the stream
            _read_request(connection, left)
        # else closed with the request unread: a reset, as from a server that closed an idle
        # connection when the next request reaches it


@contextmanager
def closing_upstream(reset: bool = True, stream: Callable[[str], bytes] = chat_stream
                     ) -> Iterator[tuple[str, Counts]]:
    """(base URL ending in /v1, the counts) of a running race upstream answering any path
    with `stream(ANSWER)`; a dropped request meets a reset (`reset`) or the end of the
    stream."""
    answer = _response(stream(ANSWER))
    counts, lock = Counts(), threading.Lock()
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with lock:
                counts.connections += 1
            threading.Thread(target=_serve, args=(connection, counts, lock, reset, answer),
                             daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1", counts
    finally:
        stop.set()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept
        listener.close()
        thread.join(timeout=5)

