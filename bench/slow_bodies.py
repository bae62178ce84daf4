"""Slow bodies against admission: do clients that trickle their request bodies keep others out?

Starts `thinkswitch serve`'s app (instant engine, the guarded uvicorn protocol) on 127.0.0.1
with `--capacity`, opens `--slow` raw connections that declare a body and send one byte every
`--pause` seconds, and meanwhile sends one ordinary request every 0.25 s for `--seconds`. It
reports the ordinary requests' status codes and latency, and what the tricklers got back. The
issue's attack: four connections, a byte every 5 s, capacity below four.

    .venv/bin/python bench/slow_bodies.py --slow 4 --pause 5 --capacity 2 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import threading
import time
from collections import Counter

import httpx
import uvicorn

from thinkswitch.engines.instant import InstantEngine
from thinkswitch.server.app import create_app
from thinkswitch.server.protocol import server_config
from thinkswitch.settings import Settings
from thinkswitch.switch.parts import SwitchParts
from thinkswitch.switch.pipeline import Switch
from thinkswitch.thinking.dialects import get_dialect
from thinkswitch.triage.rules import RulesPolicy

BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 400}]})


def trickle(port: int, pause_s: float, stop: threading.Event, replies: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: "
                     b"application/json\r\ncontent-length: " + str(len(BODY)).encode()
                     + b"\r\n\r\n")
        sock.settimeout(0.05)
        for byte in BODY.encode():
            if stop.wait(pause_s):
                break
            try:
                sock.sendall(bytes([byte]))
                reply = sock.recv(200)
            except TimeoutError:
                continue
            except OSError:
                break
            if reply:
                replies.append(reply.split(b"\r\n", 1)[0])
                break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=4)
    parser.add_argument("--pause", type=float, default=5.0)
    parser.add_argument("--capacity", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--body-timeout", type=float, default=30.0)
    args = parser.parse_args()

    switch = Switch(SwitchParts(InstantEngine(), get_dialect("prompted"), RulesPolicy(),
                                Settings()))
    app = create_app(switch, capacity=args.capacity, body_timeout_s=args.body_timeout)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)

    stop, replies = threading.Event(), []
    slow = [threading.Thread(target=trickle, args=(port, args.pause, stop, replies))
            for _ in range(args.slow)]
    for thread in slow:
        thread.start()
    time.sleep(0.5)
    statuses: Counter[int] = Counter()
    latencies = []
    end = time.monotonic() + args.seconds
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < end:
            started = time.perf_counter()
            response = client.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={
                "model": "m", "messages": [{"role": "user", "content": "hi"}]})
            latencies.append(time.perf_counter() - started)
            statuses[response.status_code] += 1
            time.sleep(0.25)
    stop.set()
    for thread in slow:
        thread.join(timeout=10)
    server.should_exit = True
    print(f"{args.slow} tricklers (a byte every {args.pause:g} s), capacity {args.capacity}, "
          f"{args.seconds:g} s: ordinary requests {dict(sorted(statuses.items()))}, "
          f"median {statistics.median(latencies) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms; tricklers got "
          f"{dict(Counter(r.decode() for r in replies)) or 'nothing yet'}")


if __name__ == "__main__":
    main()
