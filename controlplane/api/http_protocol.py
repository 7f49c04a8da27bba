"""The HTTP connection protocol the agent's uvicorn runs: uvicorn's httptools
protocol, with a response's head and first body chunk sent in one write.

uvicorn writes a response's status line and headers as soon as the app
starts the response, and the body in a second write: two send() calls per
answer. Each is a syscall that uvloop makes holding the GIL, and each puts a
segment on the wire (TCP_NODELAY) that wakes the client. `CoalescingTransport`
holds a small write until the next write or the end of the loop iteration,
whichever comes first, and sends both with one writev. At most one write is
ever held (a streamed response does not pile up here, and the transport's
flow control sees everything at once), and closing sends what is held
first. Never changes a byte of what is sent, nor its order.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# a write this large is not held: there is nothing to gain by joining it
HOLD_MAX_BYTES = 64 * 1024


class CoalescingTransport:
    """Wraps a transport; anything but write/writelines/close/abort passes through."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines([held, data])
        elif len(data) > HOLD_MAX_BYTES or not data:
            self._transport.write(data)
        else:
            self._held = bytes(data)
            self._loop.call_soon(self._flush)

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def _flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a CoalescingTransport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
