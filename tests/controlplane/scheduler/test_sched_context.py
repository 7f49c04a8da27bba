"""EvalContext: the proposed view of a node follows the plan being built."""

from __future__ import annotations

from sched_harness import NOW, Cluster, Ids, evaluation, job, node

from controlplane.scheduler.context import EvalContext


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
