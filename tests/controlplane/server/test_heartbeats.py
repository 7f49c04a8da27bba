"""Heartbeats: a silent node is marked down after TTL + grace, with evals for its jobs."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from controlplane.raft.messages import MsgType, NodeRegister, PlanApply
from controlplane.raft.node import RaftConfig, RaftNode
from controlplane.server.heartbeats import Heartbeats
from controlplane.state import StateStore
from controlplane.structs import Allocation, Job, Node
from tests.waiting import wait_for


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def raft() -> Iterator[RaftNode]:
    node = RaftNode(StateStore(), RaftConfig(self_addr=f"127.0.0.1:{_port()}"))
    wait_for(node.is_leader, what="single-node leader")
    yield node
    node.destroy()


def test_silent_node_goes_down_with_an_eval_for_its_job(raft: RaftNode) -> None:
    store = raft.store
    raft.submit(MsgType.NODE_REGISTER, NodeRegister(node=Node(id="n1", status="ready")))
    raft.submit(MsgType.NODE_REGISTER, NodeRegister(node=Node(id="n2", status="ready")))
    job = Job(id="web", type="service", priority=60)
    raft.submit(MsgType.PLAN_APPLY, PlanApply(allocs=[
        Allocation(id="a1", job_id="web", job=job, node_id="n1", name="web.g[0]",
                   task_group="g"),
    ]))
    clock = Clock()
    hb = Heartbeats(raft, store, ttl_s=10, grace_s=5, failover_grace_s=30, clock=clock)
    hb.reset("n1")
    hb.reset("n2")

    clock.now += 14.9
    assert hb.expire() == []
    hb.reset("n2")  # n2 keeps beating
    clock.now += 0.2
    assert hb.expire() == ["n1"]

    n1, n2 = store.node_by_id("n1"), store.node_by_id("n2")
    assert n1 is not None and n2 is not None
    assert (n1.status, n2.status) == ("down", "ready")
    assert [e.message for e in n1.events or []][-1] == "Node heartbeat missed"
    evals = store.evals_by_job("default", "web")
    assert [(e.triggered_by, e.node_id, e.priority, e.status) for e in evals] == [
        ("node-update", "n1", 60, "pending")
    ]
    clock.now += 100
    assert hb.expire() == ["n2"]  # each node is marked down once


def test_failover_grace_on_becoming_leader(raft: RaftNode) -> None:
    raft.submit(MsgType.NODE_REGISTER, NodeRegister(node=Node(id="n1", status="ready")))
    clock = Clock()
    hb = Heartbeats(raft, raft.store, ttl_s=10, grace_s=5, failover_grace_s=30, clock=clock)
    hb.arm_all()
    clock.now += 39
    assert hb.expire() == []
    clock.now += 2
    assert hb.expire() == ["n1"]
