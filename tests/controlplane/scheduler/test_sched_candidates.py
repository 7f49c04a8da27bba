"""The candidate source cache (candidates.py), the lazy node order (stack.py)
and the dynamic-port count shortcut (fit.py check_fit)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from itertools import islice

import pytest
from sched_harness import evaluation, group, job, node, ports, task
from store_harness import StoreCluster, by_node

from controlplane.scheduler import schedule
from controlplane.scheduler.candidates import CandidateCache
from controlplane.scheduler.fit import (
    DYNAMIC_PORTS_EXHAUSTED,
    Fit,
    NodeLoad,
    Usage,
    check_fit,
    group_ask,
)
from controlplane.scheduler.stack import ShuffledNodes
from controlplane.state import StateStore
from controlplane.structs import AllocMetric, SchedulerResult, to_builtins

NOW = "2024-01-01T00:00:00Z"


def _metrics(result: SchedulerResult) -> list[AllocMetric]:
    return [
        a.metrics for allocs in result.plan.node_allocation.values() for a in allocs if a.metrics
    ]


def _drain(c: StoreCluster, node_id: str) -> None:
    c.store.update_node_drain(c.next_index(), node_id, {"Deadline": 3600}, False, False, None, NOW)


def _ineligible(c: StoreCluster, node_id: str) -> None:
    c.store.update_node_eligibility(c.next_index(), node_id, "ineligible", NOW)


def _down(c: StoreCluster, node_id: str) -> None:
    c.node_down(node_id)


def _other_pool(c: StoreCluster, node_id: str) -> None:
    c.add_node(node(node_id, pool="batch"))


# --- the cache follows node changes ----------------------------------------------


@pytest.mark.parametrize("change", [_drain, _ineligible, _down, _other_pool])
def test_a_node_changed_after_a_cached_evaluation_is_not_used(
    change: Callable[[StoreCluster, str], None],
) -> None:
    c = StoreCluster(node("a"), node("b"))
    c.register(job("first", count=4))
    first = c.run("first")
    # Both nodes were candidates (and the source is now cached for this table).
    assert [m.nodes_available for m in _metrics(first)] == [{"dc1": 2}] * 4
    change(c, "a")
    c.register(job("second", count=4))
    second = c.run("second")
    assert by_node(c.live("second")) == {"b": 4}
    assert [m.nodes_available for m in _metrics(second)] == [{"dc1": 1}] * 4


def test_a_node_registered_after_a_cached_evaluation_is_used() -> None:
    # "a" holds exactly one alloc (cpu 500 each).
    c = StoreCluster(node("a", cpu=500))
    c.register(job("first"))
    c.run("first")
    c.register(job("second"))
    blocked = c.run("second")
    assert blocked.queued_allocations == {"web": 1}
    c.add_node(node("b"))
    c.register(job("third"))
    third = c.run("third")
    assert by_node(c.live("third")) == {"b": 1}
    assert [m.nodes_available for m in _metrics(third)] == [{"dc1": 2}]


def test_snapshots_without_node_writes_share_one_candidate_source() -> None:
    c = StoreCluster(node("a"), node("b"), node("c", dc="dc2"))
    cache = CandidateCache()
    j = job()
    before = cache.candidates(c.store.snapshot(), j)
    # Allocations and evaluations change, the nodes table does not.
    c.register(job("other", count=3))
    c.run("other")
    after = cache.candidates(c.store.snapshot(), j)
    assert after is before
    assert len(cache) == 1
    # A node write makes the store copy the table: a new entry.
    _drain(c, "a")
    fresh = cache.candidates(c.store.snapshot(), j)
    assert [n.id for n in fresh.nodes] == ["b", "c"]
    assert [n.id for n in before.nodes] == ["a", "b", "c"]
    assert len(cache) == 2


def test_a_cached_candidate_source_gives_the_same_plan_as_a_fresh_one() -> None:
    c = StoreCluster(*(node(f"n{i}", dc=f"dc{i % 3}") for i in range(12)))
    c.register(job(count=5, groups=[group(count=5, networks=[ports(dynamic=["http"])])]))
    ev = c.new_eval(c.store.job_by_id("default", "example") or job(), "job-register")
    snap = c.store.snapshot()

    def plan() -> object:
        ids = iter(f"a{i}" for i in range(10)).__next__
        return to_builtins(schedule(snap, ev, now_ns=0, seed=3, new_id=ids).plan)

    fresh = plan()  # this snapshot's nodes table was never seen: computed
    assert plan() == fresh  # cached


def test_datacenters_and_pool_are_part_of_the_key() -> None:
    c = StoreCluster(node("a"), node("b", dc="dc2"), node("p", pool="batch"))
    cache = CandidateCache()
    snap = c.store.snapshot()
    everywhere = cache.candidates(snap, job(datacenters=["dc1", "dc2"]))
    one_dc = cache.candidates(snap, job(datacenters=["dc2"]))
    reordered = cache.candidates(snap, job(datacenters=["dc2", "dc1"]))
    batch = cache.candidates(snap, job().replace(node_pool="batch"))
    assert [n.id for n in everywhere.nodes] == ["a", "b"]
    assert [n.id for n in one_dc.nodes] == ["b"]
    # The job's datacenter order is the order operators see them in.
    assert list(everywhere.available) == ["dc1", "dc2"]
    assert list(reordered.available) == ["dc2", "dc1"]
    assert [n.id for n in batch.nodes] == ["p"]
    assert len(cache) == 4


def test_the_cache_keeps_only_the_most_recently_used_entries() -> None:
    c = StoreCluster(node("a"), node("b", dc="dc2"), node("c", dc="dc3"))
    cache = CandidateCache(max_entries=2)
    snap = c.store.snapshot()
    dc1 = cache.candidates(snap, job(datacenters=["dc1"]))
    cache.candidates(snap, job(datacenters=["dc2"]))
    assert cache.candidates(snap, job(datacenters=["dc1"])) is dc1
    cache.candidates(snap, job(datacenters=["dc3"]))  # evicts dc2, not dc1
    assert len(cache) == 2
    assert cache.candidates(snap, job(datacenters=["dc1"])) is dc1


def test_the_live_store_is_never_cached() -> None:
    # No snapshot was ever taken: the store writes its nodes dict in place,
    # so that dict's identity says nothing about its contents.
    store = StateStore()
    store.upsert_node(1, node("a"), NOW)
    store.upsert_node(2, node("b"), NOW)
    cache = CandidateCache()
    j = job()
    assert [n.id for n in cache.candidates(store, j).nodes] == ["a", "b"]
    store.update_node_drain(3, "a", {"Deadline": 3600}, False, False, None, NOW)
    assert [n.id for n in cache.candidates(store, j).nodes] == ["b"]
    assert len(cache) == 0


def test_scheduling_on_the_live_store_sees_in_place_node_changes() -> None:
    store = StateStore()
    store.upsert_node(1, node("a"), NOW)
    store.upsert_node(2, node("b"), NOW)
    stored = store.upsert_job(3, job(count=2), 0)
    ev = evaluation(stored, "e1")
    first = schedule(store, ev, now_ns=0, seed=1, new_id=iter(["x1", "x2"]).__next__)
    assert [m.nodes_available for m in _metrics(first)] == [{"dc1": 2}] * 2
    store.update_node_eligibility(4, "a", "ineligible", NOW)
    second = schedule(store, ev, now_ns=0, seed=1, new_id=iter(["y1", "y2"]).__next__)
    assert set(second.plan.node_allocation) == {"b"}
    assert [m.nodes_available for m in _metrics(second)] == [{"dc1": 1}] * 2


def test_a_snapshot_nodes_table_never_changes_after_it_is_handed_out() -> None:
    # What the cache relies on (state/cow.py).
    c = StoreCluster(node("a"))
    snap = c.store.snapshot()
    table = snap.frozen_nodes()
    assert table is not None and set(table) == {"a"}
    assert c.store.snapshot().frozen_nodes() is table  # no write in between
    c.add_node(node("b"))
    _drain(c, "a")
    assert set(table) == {"a"} and not table["a"].drain
    newer = c.store.snapshot().frozen_nodes()
    assert newer is not table and newer is not None and set(newer) == {"a", "b"}


# --- the lazy node order -----------------------------------------------------


class _CountingRandom(random.Random):
    draws = 0

    def randrange(self, *args: object, **kwargs: object) -> int:  # type: ignore[override]
        self.draws += 1
        return super().randrange(*args, **kwargs)  # type: ignore[arg-type]


def test_shuffled_nodes_draw_only_what_is_read_and_repeat_the_same_order() -> None:
    source = tuple(node(f"n{i:04d}") for i in range(1000))
    rng = _CountingRandom(5)
    order = ShuffledNodes(source, rng)
    first_three = [n.id for n in islice(order, 3)]
    assert rng.draws == 3
    everything = [n.id for n in order]
    assert everything[:3] == first_three
    assert sorted(everything) == [n.id for n in source]
    assert [n.id for n in order] == everything
    assert rng.draws == 1000
    assert [n.id for n in source] == sorted(n.id for n in source)  # never shuffled in place
    assert len(order) == 1000


def test_shuffled_nodes_put_every_node_first_equally_often() -> None:
    source = tuple(node(f"n{i}") for i in range(6))
    firsts = Counter(next(iter(ShuffledNodes(source, random.Random(s)))).id for s in range(3000))
    assert set(firsts) == {n.id for n in source}
    # 500 expected each; the seeds are fixed, so this cannot flake.
    assert all(400 < k < 600 for k in firsts.values()), firsts


# --- check_fit's dynamic-port count ------------------------------------------------


def test_taken_ports_outside_the_dynamic_range_do_not_exhaust_it() -> None:
    n = node("n1", min_port=30000, max_port=30001)
    ask = group_ask(group(tasks=[task(networks=[ports(dynamic=["a", "b"])])]))
    outside = NodeLoad(Usage(), frozenset(range(1, 50)))
    assert isinstance(check_fit(n, outside, ask), Fit)
    one_inside = NodeLoad(Usage(), frozenset({*range(1, 50), 30001}))
    assert check_fit(n, one_inside, ask) == DYNAMIC_PORTS_EXHAUSTED
    static_inside = group_ask(
        group(tasks=[task(networks=[ports(static={"s": 30000}, dynamic=["a", "b"])])])
    )
    assert check_fit(n, outside, static_inside) == DYNAMIC_PORTS_EXHAUSTED
