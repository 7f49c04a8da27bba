"""A worker commits the outcomes of evaluations that placed nothing together:
one Raft entry for a batch, every evaluation complete and acked."""

from __future__ import annotations

import time

from controlplane.raft.messages import JobRegister, MsgType
from controlplane.raft.node import RaftNode
from controlplane.server.blocked_evals import BlockedEvals
from controlplane.server.eval_broker import EvalBroker
from controlplane.server.plan_apply import PlanApplier
from controlplane.server.server import new_eval
from controlplane.server.worker import Worker
from controlplane.structs import Job, Task, TaskGroup


def _count0(job_id: str) -> Job:
    group = TaskGroup(name="g", count=0, tasks=[Task(name="t", driver="raw_exec")])
    return Job(id=job_id, type="service", datacenters=["dc1"], task_groups=[group])


def test_noop_evaluations_of_a_batch_share_one_entry(raft: RaftNode) -> None:
    broker = EvalBroker()
    broker.set_enabled(True)
    worker = Worker(raft, raft.store, broker, BlockedEvals(broker), PlanApplier(raft, raft.store))
    evals = []
    for i in range(5):
        job = _count0(f"j{i}")
        ev = new_eval(job, "job-register", time.time_ns())
        raft.submit(MsgType.JOB_REGISTER, JobRegister(job=job, eval=ev))
        evals.append(raft.store.eval_by_id(ev.id))
    for ev in evals:
        assert ev is not None
        broker.enqueue(ev)
    batch = [broker.dequeue(timeout=0) for _ in evals]
    assert all(item is not None for item in batch)
    before = raft.store.index

    worker.run_batch([item for item in batch if item is not None])

    assert raft.store.index == before + 1, "one entry for the five outcomes"
    stored = [raft.store.eval_by_id(ev.id) for ev in evals if ev is not None]
    assert [e.status for e in stored if e is not None] == ["complete"] * 5
    assert broker.stats()["unacked"] == 0 and broker.stats()["ready"] == 0
