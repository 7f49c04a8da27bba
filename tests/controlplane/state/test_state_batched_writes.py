"""The store's per-entry batching of allocation writes: one index entry, touch
count and deployment update per key, with exactly the state that writing
the allocations one by one makes; and writes with nothing to write leave
the tables a snapshot shares uncopied."""

from __future__ import annotations

from controlplane.state import StateStore
from controlplane.state.cow import index_add, index_add_all
from controlplane.state.deployments import count_placed
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    AllocDeploymentStatus,
    Deployment,
    DeploymentState,
    Evaluation,
    Job,
    Task,
    TaskGroup,
)


def _job(job_id: str = "web") -> Job:
    groups = [
        TaskGroup(name=g, count=3, tasks=[Task(name="t", driver="raw_exec")]) for g in ("a", "b")
    ]
    return Job(id=job_id, task_groups=groups)


def _alloc(alloc_id: str, group: str = "a", node: str = "n1", **kw: object) -> Allocation:
    return Allocation(
        id=alloc_id,
        job_id="web",
        node_id=node,
        name=f"web.{group}[0]",
        task_group=group,
        **kw,  # type: ignore[arg-type]
    )


def _deployment(**groups: DeploymentState) -> Deployment:
    return Deployment(id="d1", job_id="web", status="running", task_groups=groups, modify_time=5)


def _count_one_by_one(dep: Deployment, allocs: list[Allocation]) -> Deployment:
    """The per-allocation counting the store did before it batched (reference)."""
    for alloc in allocs:
        state = dep.task_groups.get(alloc.task_group)
        if state is None:
            continue
        canaries = list(state.placed_canaries or [])
        canary = alloc.deployment_status is not None and alloc.deployment_status.canary
        if canary and alloc.id not in canaries:
            canaries.append(alloc.id)
        new = state.replace(placed_allocs=state.placed_allocs + 1, placed_canaries=canaries or None)
        groups = dict(dep.task_groups)
        groups[alloc.task_group] = new
        dep = dep.replace(task_groups=groups, modify_time=max(dep.modify_time, alloc.modify_time))
    return dep


def test_count_placed_equals_counting_one_allocation_at_a_time() -> None:
    canary = AllocDeploymentStatus(canary=True)
    dep = _deployment(
        a=DeploymentState(placed_allocs=2, placed_canaries=["old"]),
        b=DeploymentState(placed_canaries=[]),
    )
    cases = [
        [],
        [_alloc("x", group="zz", modify_time=99)],  # not a group of the deployment
        [_alloc("1", modify_time=7), _alloc("2", group="b", modify_time=3)],
        [
            _alloc("c1", deployment_status=canary, modify_time=4),
            _alloc("c1", deployment_status=canary, modify_time=2),  # counted, not re-listed
            _alloc("old", deployment_status=canary),
            _alloc("c2", group="b", deployment_status=canary, modify_time=11),
            _alloc("x", group="zz", modify_time=50),
            _alloc("3", modify_time=1),
        ],
    ]
    for allocs in cases:
        assert count_placed(dep, allocs) == _count_one_by_one(dep, allocs), allocs
    assert count_placed(dep, []) is dep
    assert count_placed(dep, [_alloc("x", group="zz")]) is dep


def test_index_add_all_is_index_add_of_each_item() -> None:
    one: dict[str, frozenset[str]] = {"n1": frozenset({"a"}), "n2": frozenset({"b"})}
    many = dict(one)
    adds = {"n1": ["a", "c", "c"], "n3": ["d"], "n2": ["b"]}
    for key, items in adds.items():
        for item in items:
            index_add(one, key, item)
    kept = many["n2"]
    index_add_all(many, adds)
    assert many == one
    assert many["n2"] is kept  # nothing new: the entry is not replaced


def test_a_plan_into_a_deployment_counts_and_touches_as_one_by_one() -> None:
    s = StateStore()
    job = s.upsert_job(1, _job(), 0)
    s.upsert_deployment(2, _deployment(a=DeploymentState(), b=DeploymentState()))
    before = s.job_touch("default", "web")
    allocs = [
        _alloc("p1", node="n1", deployment_id="d1", modify_time=8),
        _alloc("p2", node="n1", deployment_id="d1", modify_time=9),
        _alloc("p3", group="b", node="n2", deployment_id="d1", modify_time=6),
        _alloc("p4", group="b", node="n2"),  # outside the deployment
    ]
    stored = s.upsert_allocs(3, allocs, job=job)

    assert [a.id for a in stored] == ["p1", "p2", "p3", "p4"]
    assert all(a.job is job for a in stored)  # one shared job object
    # one touch per allocation written, one per deployment count
    assert s.job_touch("default", "web") == before + 4 + 3
    dep = s.deployment_by_id("d1")
    assert dep is not None and dep.modify_index == 3 and dep.modify_time == 9
    assert (dep.task_groups["a"].placed_allocs, dep.task_groups["b"].placed_allocs) == (2, 1)
    assert {a.id for a in s.allocs_by_node("n1")} == {"p1", "p2"}
    assert {a.id for a in s.allocs_by_node("n2")} == {"p3", "p4"}
    assert {a.id for a in s.allocs_by_job("default", "web")} == {"p1", "p2", "p3", "p4"}

    # re-upserting an alloc of the same deployment counts nothing again
    s.upsert_allocs(4, [_alloc("p1", node="n1", deployment_id="d1")], job=job)
    dep = s.deployment_by_id("d1")
    assert dep is not None and dep.task_groups["a"].placed_allocs == 2 and dep.modify_index == 3
    again = s.alloc_by_id("p1")
    assert again is not None and again.job is job and again.create_index == 3


def test_an_alloc_carrying_its_own_job_keeps_it() -> None:
    s = StateStore()
    job = s.upsert_job(1, _job(), 0)
    old = job.replace(version=7)
    s.upsert_allocs(2, [_alloc("a1", job=old), _alloc("a2")], job=job)
    a1, a2 = s.alloc_by_id("a1"), s.alloc_by_id("a2")
    assert a1 is not None and a1.job is old
    assert a2 is not None and a2.job is job
    s.upsert_allocs(3, [_alloc("a1", desired_status="stop")], job=job)
    a1 = s.alloc_by_id("a1")
    assert a1 is not None and a1.job is job and a1.desired_status == "stop"


def test_client_updates_touch_once_per_allocation() -> None:
    s = StateStore()
    s.upsert_allocs(1, [_alloc("a1"), _alloc("a2"), _alloc("a3")])
    before = s.job_touch("default", "web")
    changed = s.update_allocs_from_client(
        2,
        [
            AllocClientUpdate(id="a1", client_status="running"),
            AllocClientUpdate(id="gone", client_status="running"),
            AllocClientUpdate(id="a2", client_status="running"),
            AllocClientUpdate(id="a1", client_status="complete"),
        ],
    )
    assert [(a.id, a.client_status) for a in changed] == [
        ("a1", "running"),
        ("a2", "running"),
        ("a1", "complete"),
    ]
    assert s.job_touch("default", "web") == before + 3


def test_writes_with_nothing_to_write_copy_no_shared_table() -> None:
    s = StateStore()
    s.upsert_allocs(1, [_alloc("a1")])
    s.upsert_evals(2, [Evaluation(id="e1", job_id="web")])
    snap = s.snapshot()
    s.upsert_allocs(3, [])
    s.update_allocs_from_client(4, [AllocClientUpdate(id="gone", client_status="running")])
    s.upsert_evals(5, [])
    # still the snapshot's dicts: a copy of 100,000 allocations per empty write otherwise
    assert s._t.allocs is snap._t.allocs and s._t.evals is snap._t.evals
    assert s._allocs_by_node is snap._allocs_by_node and s._job_touch is snap._job_touch

    # the first real write copies, and the snapshot never sees it
    s.upsert_allocs(6, [_alloc("a2", node="n2")])
    s.update_allocs_from_client(7, [AllocClientUpdate(id="a1", client_status="running")])
    s.upsert_evals(8, [Evaluation(id="e2", job_id="web")])
    assert snap.alloc_by_id("a2") is None and snap.allocs_by_node("n2") == []
    a1 = snap.alloc_by_id("a1")
    assert a1 is not None and a1.client_status == "pending"
    assert snap.eval_by_id("e2") is None
    assert [e.id for e in snap.evals_by_job("default", "web")] == ["e1"]
    assert snap.job_touch("default", "web") < s.job_touch("default", "web")
    assert {a.id for a in s.allocs_by_job("default", "web")} == {"a1", "a2"}
