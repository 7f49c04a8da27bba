"""Reschedule policy against a real StateStore: delays, attempts, follow-up evals."""

from __future__ import annotations

import pytest
from sched_harness import NOW, group, job, node
from store_harness import StoreCluster

from controlplane.scheduler.reschedule import format_time_ns, next_delay, parse_time_ns
from controlplane.structs import (
    Allocation,
    RescheduleEvent,
    ReschedulePolicy,
    RescheduleTracker,
    TaskState,
)
from controlplane.structs.consts import SEC

MINUTE = 60 * SEC
HOUR = 60 * MINUTE


def history(*delays_s: int, start: int = NOW) -> Allocation:
    """A failed alloc whose predecessors were replaced after these delays."""
    events = [
        RescheduleEvent(reschedule_time=start + i * SEC, prev_alloc_id=f"p{i}", delay=d * SEC)
        for i, d in enumerate(delays_s)
    ]
    return Allocation(
        id="x",
        client_status="failed",
        modify_time=start + len(delays_s) * SEC,
        reschedule_tracker=RescheduleTracker(events=events) if events else None,
    )


def delays(function: str, *, delay: int = 5, max_delay: int = 0, steps: int = 7) -> list[int]:
    """The delay sequence a policy produces, each reschedule feeding the next."""
    policy = ReschedulePolicy(
        delay=delay * SEC, delay_function=function, max_delay=max_delay * SEC, unlimited=True
    )
    seen: list[int] = []
    for _ in range(steps):
        seen.append(next_delay(history(*seen), policy) // SEC)
    return seen


def test_delay_functions_with_max_delay() -> None:
    assert delays("constant", max_delay=8) == [5, 5, 5, 5, 5, 5, 5]
    assert delays("exponential", max_delay=60) == [5, 10, 20, 40, 60, 60, 60]
    assert delays("fibonacci", max_delay=60) == [5, 5, 10, 15, 25, 40, 60]
    assert delays("exponential") == [5, 10, 20, 40, 80, 160, 320]


def test_max_delay_resets_after_a_long_healthy_run() -> None:
    policy = ReschedulePolicy(
        delay=5 * SEC, delay_function="exponential", max_delay=60 * SEC, unlimited=True
    )
    alloc = history(5, 10, 20, 40, 60)
    assert next_delay(alloc, policy) == 60 * SEC
    # It ran for two hours after its last replacement: start again from `delay`.
    long_run = alloc.replace(
        task_states={"app": TaskState(state="dead", finished_at=format_time_ns(NOW + 2 * HOUR))}
    )
    assert next_delay(long_run, policy) == 5 * SEC


def test_rfc3339_round_trip_keeps_nanoseconds() -> None:
    assert parse_time_ns(format_time_ns(NOW + 123_456_789)) == NOW + 123_456_789
    assert format_time_ns(0) == "1970-01-01T00:00:00.000000000Z"


def _failing_cluster(policy: ReschedulePolicy, *, type: str = "service") -> StoreCluster:
    cl = StoreCluster(node("a"), node("b"), node("c"), node("d"))
    cl.register(job(type=type, groups=[group(reschedule=policy)]))
    cl.run()
    return cl


def _fail_current(cl: StoreCluster) -> Allocation:
    (alloc,) = cl.live()
    cl.client_update(alloc.id, "failed")
    failed = cl.store.alloc_by_id(alloc.id)
    assert failed is not None
    return failed


def _wait_and_replace(cl: StoreCluster, failed: Allocation, delay_s: int) -> Allocation:
    """Run the alloc-failure eval, check the follow-up, run it when due; the replacement."""
    result = cl.run(triggered_by="alloc-failure")
    assert result.plan.node_allocation.keys() == {failed.node_id}  # only the annotation
    (followup,) = result.followup_evals
    assert followup.wait_until == format_time_ns(failed.modify_time + delay_s * SEC)
    assert (followup.status, followup.triggered_by) == ("pending", "alloc-failure")
    assert followup.status_description == "created for delayed rescheduling"
    annotated = cl.store.alloc_by_id(failed.id)
    assert annotated.followup_eval_id == followup.id
    assert annotated.client_status == "failed"  # the store keeps client fields

    cl.advance(delay_s)
    result = cl.process(cl.store.eval_by_id(followup.id))
    (new,) = [a for allocs in result.plan.node_allocation.values() for a in allocs]
    assert new.previous_allocation == failed.id
    return new


def test_exponential_reschedules_through_delayed_followup_evals() -> None:
    policy = ReschedulePolicy(
        delay=30 * SEC, delay_function="exponential", max_delay=HOUR, unlimited=True
    )
    cl = _failing_cluster(policy)
    seen_nodes = []
    for step, delay_s in enumerate([30, 60, 120]):
        failed = _fail_current(cl)
        seen_nodes.append(failed.node_id)
        new = _wait_and_replace(cl, failed, delay_s)
        tracker = new.reschedule_tracker
        assert tracker is not None and len(tracker.events) == step + 1
        last = tracker.events[-1]
        assert (last.prev_alloc_id, last.prev_node_id, last.delay) == (
            failed.id,
            failed.node_id,
            delay_s * SEC,
        )
        assert last.reschedule_time == cl.now_ns
        old = cl.store.alloc_by_id(failed.id)
        assert (old.desired_status, old.next_allocation) == ("stop", new.id)
        # The reschedule penalty steers away from every node that failed.
        assert new.node_id not in seen_nodes
        cl.advance(10)
    assert len(cl.live()) == 1


def test_no_second_followup_while_one_is_pending() -> None:
    policy = ReschedulePolicy(delay=30 * SEC, delay_function="constant", unlimited=True)
    cl = _failing_cluster(policy)
    failed = _fail_current(cl)
    (followup,) = cl.run(triggered_by="alloc-failure").followup_evals
    cl.advance(5)
    again = cl.run(triggered_by="node-update")
    assert again.plan.is_noop() and again.followup_evals == []
    assert cl.store.alloc_by_id(failed.id).followup_eval_id == followup.id
    # Nothing takes the failed alloc's place before its time.
    assert cl.live() == []


def test_a_cancelled_followup_is_recreated() -> None:
    policy = ReschedulePolicy(delay=30 * SEC, delay_function="constant", unlimited=True)
    cl = _failing_cluster(policy)
    _fail_current(cl)
    (followup,) = cl.run(triggered_by="alloc-failure").followup_evals
    cl.store.upsert_evals(cl.next_index(), [followup.replace(status="canceled")])
    assert len(cl.run(triggered_by="alloc-failure").followup_evals) == 1


def test_delay_within_a_second_is_replaced_now() -> None:
    policy = ReschedulePolicy(delay=1 * SEC, delay_function="constant", unlimited=True)
    cl = _failing_cluster(policy)
    failed = _fail_current(cl)
    result = cl.run(triggered_by="alloc-failure")
    assert result.followup_evals == []
    (new,) = cl.live()
    assert new.previous_allocation == failed.id
    assert new.reschedule_tracker.events[0].delay == 1 * SEC


def test_failed_allocs_due_together_share_one_followup() -> None:
    policy = ReschedulePolicy(delay=30 * SEC, delay_function="constant", unlimited=True)
    cl = StoreCluster(node("a"), node("b"))
    cl.register(job(groups=[group(count=3, reschedule=policy)]))
    cl.run()
    allocs = cl.live()
    cl.client_update(allocs[0].id, "failed")
    cl.advance(3)
    cl.client_update(allocs[1].id, "failed")
    cl.advance(4)
    cl.client_update(allocs[2].id, "failed")  # 7 s after the first: its own batch
    result = cl.run(triggered_by="alloc-failure")
    first, second = result.followup_evals
    assert first.wait_until == format_time_ns(NOW + 30 * SEC)
    assert second.wait_until == format_time_ns(NOW + 37 * SEC)
    ids = [cl.store.alloc_by_id(a.id).followup_eval_id for a in allocs]
    assert ids == [first.id, first.id, second.id]

    cl.advance(23)  # NOW + 30 s
    placed = cl.process(cl.store.eval_by_id(first.id)).plan.node_allocation
    assert sorted(a.previous_allocation for v in placed.values() for a in v) == sorted(
        [allocs[0].id, allocs[1].id]
    )


@pytest.mark.parametrize("type", ["service", "batch"])
def test_attempts_within_interval(type: str) -> None:
    policy = ReschedulePolicy(attempts=2, interval=HOUR, delay=5 * SEC, delay_function="constant")
    cl = _failing_cluster(policy, type=type)
    for _ in range(2):
        _wait_and_replace(cl, _fail_current(cl), 5)
    exhausted = _fail_current(cl)
    result = cl.run(triggered_by="alloc-failure")
    assert result.plan.is_noop() and result.followup_evals == []
    assert cl.store.alloc_by_id(exhausted.id).desired_status == "run"  # keeps its name
    # Once the earlier attempts leave the interval, the alloc may be replaced again.
    cl.advance(HOUR // SEC)
    cl.client_update(exhausted.id, "failed")  # a later failure time
    assert len(cl.run(triggered_by="alloc-failure").followup_evals) == 1


def test_batch_defaults_one_attempt_after_five_seconds() -> None:
    policy = ReschedulePolicy(
        attempts=1, interval=24 * HOUR, delay=5 * SEC, delay_function="constant"
    )
    cl = _failing_cluster(policy, type="batch")
    _wait_and_replace(cl, _fail_current(cl), 5)
    _fail_current(cl)
    assert cl.run(triggered_by="alloc-failure").plan.is_noop()


def test_completed_batch_allocs_are_not_rescheduled() -> None:
    policy = ReschedulePolicy(attempts=1, interval=HOUR, delay=5 * SEC, delay_function="constant")
    cl = _failing_cluster(policy, type="batch")
    (alloc,) = cl.live()
    cl.client_update(alloc.id, "complete")
    assert cl.run(triggered_by="alloc-failure").plan.is_noop()
