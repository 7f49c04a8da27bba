"""A three-server Raft group in this process (real pysyncobj on loopback)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from controlplane.raft.node import RaftConfig, RaftNode
from controlplane.state import StateStore
from tests.waiting import wait_for


def _addrs(n: int) -> list[str]:
    out = []
    for _ in range(n):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            out.append(f"127.0.0.1:{s.getsockname()[1]}")
    return out


@pytest.fixture
def cluster() -> Iterator[list[RaftNode]]:
    addrs = _addrs(3)
    nodes = [
        RaftNode(StateStore(), RaftConfig(self_addr=a, peers=[b for b in addrs if b != a]))
        for a in addrs
    ]
    try:
        wait_for(lambda: all(n.is_ready() and n.leader_addr() for n in nodes), timeout=20,
                 what="a leader")
        yield nodes
    finally:
        for n in nodes:
            n.destroy()


