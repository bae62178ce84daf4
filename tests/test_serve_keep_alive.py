"""An idle kept-alive connection outlives the clients' keep-alive expiry (httpx's 5 s, in the
openai and anthropic SDKs), on the protocol `thinkswitch serve` runs. At uvicorn's default
(also 5 s, its clock starting before the client's) a client could send its next request on a
connection the server was closing and get a reset (the likely cause of one httpx ReadError
in 2,865 requests once seen under bench/proxy_throughput.py's load)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from support.live_server import live_server

from thinkswitch.engines.scripted import ScriptedEngine
from thinkswitch.server.app import create_app
from thinkswitch.server.protocol import KEEP_ALIVE_S
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

pytestmark = pytest.mark.slow  # it waits past the clients' 5 s

CLIENT_EXPIRY_S = httpx.Limits().keepalive_expiry or 5.0
REQUEST = b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"


def _response(sock: socket.socket) -> bytes:
    """One response with a Content-Length body, read whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_an_idle_connection_stays_open_past_the_clients_expiry() -> None:
    assert KEEP_ALIVE_S > CLIENT_EXPIRY_S + 1
    switch = Switch(SwitchParts(ScriptedEngine(), get_dialect("prompted"), RulesPolicy(),
                                Settings()))
    with live_server(create_app(switch), guarded=True) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(REQUEST)
            assert _response(sock).startswith(b"HTTP/1.1 200")
            time.sleep(CLIENT_EXPIRY_S + 0.5)
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):  # nothing to read: not closed
                sock.recv(1, socket.MSG_PEEK)
            sock.setblocking(True)
            sock.sendall(REQUEST)
            assert _response(sock).startswith(b"HTTP/1.1 200")
