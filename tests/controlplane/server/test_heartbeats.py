"""Heartbeats: a silent node is marked down after TTL + grace, with evals for
its jobs; the TTL handed out scales with the node count as Nomad's does."""

from __future__ import annotations

from controlplane.raft.messages import MsgType, NodeRegister, PlanApply
from controlplane.raft.node import RaftNode
from controlplane.server.heartbeats import Heartbeats, heartbeat_ttl
from controlplane.structs import Allocation, Job, Node
from tests.clocks import Clock


def _no_stagger() -> float:
    return 0.0


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
    hb = Heartbeats(
        raft, store, min_ttl_s=10, grace_s=5, failover_grace_s=30, clock=clock, rng=_no_stagger
    )
    assert hb.reset("n1") == 10
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
    hb = Heartbeats(raft, raft.store, min_ttl_s=10, grace_s=5, failover_grace_s=30, clock=clock)
    hb.arm_all()
    clock.now += 39
    assert hb.expire() == []
    clock.now += 2
    assert hb.expire() == ["n1"]


def test_failover_grace_covers_the_rate_scaled_ttls_handed_out(
    raft: RaftNode, clock: Clock
) -> None:
    for i in range(3):
        raft.submit(MsgType.NODE_REGISTER, NodeRegister(node=Node(id=f"n{i}", status="ready")))
    # 3 nodes at 0.1 beats/s: TTL 30 s, staggered up to 60 s by the old leader
    hb = Heartbeats(
        raft, raft.store, min_ttl_s=1, grace_s=1, failover_grace_s=2, max_per_second=0.1,
        clock=clock,
    )
    hb.arm_all()
    clock.now += 60.9
    assert hb.expire() == [], "a node told to beat within 60 s is not down at 61 s"
    clock.now += 0.2
    assert sorted(hb.expire()) == ["n0", "n1", "n2"]


def test_ttl_scales_with_node_count_past_the_rate_limit() -> None:
    # 50 beats/s: up to 500 nodes the 10 s minimum holds; 1000 nodes need 20 s
    assert heartbeat_ttl(10, 50, 1) == 10
    assert heartbeat_ttl(10, 50, 500) == 10
    assert heartbeat_ttl(10, 50, 1000) == 20
    assert heartbeat_ttl(10, 0, 1000) == 10  # no rate limit configured


def test_reset_hands_out_a_staggered_scaled_ttl(raft: RaftNode, clock: Clock) -> None:
    stagger = [0.5]
    hb = Heartbeats(
        raft,
        raft.store,
        min_ttl_s=1,
        grace_s=2,
        max_per_second=2,  # three nodes -> 1.5 s
        clock=clock,
        rng=lambda: stagger[0],
    )
    assert hb.reset("a") == 1.5  # 1 node: the minimum, staggered by half
    hb.reset("b")
    stagger[0] = 0.0
    assert hb.reset("c") == 1.5  # 3 nodes at 2/s
    assert hb.reset("c") == 1.5, "a repeated beat does not count its node twice"


def test_short_configured_ttl_marks_a_node_down_in_seconds(raft: RaftNode, clock: Clock) -> None:
    raft.submit(MsgType.NODE_REGISTER, NodeRegister(node=Node(id="n1", status="ready")))
    hb = Heartbeats(raft, raft.store, min_ttl_s=0.5, grace_s=0.5, clock=clock, rng=_no_stagger)
    hb.reset("n1")
    clock.now += 0.9
    assert hb.expire() == []
    clock.now += 0.2
    assert hb.expire() == ["n1"]
    node = raft.store.node_by_id("n1")
    assert node is not None and node.status == "down"
