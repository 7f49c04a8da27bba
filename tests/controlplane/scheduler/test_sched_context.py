"""EvalContext: the proposed view of a node follows the plan being built."""

from __future__ import annotations

from sched_harness import NOW, Cluster, Ids, evaluation, group, job, node, ports, task

from controlplane.scheduler.context import EvalContext
from controlplane.scheduler.feasible import candidate_nodes
from controlplane.scheduler.fit import node_load


def test_load_follows_stops_unstops_and_placements() -> None:
    cl = Cluster(node("a"))
    cl.register(job(count=2))
    cl.run("example")
    first, second = cl.state.live_allocs("example")
    stored = cl.state.job_by_id("default", "example")
    ctx = EvalContext(cl.state, evaluation(stored), now_ns=NOW, seed=1, new_id=Ids())
    n = cl.state.node_by_id("a")

    assert ctx.load(n).used.cpu == 1000
    ctx.stop(first, "alloc not needed due to job update")
    assert ctx.load(n).used.cpu == 500
    assert [a.id for a in ctx.proposed("a")] == [second.id]
    ctx.unstop(first)
    assert ctx.load(n).used.cpu == 1000
    ctx.allocate(first.replace(id="new"))
    assert ctx.load(n).used.cpu == 1500
    # An in-place update replaces the stored copy instead of adding to it.
    ctx.update_in_place(second, stored)
    assert ctx.load(n).used.cpu == 1500
    assert sorted(a.id for a in ctx.proposed("a")) == sorted([first.id, second.id, "new"])


def _ctx(cl: Cluster) -> EvalContext:
    stored = cl.state.job_by_id("default", "example")
    assert stored is not None
    return EvalContext(cl.state, evaluation(stored), now_ns=NOW, seed=1, new_id=Ids("new"))


def test_caches_extended_by_a_new_alloc_equal_a_recount() -> None:
    cl = Cluster(node("a"))
    cl.register(job(groups=[group(count=2, tasks=[task(networks=[ports(dynamic=["http"])])])]))
    cl.run("example")
    ctx = _ctx(cl)
    n = cl.state.node_by_id("a")
    assert n is not None
    # Warm every per-node cache, then place: they are extended, not recounted.
    assert ctx.load(n).used.cpu == 1000
    assert ctx.group_count("a", "default", "example", "web") == 2
    first = cl.state.live_allocs("example")[0]
    ctx.allocate(first.replace(id="fresh"))

    recount = node_load(n, ctx.proposed("a"))
    assert ctx.load(n) == recount
    assert recount.used.cpu == 1500
    assert len(recount.ports) == 2  # the copy holds the same host port as its original
    assert ctx.group_count("a", "default", "example", "web") == 3
    assert ctx.group_count("a", "default", "example", None) == 3
    assert ctx.group_count("a", "default", "example", "other") == 0


def test_group_count_of_untouched_nodes_counts_live_allocs_in_the_state() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(job(count=4))
    cl.run("example")
    on_b = [a for a in cl.state.live_allocs("example") if a.node_id == "b"]
    assert on_b
    cl.state.update_alloc(on_b[0].id, client_status="failed")
    ctx = _ctx(cl)

    assert ctx.group_count("b", "default", "example", "web") == len(on_b) - 1
    assert ctx.group_count("b", "default", "example", None) == len(on_b) - 1
    assert ctx.group_count("b", "default", "other-job", "web") == 0
    # Once the plan touches the node, its proposed allocs are counted.
    ctx.stop(on_b[-1], "alloc not needed due to job update")
    assert ctx.group_count("b", "default", "example", "web") == len(on_b) - 2


def test_candidates_match_literal_and_glob_datacenters() -> None:
    nodes = [node("n1", dc="eu-1"), node("n2", dc="eu-2"), node("n3", dc="us-1"), node("n4")]
    picked = candidate_nodes(nodes, job(datacenters=["us-1", "eu-*", "ap-1"]))

    assert [n.id for n in picked.nodes] == ["n1", "n2", "n3"]
    assert picked.available == {"us-1": 1, "ap-1": 0, "eu-1": 1, "eu-2": 1}
    assert picked.in_pool == 4
