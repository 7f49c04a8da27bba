"""`job_touch` counts every write to a job's allocations, evaluations and
deployments (what its status and summary derive from), per job, and the job
stub cache of `GET /v1/jobs` (api/stubs.py) rebuilds exactly when it moves."""

from __future__ import annotations

from controlplane.api.stubs import JobStubCache
from controlplane.state import StateStore
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    Deployment,
    DesiredTransition,
    Evaluation,
    Job,
    PeriodicConfig,
    Task,
    TaskGroup,
)


def _job(job_id: str, **kw: object) -> Job:
    tg = TaskGroup(name="g", count=2, tasks=[Task(name="t", driver="raw_exec")])
    return Job(id=job_id, task_groups=[tg], **kw)  # type: ignore[arg-type]


def _alloc(alloc_id: str, job: Job) -> Allocation:
    return Allocation(
        id=alloc_id,
        namespace=job.namespace,
        job_id=job.id,
        job=job,
        task_group="g",
        node_id="n1",
        desired_status="run",
        client_status="pending",
    )


def _store() -> tuple[StateStore, Job, Job]:
    s = StateStore()
    web = s.upsert_job(1, _job("web"), 0)
    other = s.upsert_job(2, _job("other"), 0)
    s.upsert_allocs(3, [_alloc("a1", web), _alloc("a2", web)])
    return s, web, other


def test_every_kind_of_write_moves_only_its_jobs_count() -> None:
    s, _, _ = _store()
    seen = [s.job_touch("default", "web")]
    writes = [
        lambda: s.update_allocs_from_client(
            4, [AllocClientUpdate(id="a1", client_status="running")]
        ),
        lambda: s.update_alloc_desired_transitions(
            5, {"a2": DesiredTransition(migrate=True)}, 0
        ),
        lambda: s.set_alloc_health(6, ["a1"], True, "t"),
        lambda: s.upsert_evals(7, [Evaluation(id="e1", job_id="web", status="complete")]),
        lambda: s.upsert_deployment(8, Deployment(id="d1", job_id="web", status="running")),
        lambda: s.update_deployment(9, "d1", lambda d: d.replace(status="successful")),
        lambda: s.delete_garbage(10, ["e1"], ["a2"], []),
    ]
    for write in writes:
        write()
        seen.append(s.job_touch("default", "web"))
    assert seen == sorted(set(seen)), f"a write did not move the count: {seen}"
    assert s.job_touch("default", "other") == 0


def test_a_snapshot_keeps_its_counts() -> None:
    s, _, _ = _store()
    snap = s.snapshot()
    before = snap.job_touch("default", "web")
    s.update_allocs_from_client(4, [AllocClientUpdate(id="a1", client_status="running")])
    assert snap.job_touch("default", "web") == before
    assert s.job_touch("default", "web") == before + 1


def test_stub_cache_reuses_until_the_summary_can_change() -> None:
    s, web, other = _store()
    cache = JobStubCache()
    first = cache.stub(s, web)
    assert cache.stub(s, web) is first  # nothing changed: the same stub
    assert first.job_summary is not None
    assert first.job_summary.summary["g"].starting == 2

    # a client report on another job leaves this stub alone
    s.upsert_allocs(4, [_alloc("b1", other)])
    assert cache.stub(s, web) is first

    s.update_allocs_from_client(5, [AllocClientUpdate(id="a1", client_status="running")])
    second = cache.stub(s, web)
    assert second is not first
    assert second.job_summary is not None
    assert (second.job_summary.summary["g"].running, second.job_summary.summary["g"].starting) == (
        1,
        1,
    )
    # a new version of the job is a new object: rebuilt
    web2 = s.upsert_job(6, _job("web", priority=70), 0)
    assert cache.stub(s, web2).priority == 70


def test_periodic_parents_are_never_served_from_the_cache() -> None:
    s = StateStore()
    parent = s.upsert_job(1, _job("cron", periodic=PeriodicConfig(spec="* * * * *")), 0)
    cache = JobStubCache()
    assert cache.stub(s, parent) is not cache.stub(s, parent)


def test_prune_forgets_purged_jobs() -> None:
    s, web, _ = _store()
    cache = JobStubCache()
    for i in range(300):
        cache.stub(s, s.upsert_job(10 + i, _job(f"tmp{i}"), 0))
    cache.stub(s, web)
    for i in range(300):
        s.delete_job(400 + i, "default", f"tmp{i}")
    cache.prune(s.job_count(), lambda key: s.job_by_id(*key) is not None)
    assert set(cache._stubs) == {("default", "web")}
