"""pysyncobj's TCP buffers, made linear: bytearrays instead of bytes.

pysyncobj keeps each connection's pending output and unparsed input as
`bytes` and appends with `+=` and consumes with `buf = buf[n:]`: every
message appended or parsed copies the whole buffer. When a follower falls a
little behind, the leader's output buffer holds many append_entries
messages and each new one copies all of them (in `bench/raft.py` 70 % of the
leader's GIL time was that one line); a follower catching up pays the same
on input. A bytearray appends in place and drops consumed bytes from its
front without copying the rest. Same bytes on the wire, same order, same
error handling; `apply()` swaps the four methods in once, for every
RaftNode of the process (the raw pysyncobj baseline of the benchmarks
imports nothing from here and keeps the original).
"""

from __future__ import annotations

import socket
import struct
import zlib
from typing import Any

import pysyncobj.pickle as pickle
from pysyncobj import tcp_connection
from pysyncobj.monotonic import monotonic as monotonic_time

_TC = tcp_connection.TcpConnection
_applied = False


def _buffer(conn: Any, name: str) -> bytearray:
    attr = f"_TcpConnection__{name}"
    buf = getattr(conn, attr)
    if not isinstance(buf, bytearray):
        # connect()/disconnect() reset it to bytes(): convert on first use
        buf = bytearray(buf)
        setattr(conn, attr, buf)
    return buf


def _send(self: Any, message: Any) -> None:
    if self.sendRandKey:
        message = (self.sendRandKey, message)
    data = zlib.compress(pickle.dumps(message), 3)
    if self.encryptor:
        data = self.encryptor.encrypt_at_time(data, int(monotonic_time()))
    buf = _buffer(self, "writeBuffer")
    buf += struct.pack("i", len(data))
    buf += data
    self._TcpConnection__trySendBuffer()


def _process_send(self: Any) -> bool:
    buf = _buffer(self, "writeBuffer")
    if not buf:
        return False
    try:
        res = self._TcpConnection__socket.send(buf)
        if res < 0:
            self.disconnect()
            return False
        if res == 0:
            return False
        del buf[:res]
        return True
    except OSError as e:
        if e.errno not in (socket.errno.EAGAIN, socket.errno.EWOULDBLOCK):  # type: ignore[attr-defined]
            self.disconnect()
        return False


def _process_read(self: Any) -> bool:
    sock = self._TcpConnection__socket
    try:
        incoming = sock.recv(self._TcpConnection__recvBufferSize)
    except OSError as e:
        if e.errno not in (socket.errno.EAGAIN, socket.errno.EWOULDBLOCK):  # type: ignore[attr-defined]
            self.disconnect()
        return False
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
        self.disconnect()
        return False
    if not incoming:
        self.disconnect()
        return False
    _buffer(self, "readBuffer").extend(incoming)
    return True


def _process_parse_message(self: Any) -> Any:
    buf = _buffer(self, "readBuffer")
    if len(buf) < 4:
        return None
    size = struct.unpack_from("i", buf, 0)[0]
    if len(buf) - 4 < size:
        return None
    data = bytes(buf[4 : 4 + size])
    try:
        if self.encryptor:
            stamp = self.encryptor.extract_timestamp(data)
            assert stamp >= self.recvLastTimestamp
            self.recvLastTimestamp = stamp
            data = self.encryptor.decrypt(data)
        message = pickle.loads(zlib.decompress(data))
        if self.recvRandKey:
            rand_key, message = message
            assert rand_key == self.recvRandKey
    except Exception:
        # as pysyncobj: a message that does not decode or authenticate ends the connection
        self.disconnect()
        return None
    del buf[: 4 + size]
    return message


def apply() -> None:
    """Swap the buffer handling in (idempotent)."""
    global _applied
    if _applied:
        return
    _TC.send = _send
    _TC._TcpConnection__processSend = _process_send
    _TC._TcpConnection__processRead = _process_read
    _TC._TcpConnection__processParseMessage = _process_parse_message
    _applied = True
