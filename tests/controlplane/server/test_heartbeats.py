"""Heartbeats: a silent node is marked down after TTL + grace, with evals for its jobs."""

from __future__ import annotations

from controlplane.raft.messages import MsgType, NodeRegister, PlanApply
from controlplane.raft.node import RaftNode
from controlplane.server.heartbeats import Heartbeats
from controlplane.structs import Allocation, Job, Node
from tests.clocks import Clock


def test_silent_node_goes_down_with_an_eval_for_its_job(raft: RaftNode, clock: Clock) -> None:
    store = raft.store
    raft.submit(MsgType.NODE_REGISTER, NodeRegister(node=Node(id="n1", status="ready")))
    raft.submit(MsgType.NODE_REGISTER, NodeRegister(node=Node(id="n2", status="ready")))
    job = Job(id="web", type="service", priority=60)
    raft.submit(
        MsgType.PLAN_APPLY,
        PlanApply(
            allocs=[
                Allocation(
                    id="a1", job_id="web", job=job, node_id="n1", name="web.g[0]", task_group="g"
                ),
            ]
        ),
    )
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


def test_failover_grace_on_becoming_leader(raft: RaftNode, clock: Clock) -> None:
    raft.submit(MsgType.NODE_REGISTER, NodeRegister(node=Node(id="n1", status="ready")))
    hb = Heartbeats(raft, raft.store, ttl_s=10, grace_s=5, failover_grace_s=30, clock=clock)
    hb.arm_all()
    clock.now += 39
    assert hb.expire() == []
    clock.now += 2
    assert hb.expire() == ["n1"]
