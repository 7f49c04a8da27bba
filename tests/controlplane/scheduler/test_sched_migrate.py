"""Migrations (DesiredTransition.Migrate, set by the drainer or `alloc stop`):
replaced elsewhere; with no room, a draining node keeps the old alloc
running (the replacement is blocked) until the drain ends."""

from __future__ import annotations

from sched_harness import Cluster, job, node, placed, stopped

from controlplane.structs import DesiredTransition


def _two_on_a(*, b_mem: int = 8192) -> Cluster:
    cl = Cluster(node("a"), node("b", mem=b_mem, eligibility="ineligible"))
    cl.register(job(count=2))
    cl.run("example")
    assert {a.node_id for a in cl.state.live_allocs("example")} == {"a"}
    cl.state.update_node("b", scheduling_eligibility="eligible")
    cl.state.update_node("a", drain=True, scheduling_eligibility="ineligible")
    return cl


def _mark(cl: Cluster, name: str) -> str:
    (alloc,) = [a for a in cl.state.live_allocs("example") if a.name == name]
    cl.state.update_alloc(alloc.id, desired_transition=DesiredTransition(migrate=True))
    return alloc.id


def test_only_marked_allocs_move_the_rest_keep_running() -> None:
    cl = _two_on_a()
    marked = _mark(cl, "example.web[0]")
    result = cl.run("example")
    (old,) = stopped(result)
    (new,) = placed(result)
    assert (old.id, old.desired_description) == (marked, "alloc is being migrated")
    assert (new.node_id, new.name, new.previous_allocation) == ("b", "example.web[0]", marked)
    assert result.desired_tg_updates["web"].migrate == 1
    # the unmarked sibling on the draining node is left alone
    assert cl.run("example").plan.is_noop()


def test_no_room_elsewhere_keeps_the_old_alloc_while_the_node_drains() -> None:
    cl = _two_on_a(b_mem=100)  # b cannot take a 256 MB alloc
    marked = _mark(cl, "example.web[0]")
    result = cl.run("example")
    assert stopped(result) == [] and placed(result) == []
    assert result.failed_tg_allocs["web"].dimension_exhausted == {"memory": 1}
    assert result.queued_allocations == {"web": 1}
    alloc = cl.state.alloc_by_id(marked)
    assert alloc is not None and alloc.desired_status == "run"


def test_no_room_after_the_drain_ended_stops_the_old_alloc() -> None:
    # The drainer completes the drain at its deadline; migrations it forced
    # then stop whether or not a replacement fits.
    cl = _two_on_a(b_mem=100)
    marked = _mark(cl, "example.web[0]")
    cl.state.update_node("a", drain=False)
    result = cl.run("example")
    (old,) = stopped(result)
    assert (old.id, old.desired_description) == (marked, "alloc is being migrated")
    assert placed(result) == []
    assert result.queued_allocations == {"web": 1}
