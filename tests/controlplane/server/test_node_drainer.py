"""Node drainer: marks allocs for migration, system jobs last, completes on
empty or deadline. Driven tick by tick over a real FSM with an injected clock."""

from __future__ import annotations

from typing import Any

from controlplane.raft import messages as m
from controlplane.raft.fsm import FSM, ApplyResult
from controlplane.server.drainer import NodeDrainer
from controlplane.state import StateStore
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    Job,
    Node,
    Struct,
    Task,
    TaskGroup,
)


class _Raft:
    """Applies submissions to a real FSM at once (a one-node log)."""

    def __init__(self, store: StateStore) -> None:
        self.fsm = FSM(store)
        self.index = 0
        self.submitted: list[m.MsgType] = []

    def submit(self, mt: m.MsgType, msg: Struct, timeout: float = 5.0) -> ApplyResult:
        self.index += 1
        self.submitted.append(mt)
        return self.fsm.apply(self.index, int(mt), m.encode(msg))


def _job(job_id: str, type_: str = "service") -> Job:
    return Job(
        id=job_id,
        type=type_,
        task_groups=[TaskGroup(name="g", tasks=[Task(name="t", driver="raw_exec")])],
    )


def _setup(strategy: dict[str, Any]) -> tuple[_Raft, StateStore, NodeDrainer, list[float]]:
    store = StateStore()
    raft = _Raft(store)
    raft.submit(m.MsgType.NODE_REGISTER, m.NodeRegister(node=Node(id="n1", status="ready")))
    allocs = []
    for job in (_job("web"), _job("agent", "system")):
        raft.submit(m.MsgType.JOB_REGISTER, m.JobRegister(job=job))
        stored = store.job_by_id("default", job.id)
        allocs.append(
            Allocation(
                id=f"{job.id}-1",
                job_id=job.id,
                job=stored,
                node_id="n1",
                task_group="g",
                name=f"{job.id}.g[0]",
                client_status="running",
            )
        )
    raft.submit(m.MsgType.PLAN_APPLY, m.PlanApply(allocs=allocs))
    raft.submit(m.MsgType.NODE_DRAIN, m.NodeDrain(node_id="n1", drain_strategy=strategy))
    clock = [1000.0]
    drainer = NodeDrainer(raft, store, clock=lambda: clock[0])  # type: ignore[arg-type]
    return raft, store, drainer, clock


def _migrating(store: StateStore) -> set[str]:
    return {a.id for a in store.allocs_by_node("n1") if a.desired_transition.migrate}


def _finish(raft: _Raft, alloc_id: str) -> None:
    update = AllocClientUpdate(id=alloc_id, client_status="complete")
    raft.submit(m.MsgType.ALLOC_CLIENT_UPDATE, m.AllocClientUpdateMsg(updates=[update]))


def test_service_allocs_first_then_system_then_complete() -> None:
    raft, store, drainer, _ = _setup({"Deadline": 0, "IgnoreSystemJobs": False})
    drainer.tick()
    assert _migrating(store) == {"web-1"}
    evals = store.evals("*")
    assert [(e.job_id, e.triggered_by, e.node_id) for e in evals] == [("web", "node-drain", "n1")]
    drainer.tick()
    assert len(store.evals("*")) == 1, "a marked alloc gets no second eval"

    _finish(raft, "web-1")
    drainer.tick()
    assert _migrating(store) == {"web-1", "agent-1"}
    node = store.node_by_id("n1")
    assert node is not None and node.drain, "system allocs still run"

    _finish(raft, "agent-1")
    drainer.tick()
    node = store.node_by_id("n1")
    assert node is not None
    assert (node.drain, node.drain_strategy, node.scheduling_eligibility) == (
        False,
        None,
        "ineligible",
    )
    assert node.last_drain is not None and node.last_drain["Status"] == "complete"
    assert [e.message for e in node.events or []][-1] == "Node drain complete"


def test_ignore_system_jobs_leaves_them_running() -> None:
    raft, store, drainer, _ = _setup({"Deadline": 0, "IgnoreSystemJobs": True})
    drainer.tick()
    _finish(raft, "web-1")
    drainer.tick()
    assert _migrating(store) == {"web-1"}
    node = store.node_by_id("n1")
    assert node is not None and not node.drain


def test_deadline_completes_the_drain_with_allocs_left() -> None:
    strategy = {"Deadline": 5_000_000_000, "ForceDeadline": "1970-01-01T00:16:45Z"}
    _raft, store, drainer, clock = _setup(strategy)  # deadline at t=1005
    drainer.tick()
    node = store.node_by_id("n1")
    assert node is not None and node.drain
    clock[0] = 1005.0
    drainer.tick()
    assert _migrating(store) == {"web-1", "agent-1"}, "everything left is marked"
    node = store.node_by_id("n1")
    assert node is not None and not node.drain
    assert node.last_drain is not None and node.last_drain["Status"] == "complete"


def test_cancel_keeps_marks_and_mark_eligible_restores() -> None:
    raft, store, drainer, _ = _setup({"Deadline": 0})
    drainer.tick()
    raft.submit(m.MsgType.NODE_DRAIN, m.NodeDrain(node_id="n1", mark_eligible=True))
    node = store.node_by_id("n1")
    assert node is not None
    assert (node.drain, node.scheduling_eligibility) == (False, "eligible")
    assert node.last_drain is not None and node.last_drain["Status"] == "canceled"
    before = raft.index
    drainer.tick()
    assert raft.index == before, "nothing to do once the drain is off"
