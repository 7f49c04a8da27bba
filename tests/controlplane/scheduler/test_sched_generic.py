"""Generic (service / batch) scheduler: placement, counts, updates, failures."""

from __future__ import annotations

import pytest
from sched_harness import NOW, Cluster, group, job, node, placed, ports, stopped, task

from controlplane.scheduler import allocs_fit
from controlplane.structs import Constraint, ReschedulePolicy, to_builtins


def names(allocs: list) -> list[str]:
    return [a.name for a in allocs]


# --- placement ------------------------------------------------------------------


def test_places_count_allocs_with_nomad_fields() -> None:
    cl = Cluster(node("a"), node("b"), node("c"))
    j = cl.register(job(count=3))
    result = cl.run("example")

    allocs = placed(result)
    assert names(allocs) == ["example.web[0]", "example.web[1]", "example.web[2]"]
    assert result.failed_tg_allocs == {}
    assert result.queued_allocations == {"web": 0}
    assert result.plan.node_update == {}
    plan = result.plan
    assert (plan.eval_id, plan.job_id, plan.namespace, plan.priority) == (
        "eval-1",
        "example",
        "default",
        50,
    )
    for a in allocs:
        assert a.id.startswith("alloc-")
        assert a.eval_id == "eval-1"
        assert a.job == j and a.job_id == "example" and a.task_group == "web"
        assert a.node_name == f"{a.node_id}-name"
        assert (a.desired_status, a.client_status) == ("run", "pending")
        assert a.create_time == a.modify_time == NOW
        assert a.previous_allocation == ""
        assert a.allocated_resources is not None
        assert a.allocated_resources.tasks["app"].cpu.cpu_shares == 500
        assert a.allocated_resources.tasks["app"].memory.memory_mb == 256
        assert a.allocated_resources.shared.disk_mb == 300
        # Three nodes: the limit iterator compares max(2, ceil(log2 3)) = 2 of them,
        # pulling a third only when one scores <= 0 (job anti-affinity).
        assert a.metrics is not None and a.metrics.nodes_evaluated in (2, 3)
        assert a.metrics.nodes_available == {"dc1": 3}
    assert len({a.id for a in allocs}) == 3
    assert allocs[0].metrics.nodes_evaluated == 2


def test_binpacking_puts_a_new_job_next_to_existing_work() -> None:
    for seed in range(8):
        cl = Cluster(node("a"), node("b"), node("c"), node("d"), seed=seed)
        cl.register(job("first"))
        (first,) = placed(cl.run("first"))
        cl.register(job("second"))
        (second,) = placed(cl.run("second"))
        assert second.node_id == first.node_id, f"seed {seed}"


def test_binpacking_fills_the_fuller_node_first() -> None:
    # b already runs 2000 MHz of another job; a fresh alloc scores higher there.
    # (Two nodes: with more, the limit iterator may not even look at b.)
    cl = Cluster(node("a"), node("b"))
    cl.register(
        job(
            "other",
            groups=[group("big", tasks=[task(cpu=2000, mem=2048)])],
            constraints=[Constraint(l_target="${node.unique.id}", r_target="b")],
        )
    )
    cl.run("other")
    for seed in range(8):
        cl.register(job("small", count=1))
        result = cl.run("small", apply=False, seed=seed)
        assert placed(result)[0].node_id == "b"


def test_allocs_of_one_group_spread_by_job_anti_affinity() -> None:
    for seed in range(8):
        cl = Cluster(node("a"), node("b"), seed=seed)
        cl.register(job(count=2))
        allocs = placed(cl.run("example"))
        assert {a.node_id for a in allocs} == {"a", "b"}, f"seed {seed}"


def test_count_larger_than_one_node_overflows_to_the_next() -> None:
    # Each node holds exactly two allocs (cpu 1000 / 500 each).
    cl = Cluster(node("a", cpu=1000), node("b", cpu=1000), node("c", cpu=1000))
    cl.register(job(count=6))
    result = cl.run("example")
    per_node: dict[str, int] = {}
    for a in placed(result):
        per_node[a.node_id] = per_node.get(a.node_id, 0) + 1
    assert per_node == {"a": 2, "b": 2, "c": 2}
    for node_id in per_node:
        n = cl.state.node_by_id(node_id)
        assert n is not None
        assert allocs_fit(n, cl.state.allocs_by_node(node_id)) == (True, "")


def test_same_seed_same_plan() -> None:
    def plan_for(seed: int) -> object:
        cl = Cluster(*(node(f"n{i}") for i in range(6)), seed=seed)
        cl.register(job(groups=[group(count=3, networks=[ports(dynamic=["http"])])]))
        return to_builtins(cl.run("example").plan)

    assert plan_for(11) == plan_for(11)


def test_seed_breaks_ties_between_equal_nodes() -> None:
    # Six identical empty nodes: which one wins depends only on the shuffle.
    chosen = set()
    for seed in range(10):
        cl = Cluster(*(node(f"n{i}") for i in range(6)), seed=seed)
        cl.register(job())
        chosen.add(placed(cl.run("example"))[0].node_id)
    assert len(chosen) > 1


def test_node_iteration_order_of_the_view_does_not_matter() -> None:
    nodes = [node(f"n{i}") for i in range(5)]
    first = Cluster(*nodes)
    second = Cluster(*reversed(nodes))
    for cl in (first, second):
        cl.register(job(count=3))
    assert to_builtins(first.run("example").plan) == to_builtins(second.run("example").plan)


# --- counts ---------------------------------------------------------------------


def test_count_down_stops_highest_indexes_and_updates_the_rest_in_place() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(job(count=5))
    before = {a.name: a for a in placed(cl.run("example"))}
    cl.register(job(count=2))
    result = cl.run("example")

    stops = stopped(result)
    assert names(stops) == ["example.web[2]", "example.web[3]", "example.web[4]"]
    assert {a.desired_status for a in stops} == {"stop"}
    assert {a.desired_description for a in stops} == {"alloc not needed due to job update"}
    # A pure count change is an in-place update for the survivors.
    updated = placed(result)
    assert names(updated) == ["example.web[0]", "example.web[1]"]
    for a in updated:
        assert a.id == before[a.name].id and a.node_id == before[a.name].node_id
        assert a.job is not None and a.job.task_groups[0].count == 2
    assert names(cl.state.live_allocs("example")) == ["example.web[0]", "example.web[1]"]


def test_count_up_reuses_the_lowest_free_indexes() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(job(count=4))
    cl.run("example")
    for a in cl.state.live_allocs("example"):
        if a.name in ("example.web[1]", "example.web[2]"):
            cl.state.update_alloc(a.id, desired_status="stop")  # e.g. `nomad alloc stop`
    assert names(cl.state.live_allocs("example")) == ["example.web[0]", "example.web[3]"]

    cl.register(job(count=3))
    existing = set(cl.state.allocs)
    result = cl.run("example")
    fresh = [a for a in placed(result) if a.id not in existing]
    assert names(fresh) == ["example.web[1]"]

    cl.register(job(count=6))
    existing = set(cl.state.allocs)
    result = cl.run("example")
    fresh = [a for a in placed(result) if a.id not in existing]
    assert names(fresh) == ["example.web[2]", "example.web[4]", "example.web[5]"]
    assert names(cl.state.live_allocs("example")) == [f"example.web[{i}]" for i in range(6)]


def test_unchanged_job_gives_an_empty_plan() -> None:
    cl = Cluster(node("a"))
    cl.register(job(count=2))
    cl.run("example")
    result = cl.run("example")
    assert result.plan.is_noop()
    assert result.queued_allocations == {"web": 0}


# --- stopping -------------------------------------------------------------------


def test_job_stop_stops_every_alloc() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(job(count=3))
    cl.run("example")
    cl.register(job(count=3).replace(stop=True))
    result = cl.run("example")
    assert names(stopped(result)) == ["example.web[0]", "example.web[1]", "example.web[2]"]
    assert {a.desired_description for a in stopped(result)} == {
        "alloc not needed due to job update"
    }
    assert placed(result) == []
    assert cl.state.live_allocs("example") == []


def test_purged_job_stops_every_alloc() -> None:
    cl = Cluster(node("a"))
    cl.register(job(count=2))
    cl.run("example")
    del cl.state.jobs[("default", "example")]
    result = cl.run("example")
    assert len(stopped(result)) == 2
    assert result.failed_tg_allocs == {}


def test_allocs_of_a_removed_group_are_stopped() -> None:
    cl = Cluster(node("a"))
    cl.register(job(groups=[group("web"), group("cache")]))
    cl.run("example")
    cl.register(job(groups=[group("web")]))
    result = cl.run("example")
    assert names(stopped(result)) == ["example.cache[0]"]


# --- feasibility ----------------------------------------------------------------


def test_datacenter_filter_and_globs() -> None:
    cl = Cluster(node("a", dc="dc1"), node("b", dc="dc2"), node("c", dc="eu-1"))
    cl.register(job(count=2, datacenters=["dc2"]))
    assert {a.node_id for a in placed(cl.run("example"))} == {"b"}

    cl.register(job("globbed", count=4, datacenters=["dc*"]))
    result = cl.run("globbed")
    assert {a.node_id for a in placed(result)} == {"a", "b"}
    assert placed(result)[0].metrics.nodes_available == {"dc1": 1, "dc2": 1}


def test_no_nodes_in_the_datacenter_is_reported() -> None:
    cl = Cluster(node("a", dc="dc1"))
    cl.register(job(count=2, datacenters=["dc9"]))
    result = cl.run("example")
    assert placed(result) == []
    metric = result.failed_tg_allocs["web"]
    assert metric.nodes_evaluated == 0
    assert metric.nodes_available == {"dc9": 0}
    assert metric.coalesced_failures == 1
    assert result.queued_allocations == {"web": 2}


def test_not_ready_ineligible_and_draining_nodes_get_nothing() -> None:
    cl = Cluster(
        node("down", status="down"),
        node("init", status="initializing"),
        node("inel", eligibility="ineligible"),
        node("drain", drain=True),
        node("ok"),
    )
    cl.register(job(count=3))
    assert {a.node_id for a in placed(cl.run("example"))} == {"ok"}


def test_driver_filter() -> None:
    cl = Cluster(node("a", drivers=("docker",)), node("b", drivers=("docker", "exec")))
    cl.register(job(groups=[group(count=2, tasks=[task(driver="exec")])]))
    result = cl.run("example")
    assert [a.node_id for a in placed(result)] == ["b", "b"]
    assert placed(result)[0].metrics.constraint_filtered == {"missing drivers": 1}


def test_driver_filter_falls_back_to_the_attribute_and_checks_health() -> None:
    cl = Cluster(
        node("attr", drivers=(), attrs={"driver.raw_exec": "1"}),
        node("none", drivers=()),
    )
    unhealthy = node("sick", drivers=("raw_exec",))
    unhealthy = unhealthy.replace(
        drivers={"raw_exec": unhealthy.drivers["raw_exec"].replace(healthy=False)}
    )
    cl.state.upsert_node(unhealthy)
    cl.register(job(groups=[group(count=3, tasks=[task(driver="raw_exec")])]))
    result = cl.run("example")
    assert {a.node_id for a in placed(result)} == {"attr"}


def test_constraint_filtering_fails_with_metrics() -> None:
    cl = Cluster(node("a", node_class="small"), node("b"), node("c"))
    windows = Constraint(l_target="${attr.kernel.name}", operand="=", r_target="windows")
    cl.register(job(count=2, constraints=[windows]))
    result = cl.run("example")
    assert placed(result) == []
    metric = result.failed_tg_allocs["web"]
    assert metric.nodes_evaluated == 3
    assert metric.nodes_filtered == 3
    assert metric.constraint_filtered == {"${attr.kernel.name} = windows": 3}
    assert metric.class_filtered == {"small": 1}
    assert metric.nodes_exhausted == 0
    assert result.queued_allocations == {"web": 2}


@pytest.mark.parametrize("level", ["job", "group", "task"])
def test_constraints_at_every_level_select_nodes(level: str) -> None:
    cl = Cluster(node("a", meta={"rack": "r1"}), node("b", meta={"rack": "r2"}))
    rack = Constraint(l_target="${meta.rack}", operand="=", r_target="r2")
    if level == "job":
        j = job(count=2, constraints=[rack])
    elif level == "group":
        j = job(groups=[group(count=2, constraints=[rack])])
    else:
        j = job(groups=[group(count=2, tasks=[task(constraints=[rack])])])
    cl.register(j)
    assert [a.node_id for a in placed(cl.run("example"))] == ["b", "b"]


def test_distinct_hosts_allows_one_alloc_per_node() -> None:
    cl = Cluster(node("a"), node("b"))
    distinct = Constraint(operand="distinct_hosts", r_target="true")
    cl.register(job(groups=[group(count=3, constraints=[distinct])]))
    result = cl.run("example")
    assert len({a.node_id for a in placed(result)}) == 2
    assert len(placed(result)) == 2
    metric = result.failed_tg_allocs["web"]
    assert metric.constraint_filtered == {"distinct_hosts": 2}
    assert result.queued_allocations == {"web": 1}


# --- ports ----------------------------------------------------------------------


def test_static_port_collision_makes_a_node_infeasible() -> None:
    cl = Cluster(node("a", reserved_ports="8080"), node("b"), node("c"))
    cl.register(job(groups=[group(count=3, networks=[ports(static={"http": 8080})])]))
    result = cl.run("example")
    allocs = placed(result)
    assert sorted(a.node_id for a in allocs) == ["b", "c"]
    metric = result.failed_tg_allocs["web"]
    assert metric.dimension_exhausted == {"network: port collision": 3}
    assert metric.nodes_exhausted == 3
    assert result.queued_allocations == {"web": 1}
    for a in allocs:
        (mapping,) = a.allocated_resources.shared.ports
        assert (mapping.label, mapping.value, mapping.host_ip) == ("http", 8080, "10.0.0.1")


def test_dynamic_ports_are_distinct_and_within_the_node_range() -> None:
    cl = Cluster(node("a", min_port=25000, max_port=25019))
    cl.register(job(groups=[group(count=5, networks=[ports(dynamic=["http", "admin"])])]))
    allocs = placed(cl.run("example"))
    values = [p.value for a in allocs for p in a.allocated_resources.shared.ports]
    assert len(values) == 10
    assert len(set(values)) == 10
    assert all(25000 <= v <= 25019 for v in values)
    n = cl.state.node_by_id("a")
    assert allocs_fit(n, cl.state.allocs_by_node("a")) == (True, "")


def test_dynamic_ports_avoid_ports_held_by_existing_allocs() -> None:
    cl = Cluster(node("a", min_port=25000, max_port=25003))
    cl.register(job("first", groups=[group(count=2, networks=[ports(dynamic=["p"])])]))
    cl.run("first")
    cl.register(job("second", groups=[group(count=2, networks=[ports(dynamic=["p"])])]))
    cl.run("second")
    used = [p.value for a in cl.state.allocs.values() for p in a.allocated_resources.shared.ports]
    assert sorted(used) == [25000, 25001, 25002, 25003]
    cl.register(job("third", groups=[group(networks=[ports(dynamic=["p"])])]))
    result = cl.run("third")
    assert result.failed_tg_allocs["web"].dimension_exhausted == {
        "network: dynamic port selection failed": 1
    }


def test_a_node_whose_dynamic_range_is_full_is_skipped() -> None:
    # "a" is busier (bin-packing would prefer it) but its only dynamic port is taken.
    cl = Cluster(node("a", min_port=25000, max_port=25000), node("b"))
    pin = Constraint(l_target="${node.unique.id}", r_target="a")
    cl.register(
        job(
            "first",
            constraints=[pin],
            groups=[group(tasks=[task(cpu=2000)], networks=[ports(dynamic=["p"])])],
        )
    )
    cl.run("first")
    cl.register(job("second", groups=[group(networks=[ports(dynamic=["p"])])]))
    result = cl.run("second")
    (alloc,) = placed(result)
    assert alloc.node_id == "b"
    assert alloc.metrics.dimension_exhausted == {"network: dynamic port selection failed": 1}


# --- exhaustion -----------------------------------------------------------------


def test_resource_exhaustion_reports_dimension_and_queued() -> None:
    cl = Cluster(node("a", mem=1024), node("b", mem=1024))
    cl.register(job(groups=[group(count=5, tasks=[task(cpu=100, mem=400)])]))
    result = cl.run("example")
    assert len(placed(result)) == 4  # two per node
    metric = result.failed_tg_allocs["web"]
    assert metric.dimension_exhausted == {"memory": 2}
    assert metric.nodes_exhausted == 2
    assert metric.nodes_evaluated == 2
    assert metric.coalesced_failures == 0
    assert result.queued_allocations == {"web": 1}


def test_exhaustion_is_per_group() -> None:
    cl = Cluster(node("a", cpu=1000))
    cl.register(
        job(
            groups=[
                group("small", count=1, tasks=[task(cpu=200)]),
                group("huge", count=3, tasks=[task(cpu=5000)]),
            ]
        )
    )
    result = cl.run("example")
    assert names(placed(result)) == ["example.small[0]"]
    assert set(result.failed_tg_allocs) == {"huge"}
    assert result.failed_tg_allocs["huge"].dimension_exhausted == {"cpu": 1}
    assert result.failed_tg_allocs["huge"].coalesced_failures == 2
    assert result.queued_allocations == {"small": 0, "huge": 3}


# --- lost, migrate, reschedule --------------------------------------------------


def test_allocs_on_a_down_node_are_lost_and_replaced() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(job(count=2))
    cl.run("example")
    on_a = [a for a in cl.state.live_allocs("example") if a.node_id == "a"]
    assert on_a
    cl.state.update_node("a", status="down")
    result = cl.run("example")

    lost = stopped(result)
    assert [a.id for a in lost] == [a.id for a in on_a]
    for a in lost:
        assert a.desired_status == "stop"
        assert a.client_status == "lost"
        assert a.desired_description == "alloc is lost since its node is down"
    replacements = [a for a in placed(result) if a.previous_allocation]
    assert sorted(a.name for a in replacements) == sorted(a.name for a in on_a)
    assert {a.previous_allocation for a in replacements} == {a.id for a in on_a}
    assert {a.node_id for a in replacements} == {"b"}


def test_lost_allocs_are_stopped_even_without_room_for_replacements() -> None:
    cl = Cluster(node("a"))
    cl.register(job(count=1))
    cl.run("example")
    cl.state.update_node("a", status="down")
    result = cl.run("example")
    assert len(stopped(result)) == 1 and stopped(result)[0].client_status == "lost"
    assert result.failed_tg_allocs["web"].nodes_evaluated == 0
    assert result.queued_allocations == {"web": 1}


def test_allocs_on_a_missing_node_are_lost() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(job(constraints=[Constraint(l_target="${node.unique.id}", r_target="a")]))
    cl.run("example")
    del cl.state._nodes["a"]
    result = cl.run("example")
    assert stopped(result)[0].client_status == "lost"


def test_migrating_alloc_is_replaced_then_stopped() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(job(count=1))
    (first,) = placed(cl.run("example"))
    cl.state.update_node(first.node_id, drain=True, scheduling_eligibility="ineligible")
    cl.state.update_alloc(
        first.id, desired_transition=first.desired_transition.replace(migrate=True)
    )
    result = cl.run("example")
    (old,) = stopped(result)
    assert old.id == first.id and old.desired_description == "alloc is being migrated"
    (new,) = placed(result)
    assert new.previous_allocation == first.id and new.node_id != first.node_id


def test_failed_service_alloc_is_rescheduled_away_from_its_node() -> None:
    unlimited = ReschedulePolicy(unlimited=True, delay_function="exponential")
    for seed in range(6):
        cl = Cluster(node("a"), node("b"), seed=seed)
        cl.register(job(groups=[group(reschedule=unlimited)]))
        (first,) = placed(cl.run("example"))
        cl.state.update_alloc(first.id, client_status="failed")
        result = cl.run("example")
        (new,) = placed(result)
        # As in Nomad, the failed alloc is marked stopped and linked to its successor.
        (old,) = stopped(result)
        assert (old.id, old.desired_status, old.next_allocation) == (first.id, "stop", new.id)
        assert old.desired_description == "alloc was rescheduled because it failed"
        assert old.client_status == "failed"
        assert new.name == first.name and new.previous_allocation == first.id
        assert new.node_id != first.node_id, f"seed {seed}"
        # Once replaced, the failed alloc is not rescheduled again.
        assert cl.run("example").plan.is_noop()


def test_a_failed_alloc_is_rescheduled_at_most_once() -> None:
    unlimited = ReschedulePolicy(unlimited=True)
    cl = Cluster(node("a"), node("b"))
    cl.register(job(groups=[group(reschedule=unlimited)]))
    (first,) = placed(cl.run("example"))
    cl.state.update_alloc(first.id, client_status="failed")
    (second,) = placed(cl.run("example"))
    cl.state.update_alloc(second.id, desired_status="stop")  # operator stops the successor
    (third,) = placed(cl.run("example"))
    # A fresh placement fills the name; the old failure is not rescheduled again.
    assert third.name == first.name
    assert third.previous_allocation == ""


# --- batch ----------------------------------------------------------------------


def test_batch_completed_allocs_are_never_replaced() -> None:
    cl = Cluster(node("a"))
    cl.register(job(type="batch", count=2))
    cl.run("example")
    for a in cl.state.live_allocs("example"):
        cl.state.update_alloc(a.id, client_status="complete")
    result = cl.run("example")
    assert result.plan.is_noop()
    assert result.queued_allocations == {"web": 0}


def test_completed_service_allocs_are_replaced() -> None:
    cl = Cluster(node("a"))
    cl.register(job(count=1))
    (first,) = placed(cl.run("example"))
    cl.state.update_alloc(first.id, client_status="complete")
    (new,) = placed(cl.run("example"))
    assert new.name == first.name and new.id != first.id


def test_batch_failed_alloc_respects_reschedule_attempts() -> None:
    once = ReschedulePolicy(attempts=1, interval=24 * 3600 * 10**9, delay_function="constant")
    cl = Cluster(node("a"), node("b"))
    cl.register(job(type="batch", groups=[group(reschedule=once)]))
    (first,) = placed(cl.run("example"))
    cl.state.update_alloc(first.id, client_status="failed")
    (second,) = placed(cl.run("example"))
    assert second.previous_allocation == first.id
    cl.state.update_alloc(second.id, client_status="failed")
    # The one attempt is used up: the failed alloc keeps its name, nothing is placed.
    assert cl.run("example").plan.is_noop()


def test_failed_alloc_without_reschedule_policy_is_not_replaced() -> None:
    cl = Cluster(node("a"))
    cl.register(job(type="batch"))
    (first,) = placed(cl.run("example"))
    cl.state.update_alloc(first.id, client_status="failed")
    assert cl.run("example").plan.is_noop()


# --- updates --------------------------------------------------------------------


def test_destructive_update_replaces_allocs_with_the_same_names() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(job(count=2))
    before = {a.name: a for a in placed(cl.run("example"))}
    cl.register(job(groups=[group(count=2, tasks=[task(env={"VERSION": "2"})])]))
    result = cl.run("example")

    olds = stopped(result)
    assert [a.id for a in olds] == [before[n].id for n in sorted(before)]
    assert {a.desired_description for a in olds} == {"alloc is being updated due to job update"}
    news = placed(result)
    assert names(news) == sorted(before)
    for a in news:
        assert a.previous_allocation == before[a.name].id
        assert a.id not in {b.id for b in before.values()}
        assert a.job.task_groups[0].tasks[0].env == {"VERSION": "2"}


@pytest.mark.parametrize(
    "changed",
    [
        task(driver="exec"),
        task(config={"image": "busybox:2"}),
        task(cpu=600),
        task(mem=512),
        task(networks=[ports(dynamic=["legacy"])]),
    ],
    ids=["driver", "config", "cpu", "memory", "task-network"],
)
def test_task_changes_are_destructive(changed) -> None:
    cl = Cluster(node("a"))
    cl.register(job())
    (first,) = placed(cl.run("example"))
    cl.register(job(groups=[group(tasks=[changed])]))
    result = cl.run("example")
    assert [a.id for a in stopped(result)] == [first.id]
    assert placed(result)[0].id != first.id


def test_group_port_change_is_destructive() -> None:
    cl = Cluster(node("a"))
    cl.register(job(groups=[group(networks=[ports(static={"http": 8080})])]))
    (first,) = placed(cl.run("example"))
    cl.register(job(groups=[group(networks=[ports(static={"http": 8081})])]))
    result = cl.run("example")
    assert [a.id for a in stopped(result)] == [first.id]
    (new,) = placed(result)
    assert new.allocated_resources.shared.ports[0].value == 8081


def test_in_place_update_keeps_id_node_and_resources() -> None:
    cl = Cluster(node("a"), node("b"))
    cl.register(job(count=2))
    before = {a.id: a for a in placed(cl.run("example"))}
    # kill_timeout and a (still satisfied) constraint are in-place changes
    linux = Constraint(l_target="${attr.kernel.name}", r_target="linux")
    cl.register(
        job(
            constraints=[linux],
            groups=[group(count=2, tasks=[task(kill_timeout=30_000_000_000)])],
        )
    )
    new_job = cl.state.job_by_id("default", "example")
    result = cl.run("example")
    assert stopped(result) == []
    updated = placed(result)
    assert {a.id for a in updated} == set(before)
    for a in updated:
        old = before[a.id]
        assert a.node_id == old.node_id
        assert a.allocated_resources == old.allocated_resources
        assert a.job == new_job
        assert a.eval_id == "eval-2"


def test_update_that_makes_the_node_infeasible_is_destructive() -> None:
    cl = Cluster(node("a", meta={"rack": "r1"}), node("b", meta={"rack": "r2"}))
    cl.register(job(constraints=[Constraint(l_target="${meta.rack}", r_target="r1")]))
    (first,) = placed(cl.run("example"))
    assert first.node_id == "a"
    cl.register(job(constraints=[Constraint(l_target="${meta.rack}", r_target="r2")]))
    result = cl.run("example")
    assert [a.id for a in stopped(result)] == [first.id]
    assert placed(result)[0].node_id == "b"


def test_destructive_update_that_cannot_be_placed_keeps_the_old_alloc() -> None:
    cl = Cluster(node("a", cpu=1000))
    cl.register(job())
    (first,) = placed(cl.run("example"))
    cl.register(job(groups=[group(tasks=[task(cpu=2000)])]))
    result = cl.run("example")
    assert stopped(result) == []
    assert placed(result) == []
    assert result.failed_tg_allocs["web"].dimension_exhausted == {"cpu": 1}
    assert [a.id for a in cl.state.live_allocs("example")] == [first.id]


def test_destructive_update_can_reuse_the_resources_it_frees() -> None:
    # One node that fits exactly one alloc: the replacement lands where the old one was.
    cl = Cluster(node("a", cpu=600))
    cl.register(job())
    (first,) = placed(cl.run("example"))
    cl.register(job(groups=[group(tasks=[task(env={"V": "2"})])]))
    result = cl.run("example")
    (new,) = placed(result)
    assert new.node_id == "a" and new.previous_allocation == first.id
    n = cl.state.node_by_id("a")
    cl.state.apply(result)
    assert allocs_fit(n, cl.state.allocs_by_node("a")) == (True, "")
