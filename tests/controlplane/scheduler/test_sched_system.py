"""System and sysbatch scheduler: one alloc per feasible node."""

from __future__ import annotations

from typing import Any

from sched_harness import Cluster, group, job, node, placed, stopped, task

from controlplane.structs import Constraint, DesiredTransition, DesiredUpdates, Job


def system_job(**kw: Any) -> Job:
    kw.setdefault("type", "system")
    return job(**kw)


def by_node(allocs: list) -> dict[str, str]:
    return {a.node_id: a.name for a in allocs}


def test_one_alloc_per_ready_node_all_index_zero() -> None:
    cl = Cluster(node("a"), node("b"), node("c"))
    cl.register(system_job())
    result = cl.run("example")
    assert by_node(placed(result)) == {n: "example.web[0]" for n in "abc"}
    assert result.queued_allocations == {"web": 0}
    assert result.failed_tg_allocs == {}
    assert all(a.allocated_resources is not None for a in placed(result))
    assert cl.run("example").plan.is_noop()


def test_a_new_node_gets_an_alloc() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(system_job())
    cl.run("example")
    cl.state.upsert_node(node("c"))
    result = cl.run("example")
    assert by_node(placed(result)) == {"c": "example.web[0]"}
    assert stopped(result) == []


def test_ineligible_down_and_other_dc_nodes_get_none() -> None:
    cl = Cluster(
        node("ok"),
        node("inel", eligibility="ineligible"),
        node("down", status="down"),
        node("far", dc="dc2"),
        node("drain", drain=True),
    )
    cl.register(system_job(datacenters=["dc1"]))
    assert set(by_node(placed(cl.run("example")))) == {"ok"}


def test_marking_a_node_ineligible_leaves_its_alloc_running() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(system_job())
    cl.run("example")
    cl.state.update_node("a", scheduling_eligibility="ineligible")
    assert cl.run("example").plan.is_noop()


def test_down_node_alloc_is_lost_and_not_replaced() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(system_job())
    cl.run("example")
    cl.state.update_node("a", status="down")
    result = cl.run("example")
    (lost,) = stopped(result)
    assert lost.node_id == "a"
    assert (lost.client_status, lost.desired_description) == (
        "lost",
        "alloc is lost since its node is down",
    )
    assert placed(result) == []


def test_node_leaving_the_datacenters_is_stopped() -> None:
    cl = Cluster(node("a"), node("b"), node("c"))
    cl.register(system_job(datacenters=["dc1"]))
    cl.run("example")
    cl.state.update_node("a", datacenter="dc2")
    result = cl.run("example")
    assert {a.node_id: a.desired_description for a in stopped(result)} == {
        "a": "alloc not needed due to job update",
    }
    assert placed(result) == []


def test_draining_node_keeps_its_alloc_until_the_drainer_marks_it() -> None:
    # The drainer marks system allocs last, and never with IgnoreSystemJobs:
    # a draining node alone must not stop them.
    cl = Cluster(node("a"), node("b"))
    cl.register(system_job())
    cl.run("example")
    cl.state.update_node("b", drain=True, scheduling_eligibility="ineligible")
    assert cl.run("example").plan.is_noop()

    (on_b,) = [a for a in cl.state.live_allocs("example") if a.node_id == "b"]
    cl.state.update_alloc(on_b.id, desired_transition=DesiredTransition(migrate=True))
    result = cl.run("example")
    assert {a.node_id: a.desired_description for a in stopped(result)} == {
        "b": "alloc not needed as node is tainted",
    }
    assert placed(result) == [], "a migrated system alloc is not replaced"


def test_constraints_shape_the_footprint_without_failures() -> None:
    cl = Cluster(node("a", meta={"role": "edge"}), node("b"), node("c", meta={"role": "edge"}))
    edge = Constraint(l_target="${meta.role}", r_target="edge")
    cl.register(system_job(constraints=[edge]))
    result = cl.run("example")
    assert set(by_node(placed(result))) == {"a", "c"}
    assert result.failed_tg_allocs == {}
    assert result.queued_allocations == {"web": 0}


def test_driver_missing_node_is_skipped() -> None:
    cl = Cluster(node("a", drivers=("exec",)), node("b", drivers=("docker",)))
    cl.register(system_job())
    assert set(by_node(placed(cl.run("example")))) == {"b"}


def test_node_without_room_is_reported_exhausted_and_queued() -> None:
    cl = Cluster(node("big"), node("small1", mem=200), node("small2", mem=100))
    cl.register(system_job())
    result = cl.run("example")
    assert set(by_node(placed(result))) == {"big"}
    metric = result.failed_tg_allocs["web"]
    assert metric.dimension_exhausted == {"memory": 1}
    assert metric.nodes_evaluated == 1
    assert metric.coalesced_failures == 1
    assert result.queued_allocations == {"web": 2}


def test_sysbatch_completed_allocs_are_not_replaced_until_the_job_changes() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(system_job(type="sysbatch"))
    cl.run("example")
    for a in cl.state.live_allocs("example"):
        cl.state.update_alloc(a.id, client_status="complete")
    assert cl.run("example").plan.is_noop()

    cl.register(system_job(type="sysbatch", groups=[group(tasks=[task(env={"RUN": "2"})])]))
    result = cl.run("example")
    assert set(by_node(placed(result))) == {"a", "b"}
    assert stopped(result) == []


def test_system_destructive_update_replaces_on_the_same_node() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(system_job())
    before = {a.node_id: a for a in placed(cl.run("example"))}
    cl.register(system_job(groups=[group(tasks=[task(config={"image": "busybox:2"})])]))
    result = cl.run("example")
    assert {a.node_id: a.id for a in stopped(result)} == {n: a.id for n, a in before.items()}
    assert {a.desired_description for a in stopped(result)} == {
        "alloc is being updated due to job update"
    }
    new = {a.node_id: a for a in placed(result)}
    assert set(new) == {"a", "b"}
    for node_id, a in new.items():
        assert a.previous_allocation == before[node_id].id
        assert a.name == "example.web[0]"


def test_system_in_place_update_keeps_allocs() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(system_job())
    before = {a.id for a in placed(cl.run("example"))}
    cl.register(system_job(groups=[group(tasks=[task(kill_timeout=1)])]))
    result = cl.run("example")
    assert stopped(result) == []
    assert {a.id for a in placed(result)} == before


def test_system_job_stop_stops_everything() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(system_job())
    cl.run("example")
    cl.register(system_job().replace(stop=True))
    result = cl.run("example")
    assert len(stopped(result)) == 2
    assert placed(result) == []
    del cl.state.jobs[("default", "example")]
    assert cl.run("example", type="system").plan.is_noop()


def test_system_plan_annotations() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(system_job())
    assert cl.run("example").desired_tg_updates == {"web": DesiredUpdates(place=2)}
    cl.state.upsert_node(node("c"))
    assert cl.run("example").desired_tg_updates == {"web": DesiredUpdates(place=1, ignore=2)}
    cl.register(system_job(groups=[group(tasks=[task(env={"V": "2"})])]))
    assert cl.run("example").desired_tg_updates == {"web": DesiredUpdates(destructive_update=3)}
    cl.state.update_node("a", status="down")
    assert cl.run("example").desired_tg_updates == {"web": DesiredUpdates(stop=1, ignore=2)}
