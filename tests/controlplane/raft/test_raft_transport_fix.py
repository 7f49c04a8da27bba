"""pysyncobj connections with linear buffers: messages queued faster than the
peer reads arrive whole and in order (and the buffers are bytearrays, which
append and consume without copying what is left)."""

from __future__ import annotations

import socket

from pysyncobj.poller import createPoller
from pysyncobj.tcp_connection import TcpConnection

from controlplane.raft import transport_fix
from tests.waiting import wait_for


def test_a_backlog_of_messages_arrives_whole_and_in_order() -> None:
    transport_fix.apply()
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    poller = createPoller("auto")
    received: list[object] = []
    sender = TcpConnection(poller, socket=a, sendBufferSize=2**13, recvBufferSize=2**13)
    TcpConnection(poller, onMessageReceived=received.append, socket=b, recvBufferSize=2**13)
    messages = [{"type": "append_entries", "n": i, "entry": b"x" * (i % 3000)} for i in range(3000)]
    for m in messages:
        sender.send(m)  # far more than the socket takes at once: most stay buffered
    assert isinstance(sender._TcpConnection__writeBuffer, bytearray)  # type: ignore[attr-defined]
    assert sender.getSendBufferSize() > 0, "a backlog stayed in the write buffer"

    def pump() -> bool:
        poller.poll(0.01)
        return len(received) == len(messages)

    try:
        wait_for(pump, timeout=20, what="every message received")
    finally:
        a.close()
        b.close()
    assert received == messages
