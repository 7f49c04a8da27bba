"""Placement against a real StateStore: constraints, ranking, limits, blocking."""

from __future__ import annotations

import pytest
from sched_harness import group, job, node, task
from store_harness import StoreCluster, by_node

from controlplane.structs import Affinity, Constraint, Spread, SpreadTarget

YES = node(
    "yes",
    attrs={
        "os.version": "22.04",
        "cpu.numcores": "8",
        "tags": "ssd,gpu",
        "nomad.version": "1.7.3",
    },
    meta={"rack": "r1", "gpu": "a100"},
)
NO = node(
    "no",
    attrs={
        "os.version": "20.04",
        "cpu.numcores": "16",
        "tags": "hdd",
        "nomad.version": "1.5.0",
    },
    meta={"rack": "r2"},
)


@pytest.mark.parametrize(
    ("l_target", "operand", "r_target", "winner"),
    [
        ("${meta.rack}", "=", "r1", "yes"),
        ("${meta.rack}", "==", "r2", "no"),
        ("${meta.rack}", "is", "r1", "yes"),
        ("${meta.rack}", "!=", "r1", "no"),
        ("${meta.rack}", "not", "r2", "yes"),
        ("${attr.cpu.numcores}", "<", "10", "yes"),
        ("${attr.cpu.numcores}", "<=", "8", "yes"),
        ("${attr.cpu.numcores}", ">", "8", "no"),
        ("${attr.cpu.numcores}", ">=", "16", "no"),
        ("${attr.os.version}", "regexp", "^22\\.", "yes"),
        ("${attr.tags}", "set_contains", "gpu,ssd", "yes"),
        ("${attr.tags}", "set_contains_all", "hdd", "no"),
        ("${attr.tags}", "set_contains_any", "nvme,gpu", "yes"),
        ("${attr.nomad.version}", "version", ">= 1.6, < 2.0", "yes"),
        ("${attr.nomad.version}", "semver", "< 1.6.0", "no"),
        ("${meta.gpu}", "is_set", "", "yes"),
        ("${meta.gpu}", "is_not_set", "", "no"),
        ("${node.unique.name}", "=", "no-name", "no"),
        ("${node.region}", "=", "global", None),
    ],
)
def test_every_constraint_operator(
    l_target: str, operand: str, r_target: str, winner: str | None
) -> None:
    rule = Constraint(l_target=l_target, operand=operand, r_target=r_target)
    for seed in range(4):
        cl = StoreCluster(YES, NO, seed=seed)
        cl.register(job(count=2, constraints=[rule]))
        result = cl.run()
        nodes = {a.node_id for a in cl.live()}
        if winner is None:  # both nodes qualify
            assert nodes == {"yes", "no"}
            continue
        assert nodes == {winner}
        assert result.failed_tg_allocs == {}


def test_node_region_is_the_jobs_region() -> None:
    cl = StoreCluster(YES, NO)
    eu = Constraint(l_target="${node.region}", r_target="eu")
    cl.register(job(count=1, constraints=[eu]).replace(region="eu"))
    cl.run()
    assert len(cl.live()) == 1
    cl.register(job("other", count=1, constraints=[eu]))  # region "global"
    result = cl.run("other")
    assert result.failed_tg_allocs["web"].constraint_filtered == {"${node.region} = eu": 2}


def test_binpack_chooses_the_fuller_node() -> None:
    for seed in range(8):
        cl = StoreCluster(node("a"), node("b"), seed=seed)
        pin = Constraint(l_target="${node.unique.id}", r_target="b")
        cl.register(job("other", constraints=[pin], groups=[group(tasks=[task(cpu=2000)])]))
        cl.run("other")
        cl.register(job("small"))
        cl.run("small")
        assert [a.node_id for a in cl.live("small")] == ["b"], f"seed {seed}"


def _dc_nodes(dc: str, n: int) -> list:
    return [node(f"{dc}-{i}", dc=dc) for i in range(n)]


def test_spread_across_datacenters_by_target_percentages() -> None:
    spread = Spread(
        attribute="${node.datacenter}",
        weight=100,
        spread_target=[SpreadTarget("dc1", 70), SpreadTarget("dc2", 30)],
    )
    for seed in range(4):
        cl = StoreCluster(*_dc_nodes("dc1", 4), *_dc_nodes("dc2", 4), seed=seed)
        cl.register(job(count=10).replace(spreads=[spread]))
        cl.run()
        per_dc: dict[str, int] = {}
        for a in cl.live():
            dc = a.node_id.split("-")[0]
            per_dc[dc] = per_dc.get(dc, 0) + 1
        assert per_dc == {"dc1": 7, "dc2": 3}, f"seed {seed}"


def test_spread_without_targets_is_even() -> None:
    spread = Spread(attribute="${meta.rack}", weight=50)
    nodes = [node(f"n{i}", meta={"rack": f"r{i % 3}"}) for i in range(6)]
    for seed in range(4):
        cl = StoreCluster(*nodes, seed=seed)
        cl.register(job(groups=[group(count=6).replace(spreads=[spread])]))
        cl.run()
        racks: dict[str, int] = {}
        for a in cl.live():
            rack = f"r{int(a.node_id[1:]) % 3}"
            racks[rack] = racks.get(rack, 0) + 1
        assert racks == {"r0": 2, "r1": 2, "r2": 2}, f"seed {seed}"


def test_distinct_hosts_one_alloc_per_node_then_blocked() -> None:
    distinct = Constraint(operand="distinct_hosts", r_target="true")
    cl = StoreCluster(node("a"), node("b"), node("c"))
    cl.register(job(groups=[group(count=4, constraints=[distinct])]))
    result = cl.run()
    assert by_node(cl.live()) == {"a": 1, "b": 1, "c": 1}
    assert result.failed_tg_allocs["web"].constraint_filtered == {"distinct_hosts": 3}
    assert [e.status for e in cl.evals(triggered_by="queued-allocs")] == ["blocked"]


@pytest.mark.parametrize(("limit", "count", "placed"), [("", 3, 2), ("2", 5, 4)])
def test_distinct_property_limits_allocs_per_value(limit: str, count: int, placed: int) -> None:
    rule = Constraint(l_target="${meta.rack}", operand="distinct_property", r_target=limit)
    nodes = [node(f"n{i}", meta={"rack": f"r{i % 2}"}) for i in range(4)]
    cl = StoreCluster(*nodes, node("norack"))
    cl.register(job(groups=[group(count=count, constraints=[rule])]))
    result = cl.run()
    racks: dict[str, int] = {}
    for a in cl.live():
        assert a.node_id != "norack"
        rack = f"r{int(a.node_id[1:]) % 2}"
        racks[rack] = racks.get(rack, 0) + 1
    assert sum(racks.values()) == placed
    assert set(racks.values()) == {placed // 2}
    assert result.queued_allocations == {"web": count - placed}
    assert "distinct_property" in (result.failed_tg_allocs["web"].constraint_filtered or {})


def test_job_level_distinct_property_counts_every_group() -> None:
    rule = Constraint(l_target="${meta.rack}", operand="distinct_property")
    cl = StoreCluster(node("a", meta={"rack": "r1"}), node("b", meta={"rack": "r2"}))
    cl.register(job(constraints=[rule], groups=[group("one"), group("two"), group("three")]))
    result = cl.run()
    assert len(cl.live()) == 2
    assert sum(result.queued_allocations.values()) == 1


@pytest.mark.parametrize(("weight", "expected"), [(100, "b"), (-100, "a")])
def test_node_affinity_steers_placement(weight: int, expected: str) -> None:
    rack = Affinity(l_target="${meta.rack}", r_target="r2", weight=weight)
    for seed in range(6):
        cl = StoreCluster(node("a", meta={"rack": "r1"}), node("b", meta={"rack": "r2"}), seed=seed)
        cl.register(job(groups=[group().replace(affinities=[rack])]))
        cl.run()
        assert [a.node_id for a in cl.live()] == [expected], f"seed {seed}"


def test_limit_iterator_bounds() -> None:
    nodes = [node(f"n{i:02}") for i in range(16)]

    def evaluated(j) -> int:
        cl = StoreCluster(*nodes)
        cl.register(j)
        cl.run()
        (alloc,) = cl.live()
        assert alloc.metrics is not None
        return alloc.metrics.nodes_evaluated

    assert evaluated(job()) == 4  # service: max(2, ceil(log2 16))
    assert evaluated(job(type="batch")) == 2
    affinity = Affinity(l_target="${meta.rack}", r_target="r1")
    assert evaluated(job(groups=[group().replace(affinities=[affinity])])) == 16
    spread = Spread(attribute="${node.datacenter}")
    assert evaluated(job().replace(spreads=[spread])) == 16


def test_nodes_scoring_at_most_zero_are_fallbacks() -> None:
    # One node: the second alloc scores < 0 there (job anti-affinity) but the
    # skipped node is used when nothing else is left.
    cl = StoreCluster(node("a"))
    cl.register(job(count=2))
    result = cl.run()
    assert by_node(cl.live()) == {"a": 2}
    assert result.failed_tg_allocs == {}


def test_failure_metrics_are_complete() -> None:
    windows = Constraint(l_target="${attr.kernel.name}", r_target="windows")
    cl = StoreCluster(*(node(f"n{i}") for i in range(8)), node("small", cpu=100))
    cl.register(job(groups=[group(count=2, tasks=[task(cpu=500, constraints=[windows])])]))
    metric = cl.run().failed_tg_allocs["web"]
    # Nothing scored, so every node was looked at despite the limit of 4.
    assert (metric.nodes_evaluated, metric.nodes_filtered) == (9, 9)
    assert metric.coalesced_failures == 1


def test_blocked_evaluation_is_placed_when_capacity_appears() -> None:
    cl = StoreCluster(node("a", cpu=1000))
    cl.register(job(count=3))
    first = cl.run()
    assert len(cl.live()) == 2
    assert first.failed_tg_allocs["web"].dimension_exhausted == {"cpu": 1}
    (blocked,) = cl.evals(status="blocked")
    assert blocked.status_description == "created to place remaining allocations"

    # Still no room: the blocked evaluation stays blocked.
    cl.process(blocked)
    assert cl.store.eval_by_id(blocked.id).status == "blocked"
    cl.add_node(node("b", cpu=1000))
    result = cl.process(cl.store.eval_by_id(blocked.id))
    assert result.failed_tg_allocs == {}
    assert by_node(cl.live()) == {"a": 2, "b": 1}
    assert cl.store.eval_by_id(blocked.id).status == "complete"


def test_lost_allocs_are_replaced_at_once_without_the_reschedule_policy() -> None:
    cl = StoreCluster(node("a"), node("b"), node("c"))
    cl.register(job(count=3))
    cl.run()
    on_a = [a for a in cl.live() if a.node_id == "a"]
    assert on_a
    cl.node_down("a")
    result = cl.run(triggered_by="node-update")
    assert result.followup_evals == []
    news = [a for a in cl.live() if a.previous_allocation]
    assert sorted(a.previous_allocation for a in news) == sorted(a.id for a in on_a)
    assert all(a.node_id != "a" and a.reschedule_tracker is None for a in news)
    for old in on_a:
        stored = cl.store.alloc_by_id(old.id)
        assert stored.desired_status == "stop"
        assert stored.desired_description == "alloc is lost since its node is down"
        assert stored.next_allocation in {a.id for a in news}
    assert len(cl.live()) == 3


def test_system_job_reaches_a_node_that_joins_later() -> None:
    cl = StoreCluster(node("a"), node("b"))
    cl.register(job(type="system"))
    cl.run()
    assert by_node(cl.live()) == {"a": 1, "b": 1}
    cl.add_node(node("c"))
    result = cl.run(triggered_by="node-update")
    assert [a.node_id for allocs in result.plan.node_allocation.values() for a in allocs] == ["c"]
    assert by_node(cl.live()) == {"a": 1, "b": 1, "c": 1}
    assert {a.name for a in cl.live()} == {"example.web[0]"}
    assert cl.run(triggered_by="node-update").plan.is_noop()
