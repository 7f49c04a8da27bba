"""Quotas in the scheduler, over a real StateStore: placements a namespace's
quota cannot take are queued (QuotaExhausted, QuotaLimitReached), not placed;
0 is unlimited, negative forbids; the plan applier re-checks concurrent plans."""

from __future__ import annotations

from sched_harness import group, job, node, placed, task
from store_harness import StoreCluster

from controlplane.jobspec.quota import with_hashes
from controlplane.scheduler import schedule
from controlplane.server.plan_apply import evaluate_plan, over_quota
from controlplane.structs import Namespace, QuotaLimit, QuotaSpec, Resources


def _quota(c: StoreCluster, cpu: int = 0, memory: int = 0, name: str = "q") -> None:
    spec = QuotaSpec(
        name=name,
        limits=[QuotaLimit(region="global", region_limit=Resources(cpu=cpu, memory_mb=memory))],
    )
    c.store.upsert_quotas(c.next_index(), [with_hashes(spec)])
    assert c.store.upsert_namespaces(c.next_index(), [Namespace(name="default", quota=name)]) == ""


def _cluster(count: int = 3, cpu: int = 500) -> StoreCluster:
    c = StoreCluster(node("n1"), node("n2"))
    c.register(job(groups=[group(count=count, tasks=[task(cpu=cpu, mem=64)])]))
    return c


def test_placements_over_quota_are_queued_with_quota_exhausted() -> None:
    c = _cluster()
    _quota(c, cpu=1000)
    result = c.run()
    assert len(c.live()) == 2
    assert result.queued_allocations == {"web": 1}
    assert result.quota_limit_reached == "q"
    metric = result.failed_tg_allocs["web"]
    assert metric.quota_exhausted == ["cpu exhausted (1500 needed > 1000 limit)"]
    assert metric.nodes_exhausted == 0  # the cluster had room: only the quota refused
    blocked = c.evals(status="blocked")
    assert len(blocked) == 1


def test_raised_quota_places_the_rest() -> None:
    c = _cluster()
    _quota(c, cpu=1000)
    c.run()
    _quota(c, cpu=1500)
    result = c.run()
    assert len(c.live()) == 3
    assert result.failed_tg_allocs == {}
    assert result.quota_limit_reached == ""


def test_stopped_alloc_frees_quota() -> None:
    c = _cluster()
    _quota(c, cpu=1000)
    c.run()
    first = c.live()[0]
    c.client_update(first.id, "failed")
    result = c.run()
    # the queued third alloc takes the failed one's share (the failed one's
    # own replacement waits for its reschedule delay)
    assert [a.name for a in placed(result)] == ["example.web[2]"]
    assert result.queued_allocations == {"web": 0}
    assert len(c.live()) == 2


def test_zero_is_unlimited_and_other_dimensions_still_count() -> None:
    c = _cluster()
    _quota(c, cpu=0, memory=128)  # cpu unlimited, memory for two 64 MB allocs
    result = c.run()
    assert len(c.live()) == 2
    assert result.failed_tg_allocs["web"].quota_exhausted == [
        "memory exhausted (192 needed > 128 limit)"
    ]


def test_all_zero_limit_is_not_enforced() -> None:
    c = _cluster()
    _quota(c)
    result = c.run()
    assert len(c.live()) == 3 and result.quota_limit_reached == ""


def test_negative_limit_forbids() -> None:
    c = _cluster(count=1, cpu=10)
    _quota(c, cpu=-1)
    result = c.run()
    assert c.live() == []
    assert result.failed_tg_allocs["web"].quota_exhausted == [
        "cpu exhausted (10 needed > -1 limit)"
    ]


def test_quota_of_another_region_does_not_apply() -> None:
    c = _cluster()
    spec = QuotaSpec(name="eu", limits=[QuotaLimit(region="eu", region_limit=Resources(cpu=1))])
    c.store.upsert_quotas(c.next_index(), [with_hashes(spec)])
    c.store.upsert_namespaces(c.next_index(), [Namespace(name="default", quota="eu")])
    c.run()
    assert len(c.live()) == 3


def test_destructive_update_replaces_within_a_full_quota() -> None:
    c = _cluster(count=2)
    _quota(c, cpu=1000)
    c.run()
    c.register(job(groups=[group(count=2, tasks=[task(cpu=500, mem=64, env={"V": "2"})])]))
    result = c.run()
    # the old allocs' CPU is freed by their stops: both replacements fit
    assert result.failed_tg_allocs == {}
    assert len(c.live()) == 2
    assert all(a.job is not None and a.job.version == 1 for a in c.live())


def test_usage_counts_every_namespace_of_the_quota() -> None:
    c = _cluster(count=2)
    _quota(c, cpu=1000)
    assert c.store.upsert_namespaces(c.next_index(), [Namespace(name="other", quota="q")]) == ""
    other = job("other", groups=[group(count=1, tasks=[task(cpu=400, mem=64)])])
    c.store.upsert_job(c.next_index(), other.replace(namespace="other"), c.now_ns)
    stored = c.store.job_by_id("other", "other")
    assert stored is not None
    c.process(c.new_eval(stored, "job-register"))
    result = c.run()
    # 400 used in "other": only one 500 alloc fits in "default"
    assert len(c.live()) == 1
    assert result.queued_allocations == {"web": 1}


def test_system_job_respects_quota() -> None:
    c = StoreCluster(node("n1"), node("n2"), node("n3"))
    c.register(job(type="system", groups=[group(tasks=[task(cpu=400, mem=64)])]))
    _quota(c, cpu=800)
    result = c.run()
    assert len(c.live()) == 2
    assert result.queued_allocations == {"web": 1}
    assert result.quota_limit_reached == "q"


def test_plan_applier_rejects_concurrent_plans_over_quota() -> None:
    c = _cluster(count=2)
    _quota(c, cpu=1000)
    c.register(job("b", groups=[group(count=2, tasks=[task(cpu=500, mem=64)])]))
    snap = c.store.snapshot()
    job_a, job_b = c.store.job_by_id("default", "example"), c.store.job_by_id("default", "b")
    assert job_a is not None and job_b is not None
    ev_a, ev_b = c.new_eval(job_a, "job-register"), c.new_eval(job_b, "job-register")
    # both scheduled on the same snapshot: each fits alone
    a = schedule(snap, ev_a, now_ns=c.now_ns, seed=1, new_id=c.ids)
    b = schedule(snap, ev_b, now_ns=c.now_ns, seed=2, new_id=c.ids)
    assert not a.failed_tg_allocs and not b.failed_tg_allocs
    assert not over_quota(c.store, a.plan)
    c.planner.submit(ev_a, a)
    assert over_quota(c.store, b.plan)
    accepted, rejected = evaluate_plan(c.store, b.plan)
    assert accepted == {} and sorted(rejected) == sorted(b.plan.node_allocation)
