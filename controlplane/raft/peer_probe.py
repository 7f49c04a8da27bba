"""Probe a would-be Raft peer before adding it to the configuration.

Adding a voter that cannot talk to the cluster costs quorum, so a join first
checks that something answers at the address and, when Raft traffic is
encrypted, that it holds the same key: it performs the first step of
pysyncobj's encrypted handshake (send a random key, expect it echoed back
under the shared key). A server with another key drops the connection.
Never joins anything itself; never unpickles a reply it could not decrypt.
"""

from __future__ import annotations

import os
import socket
import struct
import time
import zlib
from typing import Any

import pysyncobj.pickle as raft_pickle

UNREACHABLE = "no server answers at this address"
WRONG_KEY = "the server at this address does not use this cluster's encryption key"

_MAX_REPLY = 1 << 20


def probe(addr: str, encryptor: Any | None, timeout: float = 2.0) -> str:
    """Empty when `addr` can join; otherwise why it cannot (UNREACHABLE, WRONG_KEY)."""
    host, _, port = addr.rpartition(":")
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except (OSError, ValueError):
        return UNREACHABLE
    with sock:
        if encryptor is None:
            return ""
        nonce = os.urandom(32)
        try:
            sock.sendall(_frame(raft_pickle.dumps(nonce), encryptor))
            reply = _read_frame(sock, time.monotonic() + timeout)
        except OSError:
            return WRONG_KEY
        if reply is None:
            return WRONG_KEY
        try:
            message = raft_pickle.loads(zlib.decompress(encryptor.decrypt(reply)))
        except Exception:
            # InvalidToken, or a peer speaking something else entirely
            return WRONG_KEY
        # the peer prefixes what it sends with the key we sent (pysyncobj's
        # sendRandKey): proof it decrypted our message with the same key
        if not (isinstance(message, tuple) and message and message[0] == nonce):
            return WRONG_KEY
        return ""


def _frame(payload: bytes, encryptor: Any) -> bytes:
    # pysyncobj's TcpConnection.send: zlib, Fernet (monotonic timestamp), length
    data = encryptor.encrypt_at_time(zlib.compress(payload, 3), int(time.monotonic()))
    return struct.pack("i", len(data)) + data


def _read_frame(sock: socket.socket, deadline: float) -> bytes | None:
    buf = b""
    need = 4
    length: int | None = None
    while len(buf) < need:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return None
        if not chunk:
            return None  # the peer hung up: it could not decrypt our message
        buf += chunk
        if length is None and len(buf) >= 4:
            length = struct.unpack("i", buf[:4])[0]
            if not 0 < length <= _MAX_REPLY:
                return None
            need = 4 + length
    return buf[4:need]
