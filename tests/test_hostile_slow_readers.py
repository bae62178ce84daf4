"""Clients that ask for a long answer and then never read it, against a real uvicorn on
127.0.0.1 on the protocol `thinkswitch serve` runs. Their socket buffers fill, the server's
writes pause, and before the write timeout each such response held its admission slot for as
long as the client kept the connection: two of them took a server of capacity 2 off the air.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
from support.live_server import live_server

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.kernel.events import EngineEvent
from thinkswitch.kernel.plan import GenerationRequest
from thinkswitch.server.app import create_app
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import Dialect, get_dialect
from thinkswitch.triage.rules import RulesPolicy

#: 4 MiB of answer in 64 deltas: far more than the socket buffers of a client that reads none.
LONG = ["x" * 65536] * 64


class PacedEngine(ScriptedEngine):
    """Deltas 10 ms apart, as a model generates them: the response goes out in many writes,
    so the client's full buffer pauses a write the response still needs."""

    def execute(self, request: GenerationRequest, dialect: Dialect) -> Iterator[EngineEvent]:
        for event in super().execute(request, dialect):
            time.sleep(0.01)
            yield event


def test_streams_nobody_reads_give_their_slots_back() -> None:
    engine = PacedEngine()
    for _ in range(6):
        engine.enqueue(answer=LONG)
    switch = Switch(SwitchParts(engine, get_dialect("prompted"), RulesPolicy(), Settings()))
    body = json.dumps({"model": "m", "stream": True,
                       "messages": [{"role": "user", "content": "q"}]}).encode()
    with live_server(create_app(switch, capacity=2), guarded=True, write_timeout_s=2.0) as url:
        port = int(url.rsplit(":", 1)[1])
        readers = []
        for _ in range(2):  # ask, then read nothing
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                         b"content-type: application/json\r\ncontent-length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            readers.append(sock)
        try:
            time.sleep(0.5)
            busy = httpx.post(f"{url}/v1/chat/completions", timeout=10, json={
                "model": "m", "messages": [{"role": "user", "content": "q"}]})
            assert busy.status_code == 429  # both slots are taken by the silent streams
            deadline, inside = time.monotonic() + 20, "2"
            while inside != "0" and time.monotonic() < deadline:
                time.sleep(0.5)
                metrics = httpx.get(f"{url}/metrics", timeout=10).text
                inside = metrics.split("\nthinkswitch_queue_depth ", 1)[1].split()[0]
            assert inside == "0", "the silent streams still hold their slots"
            assert httpx.post(f"{url}/v1/chat/completions", timeout=10, json={
                "model": "m", "messages": [{"role": "user", "content": "q"}]}).status_code == 200
        finally:
            for sock in readers:
                sock.close()
