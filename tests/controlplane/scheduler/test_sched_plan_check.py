"""The plan applier's re-check (evaluate_plan) over a real StateStore."""

from __future__ import annotations

from sched_harness import job, node
from store_harness import StoreCluster

from controlplane.server.plan_apply import evaluate_plan
from controlplane.structs import Plan


def test_nodes_that_no_longer_fit_or_exist_are_rejected() -> None:
    cl = StoreCluster(node("a", cpu=1200), node("b", cpu=4000))
    cl.register(job(count=1))
    placed = cl.run().plan.node_allocation
    [(node_id, [existing])] = placed.items()
    other = "b" if node_id == "a" else "a"
    second = existing.replace(id="second", name="example.web[1]")
    third = existing.replace(id="third", name="example.web[2]")
    plan = Plan(
        node_allocation={
            node_id: [second, third],
            other: [second.replace(id="fourth", node_id=other)],
            "gone": [second.replace(id="fifth", node_id="gone")],
        }
    )

    accepted, rejected = cl.store.read(lambda s: evaluate_plan(s, plan))

    # 3 x 500 MHz: too much for "a" (1200), fine for "b" (4000).
    fits_three = node_id == "b"
    assert sorted(accepted) == sorted([other, node_id] if fits_three else [other])
    assert sorted(rejected) == sorted(["gone"] if fits_three else ["gone", node_id])


def test_stops_in_the_same_plan_free_their_room() -> None:
    cl = StoreCluster(node("a", cpu=1000))
    cl.register(job(count=2))
    cl.run()
    first, _second = cl.live()
    replacement = {"a": [first.replace(id="replacement")]}
    with_stop = Plan(
        node_update={"a": [first.replace(desired_status="stop")]}, node_allocation=replacement
    )
    without = Plan(node_allocation=replacement)

    assert cl.store.read(lambda s: evaluate_plan(s, with_stop)) == ({"a": replacement["a"]}, [])
    assert cl.store.read(lambda s: evaluate_plan(s, without)) == ({}, ["a"])


def test_plan_entry_carries_the_placements_job_once() -> None:
    from controlplane.server.plan_apply import _share_job
    from controlplane.structs import Allocation, Job

    job, older = Job(id="web", version=2), Job(id="web", version=1)
    placed = [Allocation(id=f"p{i}", job_id="web", job=job) for i in range(3)]
    stop = Allocation(id="s", job_id="web", job=older, desired_status="stop")
    shared, allocs = _share_job([stop, *placed])
    assert shared is job
    assert [a.job for a in allocs] == [older, None, None, None]
    assert _share_job([stop]) == (None, [stop])  # only stops: nothing to share
