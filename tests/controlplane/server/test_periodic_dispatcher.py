"""Periodic dispatcher on a real single-node Raft + StateStore, driven by a clock.

Launch times, child shape, the replicated launch record that keeps a new
leader from launching twice, catch-up after a gap, prohibit_overlap, force.
"""

from __future__ import annotations

import asyncio

import pytest

from controlplane.errors import ValidationError
from controlplane.raft.messages import (
    AllocClientUpdateMsg,
    JobRegister,
    MsgType,
    PlanApply,
)
from controlplane.raft.node import RaftNode
from controlplane.server.periodic import (
    MAX_CATCH_UP,
    PeriodicDispatcher,
    due_launches,
    force_launch,
    launch_message,
)
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    Job,
    PeriodicConfig,
    Task,
    TaskGroup,
)
from tests.clocks import Clock

SEC = 1_000_000_000
# 2027-01-15T08:00:00Z, a whole minute
T0 = 1_800_000_000 - 1_800_000_000 % 60


def _job(cron: str = "* * * * *", overlap: bool = False, enabled: bool = True) -> Job:
    return Job(
        id="report",
        type="batch",
        periodic=PeriodicConfig(spec=cron, prohibit_overlap=overlap, enabled=enabled),
        task_groups=[TaskGroup(name="g", tasks=[Task(name="t", driver="mock")])],
    )


def _register(raft: RaftNode, job: Job, at_s: float) -> None:
    raft.submit(MsgType.JOB_REGISTER, JobRegister(job=job, submit_time=int(at_s * SEC)))


def _children(raft: RaftNode) -> list[str]:
    return [j.id for j in raft.store.job_children("default", "report")]


def test_due_launches_start_after_submission_and_catch_up_a_bounded_number() -> None:
    job = _job().replace(submit_time=(T0 + 10) * SEC)
    assert due_launches(job, 0, T0 + 59) == []
    assert [int(t.timestamp()) for t in due_launches(job, 0, T0 + 60)] == [T0 + 60]
    # a recorded launch moves the start forward
    assert due_launches(job, (T0 + 60) * SEC, T0 + 100) == []
    # a long gap: only the newest MAX_CATCH_UP missed times
    got = [int(t.timestamp()) for t in due_launches(job, 0, T0 + 3600)]
    assert got == [T0 + 3600 - 60 * i for i in range(MAX_CATCH_UP - 1, -1, -1)]


def test_tick_launches_a_child_per_cron_time(raft: RaftNode, clock: Clock) -> None:
    clock.now = T0 + 5
    _register(raft, _job(), clock.now)
    d = PeriodicDispatcher(raft, raft.store, clock=clock)
    assert d.tick() == []
    clock.now = T0 + 61
    assert d.tick() == [f"report/periodic-{T0 + 60}"]
    child = raft.store.job_by_id("default", f"report/periodic-{T0 + 60}")
    assert child is not None
    assert child.parent_id == "report" and child.periodic is None
    assert child.name == child.id and child.type == "batch"
    (ev,) = raft.store.evals_by_job("default", child.id)
    assert ev.triggered_by == "periodic-job" and ev.status == "pending"
    record = raft.store.periodic_launch("default", "report")
    assert record is not None and record.launch == (T0 + 60) * SEC
    # nothing new until the next minute
    assert d.tick() == []
    clock.now = T0 + 125
    assert d.tick() == [f"report/periodic-{T0 + 120}"]
    summary = raft.store.job_summary("default", "report")
    assert summary is not None and summary.children.pending == 2


def test_a_new_leader_resumes_from_the_recorded_launch(raft: RaftNode, clock: Clock) -> None:
    clock.now = T0 + 5
    _register(raft, _job(), clock.now)
    clock.now = T0 + 61
    assert PeriodicDispatcher(raft, raft.store, clock=clock).tick() == [
        f"report/periodic-{T0 + 60}"
    ]
    # another dispatcher (a new leader) at the same moment: nothing to launch
    successor = PeriodicDispatcher(raft, raft.store, clock=clock)
    assert successor.tick() == []
    # ... and after an outage it launches the missed times, each once
    clock.now = T0 + 200
    assert successor.tick() == [f"report/periodic-{T0 + 120}", f"report/periodic-{T0 + 180}"]
    assert _children(raft) == [f"report/periodic-{T0 + s}" for s in (60, 120, 180)]


def test_a_replayed_launch_entry_registers_nothing(raft: RaftNode, clock: Clock) -> None:
    clock.now = T0 + 5
    _register(raft, _job(), clock.now)
    parent = raft.store.job_by_id("default", "report")
    assert parent is not None
    first = raft.submit(MsgType.PERIODIC_LAUNCH, launch_message(parent, T0 + 60, T0 * SEC))
    again = raft.submit(MsgType.PERIODIC_LAUNCH, launch_message(parent, T0 + 60, T0 * SEC))
    assert first.data == {"Launched": True} and again.data == {"Launched": False}
    assert len(raft.store.evals_by_job("default", f"report/periodic-{T0 + 60}")) == 1


def _finish(raft: RaftNode, child_id: str) -> None:
    child = raft.store.job_by_id("default", child_id)
    assert child is not None
    alloc = Allocation(
        id=f"a-{child_id}",
        job_id=child_id,
        node_id="n1",
        task_group="g",
        job=child,
        client_status="running",
    )
    (ev,) = raft.store.evals_by_job("default", child_id)
    raft.submit(
        MsgType.PLAN_APPLY,
        PlanApply(allocs=[alloc], evals=[ev.replace(status="complete")]),
    )
    assert raft.store.job_status(child) == "running"
    raft.submit(
        MsgType.ALLOC_CLIENT_UPDATE,
        AllocClientUpdateMsg(updates=[AllocClientUpdate(id=alloc.id, client_status="complete")]),
    )
    assert raft.store.job_status(child) == "dead"


def test_prohibit_overlap_skips_while_a_child_lives(raft: RaftNode, clock: Clock) -> None:
    clock.now = T0 + 5
    _register(raft, _job(overlap=True), clock.now)
    d = PeriodicDispatcher(raft, raft.store, clock=clock)
    clock.now = T0 + 61
    assert d.tick() == [f"report/periodic-{T0 + 60}"]
    clock.now = T0 + 121
    assert d.tick() == []  # the first child has not finished
    # the skip is recorded: a new leader does not launch that time late
    record = raft.store.periodic_launch("default", "report")
    assert record is not None and record.launch == (T0 + 120) * SEC
    assert PeriodicDispatcher(raft, raft.store, clock=clock).tick() == []
    _finish(raft, f"report/periodic-{T0 + 60}")
    clock.now = T0 + 181
    assert d.tick() == [f"report/periodic-{T0 + 180}"]
    summary = raft.store.job_summary("default", "report")
    assert summary is not None
    assert (summary.children.dead, summary.children.pending) == (1, 1)


def test_disabled_or_stopped_parents_do_not_launch(raft: RaftNode, clock: Clock) -> None:
    clock.now = T0 + 5
    _register(raft, _job(enabled=False), clock.now)
    d = PeriodicDispatcher(raft, raft.store, clock=clock)
    clock.now = T0 + 3600
    assert d.tick() == []
    _register(raft, _job().replace(stop=True), clock.now)
    clock.now += 3600
    assert d.tick() == []


def test_force_launches_now_even_with_overlap(raft: RaftNode, clock: Clock) -> None:
    clock.now = T0 + 5
    _register(raft, _job(cron="0 0 1 1 *", overlap=True), clock.now)
    out = asyncio.run(force_launch(raft, raft.store, "default", "report", T0 + 7))
    out2 = asyncio.run(force_launch(raft, raft.store, "default", "report", T0 + 9))
    assert _children(raft) == [f"report/periodic-{T0 + 7}", f"report/periodic-{T0 + 9}"]
    (ev,) = raft.store.evals_by_job("default", f"report/periodic-{T0 + 7}")
    assert out["EvalID"] == ev.id and out["EvalCreateIndex"] == ev.create_index
    assert out2["EvalID"] != out["EvalID"]
    # the same second again: the existing child's evaluation, no new child
    out3 = asyncio.run(force_launch(raft, raft.store, "default", "report", T0 + 9))
    assert out3["EvalID"] == out2["EvalID"] and len(_children(raft)) == 2


def test_force_refuses_non_periodic_jobs(raft: RaftNode, clock: Clock) -> None:
    _register(raft, Job(id="plain", type="batch", task_groups=[TaskGroup(name="g")]), T0)
    with pytest.raises(ValidationError, match="can't force launch non-periodic job"):
        asyncio.run(force_launch(raft, raft.store, "default", "plain", T0))
    _register(raft, _job(enabled=False), T0)
    with pytest.raises(ValidationError, match='non-tracked job "report"'):
        asyncio.run(force_launch(raft, raft.store, "default", "report", T0))
