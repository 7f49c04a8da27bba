"""Quota usage read from the store: non-terminal allocations of every namespace
naming the quota; terminal ones, other namespaces and unset memory_max do not count."""

from __future__ import annotations

from controlplane.state import StateStore
from controlplane.state.quota_usage import QuotaAmounts, exhausted, quota_usage
from controlplane.structs import (
    AllocatedCpu,
    AllocatedMemory,
    AllocatedResources,
    AllocatedTaskResources,
    Allocation,
    Namespace,
    QuotaLimit,
    QuotaSpec,
    Resources,
)


def _alloc(alloc_id: str, ns: str, cpu: int, mem: int, mem_max: int = 0, **kw: str) -> Allocation:
    task = AllocatedTaskResources(
        cpu=AllocatedCpu(cpu_shares=cpu),
        memory=AllocatedMemory(memory_mb=mem, memory_max_mb=mem_max),
    )
    return Allocation(
        id=alloc_id,
        namespace=ns,
        job_id=f"job-{ns}",
        task_group="g",
        allocated_resources=AllocatedResources(tasks={"t": task, "u": task}),
        desired_status=kw.get("desired", "run"),
        client_status=kw.get("client", "running"),
    )


def test_usage_sums_live_allocs_of_the_quotas_namespaces() -> None:
    store = StateStore()
    spec = QuotaSpec(name="q", limits=[QuotaLimit(region_limit=Resources(cpu=1000))])
    store.upsert_quotas(1, [spec])
    assert store.upsert_namespaces(2, [Namespace(name="a", quota="q")]) == ""
    assert store.upsert_namespaces(3, [Namespace(name="b", quota="q")]) == ""
    store.upsert_allocs(
        4,
        [
            _alloc("1", "a", 100, 64, mem_max=128),
            _alloc("2", "b", 50, 32),
            _alloc("3", "a", 1000, 1000, desired="stop"),
            _alloc("4", "b", 1000, 1000, client="complete"),
            _alloc("5", "default", 1000, 1000),
        ],
    )
    stored = store.quota("q")
    assert stored is not None
    # two tasks per alloc
    assert quota_usage(store, stored) == QuotaAmounts(cpu=300, memory_mb=192, memory_max_mb=256)
    assert quota_usage(store.snapshot(), stored) == quota_usage(store, stored)


def test_exhausted_semantics() -> None:
    used = QuotaAmounts(cpu=900, memory_mb=100)
    ask = QuotaAmounts(cpu=200, memory_mb=10)
    assert exhausted(Resources(cpu=1000), used, ask) == ["cpu exhausted (1100 needed > 1000 limit)"]
    assert exhausted(Resources(cpu=0, memory_mb=0), used, ask) == []  # 0: unlimited
    assert exhausted(Resources(memory_mb=-1), used, ask) == [
        "memory exhausted (110 needed > -1 limit)"
    ]
    # no ask for the resource: a negative (forbidden) or overrun limit is not hit
    assert exhausted(Resources(memory_max_mb=-1, cpu=10), used, QuotaAmounts(memory_mb=5)) == []
