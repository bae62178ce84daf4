"""`CorkedTransport` on a real socket and event loop: the writes of one loop turn reach the
socket as one write, the next turn's as another (a stream is not held back), and closing sends
what is held before the end of the connection."""

from __future__ import annotations

import asyncio
import socket

from thinkswitch.server.corked import CorkedTransport


async def _connected() -> tuple[asyncio.Transport, list[bytes], socket.socket]:
    """A real transport over one end of a socket pair, its writes logged; the other end."""
    ours, theirs = socket.socketpair()
    transport, _ = await asyncio.get_running_loop().create_connection(asyncio.Protocol,
                                                                      sock=ours)
    writes: list[bytes] = []
    real_write = transport.write

    def logged(data: bytes | bytearray | memoryview) -> None:
        writes.append(bytes(data))
        real_write(data)

    transport.write = logged  # type: ignore[method-assign]
    theirs.setblocking(False)
    return transport, writes, theirs


async def _read(peer: socket.socket, size: int) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while len(data) < size:
        chunk = await asyncio.wait_for(loop.sock_recv(peer, size - len(data)), 5.0)
        if not chunk:
            break
        data += chunk
    return data


def test_one_write_per_loop_turn() -> None:
    async def run() -> None:
        transport, writes, peer = await _connected()
        corked = CorkedTransport(transport, asyncio.get_running_loop())
        corked.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        corked.write(b"{}")
        assert writes == [] and corked.get_write_buffer_size() == 40
        await asyncio.sleep(0)
        assert writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
        corked.write(b"data: 1\n\n")  # a later turn: a write of its own, not held back
        await asyncio.sleep(0)
        assert writes[1:] == [b"data: 1\n\n"]
        assert await _read(peer, 49) == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}data: 1\n\n"
        corked.write(b"last")
        corked.close()  # what is held goes out before the connection ends
        assert writes[2:] == [b"last"]
        assert await _read(peer, 100) == b"last"
        assert corked.is_closing()
        peer.close()

    asyncio.run(run())


def test_abort_drops_what_is_held() -> None:
    async def run() -> None:
        transport, writes, peer = await _connected()
        corked = CorkedTransport(transport, asyncio.get_running_loop())
        corked.write(b"never sent")
        corked.abort()
        await asyncio.sleep(0)
        assert writes == []
        assert await _read(peer, 10) == b""
        peer.close()

    asyncio.run(run())
