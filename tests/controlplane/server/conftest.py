"""Fixtures for server-loop tests: a real single-node Raft + store, a settable clock."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from controlplane.raft.node import RaftConfig, RaftNode
from controlplane.state import StateStore
from tests.clocks import Clock
from tests.waiting import wait_for


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def raft() -> Iterator[RaftNode]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    node = RaftNode(StateStore(), RaftConfig(self_addr=f"127.0.0.1:{port}"))
    wait_for(node.is_leader, what="single-node leader")
    yield node
    node.destroy()
