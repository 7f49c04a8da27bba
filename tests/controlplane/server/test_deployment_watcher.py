"""Deployment watcher: progress deadlines, success and stability, failure and auto-revert,
auto-promotion, next-batch evaluations; on a real single-node Raft + StateStore."""

from __future__ import annotations

import pytest

from controlplane.raft.messages import JobRegister, JobStable, MsgType, PlanApply
from controlplane.raft.node import RaftNode
from controlplane.server.deployment_watcher import DeploymentWatcher, parse_time
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    AllocDeploymentStatus,
    Deployment,
    DeploymentState,
    Job,
    Task,
    TaskGroup,
)
from tests.clocks import Clock

SEC = 1_000_000_000


def _job(image: str) -> Job:
    return Job(
        id="web",
        task_groups=[
            TaskGroup(
                name="g", count=2, tasks=[Task(name="t", driver="docker", config={"image": image})]
            )
        ],
    )


def _register(raft: RaftNode, job: Job) -> Job:
    raft.submit(MsgType.JOB_REGISTER, JobRegister(job=job, submit_time=1))
    stored = raft.store.job_by_id("default", job.id)
    assert stored is not None
    return stored


def _deploy(raft: RaftNode, job: Job, **state: object) -> Deployment:
    dep = Deployment(
        id=f"dep-{job.version}",
        job_id=job.id,
        job_version=job.version,
        status="running",
        status_description="Deployment is running",
        task_groups={"g": DeploymentState(desired_total=2, progress_deadline=600 * SEC, **state)},  # type: ignore[arg-type]
    )
    allocs = [
        Allocation(
            id=f"{dep.id}-a{i}",
            job_id=job.id,
            job=job,
            node_id="n1",
            name=f"web.g[{i}]",
            task_group="g",
            deployment_id=dep.id,
            deployment_status=AllocDeploymentStatus(canary=bool(state.get("desired_canaries"))),
        )
        for i in range(2)
    ]
    raft.submit(MsgType.PLAN_APPLY, PlanApply(allocs=allocs, deployment=dep))
    stored = raft.store.deployment_by_id(dep.id)
    assert stored is not None
    return stored


def _health(raft: RaftNode, alloc_id: str, healthy: bool) -> None:
    from controlplane.raft.messages import AllocClientUpdateMsg

    raft.submit(
        MsgType.ALLOC_CLIENT_UPDATE,
        AllocClientUpdateMsg(
            updates=[
                AllocClientUpdate(
                    id=alloc_id,
                    client_status="running",
                    deployment_status=AllocDeploymentStatus(healthy=healthy),
                )
            ]
        ),
    )


def test_counters_progress_and_success(raft: RaftNode, clock: Clock) -> None:
    w = DeploymentWatcher(raft, raft.store, clock=clock)
    job = _register(raft, _job("a"))
    dep = _deploy(raft, job)
    assert dep.task_groups["g"].placed_allocs == 2

    first = w.tick()
    assert len(first) == 1
    state = raft.store.deployment_by_id(dep.id).task_groups["g"]  # type: ignore[union-attr]
    assert parse_time(state.require_progress_by) == pytest.approx(clock.now + 600, abs=1)
    assert w.tick() == []  # nothing new

    clock.now += 30
    _health(raft, f"{dep.id}-a0", True)
    progressed = w.tick()
    assert [e.triggered_by for e in progressed[0].evals] == ["deployment-watcher"]
    state = raft.store.deployment_by_id(dep.id).task_groups["g"]  # type: ignore[union-attr]
    assert state.healthy_allocs == 1
    assert parse_time(state.require_progress_by) == pytest.approx(clock.now + 600, abs=1)

    _health(raft, f"{dep.id}-a1", True)
    w.tick()
    done = raft.store.deployment_by_id(dep.id)
    assert done is not None
    assert (done.status, done.status_description) == (
        "successful",
        "Deployment completed successfully",
    )
    stored = raft.store.job_by_id("default", "web")
    assert stored is not None and stored.stable is True
    assert raft.store.job_versions("default", "web")[0].stable is True


def test_unhealthy_alloc_fails_and_auto_reverts_to_last_stable(
    raft: RaftNode, clock: Clock
) -> None:
    w = DeploymentWatcher(raft, raft.store, clock=clock)
    v0 = _register(raft, _job("good"))
    raft.submit(MsgType.JOB_STABLE, JobStable(namespace="default", job_id="web", version=0))
    v1 = _register(raft, _job("bad"))
    assert v1.version == 1
    dep = _deploy(raft, v1, auto_revert=True)
    _health(raft, f"{dep.id}-a0", False)
    w.tick()
    failed = raft.store.deployment_by_id(dep.id)
    assert failed is not None
    assert failed.status == "failed"
    assert failed.status_description == (
        "Failed due to unhealthy allocations - rolling back to job version 0"
    )
    job = raft.store.job_by_id("default", "web")
    assert job is not None
    assert job.version == 2
    assert job.task_groups[0].tasks[0].config == v0.task_groups[0].tasks[0].config
    evals = raft.store.evals_by_job("default", "web")
    assert [e.triggered_by for e in evals] == ["job-register"]


def test_failure_without_stable_version_says_so(raft: RaftNode, clock: Clock) -> None:
    w = DeploymentWatcher(raft, raft.store, clock=clock)
    job = _register(raft, _job("a"))
    dep = _deploy(raft, job, auto_revert=True)
    _health(raft, f"{dep.id}-a1", False)
    w.tick()
    failed = raft.store.deployment_by_id(dep.id)
    assert failed is not None and failed.status_description == (
        "Failed due to unhealthy allocations - no stable job version to auto revert to"
    )
    current = raft.store.job_by_id("default", "web")
    assert current is not None and current.version == 0


def test_missed_progress_deadline_fails(raft: RaftNode, clock: Clock) -> None:
    w = DeploymentWatcher(raft, raft.store, clock=clock)
    dep = _deploy(raft, _register(raft, _job("a")))
    w.tick()  # sets the deadline
    clock.now += 599
    assert w.tick() == []
    clock.now += 2
    w.tick()
    failed = raft.store.deployment_by_id(dep.id)
    assert failed is not None
    assert (failed.status, failed.status_description) == (
        "failed",
        "Failed due to progress deadline",
    )


def test_auto_promote_once_canaries_are_healthy(raft: RaftNode, clock: Clock) -> None:
    w = DeploymentWatcher(raft, raft.store, clock=clock)
    dep = _deploy(raft, _register(raft, _job("a")), desired_canaries=2, auto_promote=True)
    assert dep.task_groups["g"].placed_canaries == [f"{dep.id}-a0", f"{dep.id}-a1"]
    w.tick()
    _health(raft, f"{dep.id}-a0", True)
    w.tick()
    state = raft.store.deployment_by_id(dep.id).task_groups["g"]  # type: ignore[union-attr]
    assert state.promoted is False
    _health(raft, f"{dep.id}-a1", True)
    w.tick()
    state = raft.store.deployment_by_id(dep.id).task_groups["g"]  # type: ignore[union-attr]
    assert state.promoted is True
