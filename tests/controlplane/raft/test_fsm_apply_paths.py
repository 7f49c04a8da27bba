"""FSM.apply's hot paths without Raft: entry type lookup, a plan entry carrying
its job once into a new deployment, clients' updates in a batch entry."""

from __future__ import annotations

from controlplane.raft import messages as m
from controlplane.raft.fsm import FSM
from controlplane.state import StateStore
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    Deployment,
    DeploymentState,
    Evaluation,
    Job,
    Task,
    TaskGroup,
)


def _job() -> Job:
    tg = TaskGroup(name="g", count=4, tasks=[Task(name="t", driver="raw_exec")])
    return Job(id="web", task_groups=[tg])


def _registered() -> tuple[FSM, Job]:
    fsm = FSM(StateStore())
    result = fsm.apply(1, int(m.MsgType.JOB_REGISTER), m.encode(m.JobRegister(job=_job())))
    assert not result.error
    job = fsm.store.job_by_id("default", "web")
    assert job is not None
    return fsm, job


def test_unknown_and_known_entry_types() -> None:
    fsm = FSM(StateStore())
    result = fsm.apply(1, 99, b"")
    assert (result.error, result.error_status) == (
        "failed to apply: 99 is not a valid MsgType",
        500,
    )
    assert fsm.store.index == 1
    # a type given as the enum or as its number is the same entry
    noop = m.encode(m.Noop())
    assert not fsm.apply(2, m.MsgType.NOOP, noop).error
    assert not fsm.apply(3, 0, noop).error
    ev = m.encode(m.EvalUpsert(evals=[Evaluation(id="e1", job_id="web")]))
    assert not fsm.apply(4, int(m.MsgType.EVAL_UPSERT), ev).error
    stored = fsm.store.eval_by_id("e1")
    assert stored is not None and stored.modify_index == 4
    assert [(e.topic, e.type) for b in fsm.events.since(4) for e in b.events] == [
        ("Evaluation", "EvaluationUpdated")
    ]


def test_plan_entry_places_into_its_new_deployment_with_one_shared_job() -> None:
    fsm, job = _registered()
    dep = Deployment(
        id="d1", job_id="web", status="running", task_groups={"g": DeploymentState(desired_total=4)}
    )
    allocs = [
        Allocation(
            id=f"a{i}",
            job_id="web",
            node_id=f"n{i % 2}",
            name=f"web.g[{i}]",
            task_group="g",
            deployment_id="d1",
            modify_time=10 + i,
        )
        for i in range(4)
    ]
    plan = m.PlanApply(
        allocs=allocs,
        evals=[Evaluation(id="e1", job_id="web", status="complete")],
        deployment=dep,
        job=job,
    )
    assert not fsm.apply(2, int(m.MsgType.PLAN_APPLY), m.encode(plan)).error

    stored = [fsm.store.alloc_by_id(a.id) for a in allocs]
    jobs = {id(a.job) for a in stored if a is not None}
    assert len(jobs) == 1 and all(a is not None and a.job == job for a in stored)
    placed = fsm.store.deployment_by_id("d1")
    assert placed is not None and placed.task_groups["g"].placed_allocs == 4
    assert (placed.modify_index, placed.modify_time) == (2, 13)
    assert {a.id for a in fsm.store.allocs_by_node("n0")} == {"a0", "a2"}
    events = [(e.topic, e.key) for b in fsm.events.since(2) for e in b.events]
    assert events == [
        ("Deployment", "d1"),
        *[("Allocation", f"a{i}") for i in range(4)],
        ("Evaluation", "e1"),
    ]


def test_client_updates_in_a_batch_entry() -> None:
    fsm, job = _registered()
    allocs = [
        Allocation(id=f"a{i}", job_id="web", node_id=f"n{i}", name=f"web.g[{i}]", task_group="g")
        for i in range(3)
    ]
    assert not fsm.apply(
        2, int(m.MsgType.PLAN_APPLY), m.encode(m.PlanApply(allocs=allocs, job=job))
    ).error
    subs = [
        m.AllocClientUpdateMsg(updates=[AllocClientUpdate(id="a0", client_status="running")]),
        m.AllocClientUpdateMsg(
            updates=[
                AllocClientUpdate(id="a1", client_status="failed"),
                AllocClientUpdate(id="nope", client_status="running"),
            ]
        ),
    ]
    batch = m.Batch(
        entries=[m.BatchEntry(int(m.MsgType.ALLOC_CLIENT_UPDATE), m.encode(s)) for s in subs]
    )
    result = fsm.apply(3, int(m.MsgType.BATCH), m.encode(batch))
    assert result.batch is not None and not any(r.error for r in result.batch)
    got = {
        a.id: (a.client_status, a.modify_index) for a in fsm.store.allocs_by_job("default", "web")
    }
    assert got == {"a0": ("running", 3), "a1": ("failed", 3), "a2": ("pending", 2)}
    events = [(e.topic, e.key, e.type) for b in fsm.events.since(3) for e in b.events]
    assert events == [
        ("Allocation", "a0", "AllocationUpdated"),
        ("Allocation", "a1", "AllocationUpdated"),
    ]
