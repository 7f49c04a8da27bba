"""Pipelined plan commits: the next plan is checked against the placements
of plans still replicating, and a plan that never commits stops counting."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sched_harness import job, node
from store_harness import StoreCluster

from controlplane.errors import NoLeader
from controlplane.raft.fsm import FSM
from controlplane.raft.messages import MsgType, encode
from controlplane.raft.results import ApplyResult
from controlplane.server import plan_apply
from controlplane.server.plan_apply import PlanApplier
from controlplane.structs import Allocation, Plan, PlanResult
from tests.waiting import wait_for


class HeldRaft:
    """Accepts entries and applies each only when the test says so."""

    def __init__(self, cluster: StoreCluster) -> None:
        self.fsm = FSM(cluster.store)
        self.cluster = cluster
        self.entries: list[tuple[int, Any, Callable[[], None] | None, threading.Event]] = []

    def submit_nowait(
        self, mt: MsgType, msg: Any, on_done: Callable[[], None] | None = None
    ) -> Callable[[float], ApplyResult]:
        done = threading.Event()
        self.entries.append((int(mt), msg, on_done, done))
        box: list[ApplyResult] = []

        def wait(timeout: float) -> ApplyResult:
            if not done.wait(timeout):
                raise NoLeader("No cluster leader")
            return box[0]

        self._boxes = getattr(self, "_boxes", [])
        self._boxes.append(box)
        return wait

    def commit(self, k: int) -> None:
        mt, msg, on_done, done = self.entries[k]
        result = self.fsm.apply(self.cluster.next_index(), mt, encode(msg))
        self._boxes[k].append(result)
        if on_done is not None:
            on_done()
        done.set()


def _setup() -> tuple[StoreCluster, HeldRaft, PlanApplier, Allocation, Allocation]:
    # 1,200 MHz, one 500 MHz alloc placed: room for one more, not two
    cl = StoreCluster(node("a", cpu=1200))
    cl.register(job(count=1))
    [(_, [existing])] = cl.run().plan.node_allocation.items()
    raft = HeldRaft(cl)
    applier = PlanApplier(raft, cl.store)  # type: ignore[arg-type]
    second = existing.replace(id="second", name="example.web[1]")
    third = existing.replace(id="third", name="example.web[2]")
    return cl, raft, applier, second, third


def test_a_plan_is_checked_against_the_placements_still_in_flight() -> None:
    cl, raft, applier, second, third = _setup()
    first_result: list[PlanResult] = []
    t = threading.Thread(
        target=lambda: first_result.append(applier.apply(Plan(node_allocation={"a": [second]}), []))
    )
    t.start()
    wait_for(lambda: len(raft.entries) == 1, what="the first plan handed to raft")

    # "second" is not in the store yet, but the node has no room left for "third"
    later = applier.apply(Plan(node_allocation={"a": [third]}), [])
    assert later.rejected_nodes == ["a"] and not later.node_allocation
    assert len(raft.entries) == 1, "nothing to commit for the rejected plan"

    raft.commit(0)
    t.join(5)
    assert first_result[0].node_allocation == {"a": [second]}
    assert cl.store.alloc_by_id("second") is not None
    assert applier._pending == {}, "applied placements are no longer counted twice"


def test_a_plan_that_never_commits_stops_counting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_apply, "WRITE_TIMEOUT_S", 0.05)
    cl, raft, applier, second, third = _setup()
    with pytest.raises(NoLeader):
        applier.apply(Plan(node_allocation={"a": [second]}), [])
    assert applier._pending == {}
    # "second" never landed: "third" takes its room
    t = threading.Thread(target=lambda: applier.apply(Plan(node_allocation={"a": [third]}), []))
    t.start()
    wait_for(lambda: len(raft.entries) == 2, what="the retry handed to raft")
    raft.commit(1)
    t.join(5)
    assert cl.store.alloc_by_id("third") is not None
