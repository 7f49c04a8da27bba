"""Deployment bookkeeping the store does as allocations change, and its
deployment writes (DeploymentWrites, mixed into the StateStore).

The state store, not the scheduler or the watcher, keeps a deployment's
counters, so they are exact whatever the order of writes: an alloc placed
into a deployment bumps PlacedAllocs (and PlacedCanaries for a canary); the
first health verdict for it bumps HealthyAllocs or UnhealthyAllocs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controlplane.structs import Allocation, Deployment, DeploymentState

from .cow import CopyOnWrite, index_add


def _with_group(dep: Deployment, group: str, state: DeploymentState, at: int) -> Deployment:
    groups = dict(dep.task_groups)
    groups[group] = state
    return dep.replace(task_groups=groups, modify_time=max(dep.modify_time, at))


def count_placed(dep: Deployment, allocs: list[Allocation]) -> Deployment:
    """`allocs`, placed into `dep`, counted in its groups (PlacedAllocs and
    PlacedCanaries), each group's state rebuilt once however many there are."""
    counts: dict[str, int] = {}
    canaries: dict[str, list[str]] = {}
    modify_time = dep.modify_time
    for alloc in allocs:
        group = alloc.task_group
        if group not in counts:
            state = dep.task_groups.get(group)
            if state is None:
                continue
            counts[group] = 0
            canaries[group] = list(state.placed_canaries or [])
        counts[group] += 1
        if alloc.deployment_status is not None and alloc.deployment_status.canary:
            placed = canaries[group]
            if alloc.id not in placed:
                placed.append(alloc.id)
        modify_time = max(modify_time, alloc.modify_time)
    if not counts:
        return dep
    groups = dict(dep.task_groups)
    for group, n in counts.items():
        state = groups[group]
        groups[group] = state.replace(
            placed_allocs=state.placed_allocs + n, placed_canaries=canaries[group] or None
        )
    return dep.replace(task_groups=groups, modify_time=modify_time)


def count_health(dep: Deployment, alloc: Allocation, healthy: bool) -> Deployment:
    state = dep.task_groups.get(alloc.task_group)
    if state is None:
        return dep
    if healthy:
        new = state.replace(healthy_allocs=state.healthy_allocs + 1)
    else:
        new = state.replace(unhealthy_allocs=state.unhealthy_allocs + 1)
    return _with_group(dep, alloc.task_group, new, alloc.modify_time)


def merge_from_plan(old: Deployment, planned: Deployment) -> Deployment:
    """A scheduler's copy of an existing deployment: its desired fields, our counters."""
    groups: dict[str, DeploymentState] = {}
    for name, want in planned.task_groups.items():
        have = old.task_groups.get(name)
        if have is None:
            groups[name] = want
            continue
        groups[name] = have.replace(
            desired_total=want.desired_total,
            desired_canaries=want.desired_canaries,
            auto_revert=want.auto_revert,
            auto_promote=want.auto_promote,
            progress_deadline=want.progress_deadline,
        )
    return old.replace(task_groups=groups)


class DeploymentWrites(CopyOnWrite):
    """The store's deployment writes; the StateStore provides the lock, `_bump`
    and `_touch`. Counters move here as allocations are placed and judged."""

    lock: Any

    def _bump(self, index: int, *tables: str) -> None:
        raise NotImplementedError

    def _touch(self, obj: Allocation | Deployment) -> None:
        raise NotImplementedError

    def _count_health(self, index: int, old: Allocation, new: Allocation) -> None:
        was = old.deployment_status.healthy if old.deployment_status else None
        now = new.deployment_status.healthy if new.deployment_status else None
        if new.deployment_id and was is None and now is not None:
            self._update_deployment(index, new.deployment_id, lambda d: count_health(d, new, now))

    def upsert_deployment(self, index: int, dep: Deployment) -> None:
        """A deployment from a plan; an existing one keeps the store's counters."""
        with self.lock:
            old = self._t.deployments.get(dep.id)
            if old is not None:
                dep = merge_from_plan(old, dep)
            index_add(self._index("_deployments_by_job"), (dep.namespace, dep.job_id), dep.id)
            self._table("deployments")[dep.id] = dep.replace(
                create_index=old.create_index if old else index, modify_index=index
            )
            self._touch(dep)
            self._bump(index, "deployments")

    def update_deployment(
        self, index: int, dep_id: str, fn: Callable[[Deployment], Deployment]
    ) -> Deployment | None:
        """Replace a deployment by `fn(current)` (status changes, promotion, ...)."""
        with self.lock:
            return self._update_deployment(index, dep_id, fn)

    def _count_placed(self, index: int, dep_id: str, allocs: list[Allocation]) -> None:
        """Count `allocs`, placed into deployment `dep_id` by entry `index`:
        one update of the deployment, one touch of its job per allocation."""
        old = self._t.deployments.get(dep_id)
        if old is None:
            return
        new = count_placed(old, allocs).replace(modify_index=index)
        self._table("deployments")[dep_id] = new
        touch = self._index("_job_touch")
        key = (new.namespace, new.job_id)
        # one count per allocation, as one update per allocation would make
        touch[key] = touch.get(key, 0) + len(allocs)
        self._bump(index, "deployments")

    def _update_deployment(
        self, index: int, dep_id: str, fn: Callable[[Deployment], Deployment]
    ) -> Deployment | None:
        old = self._t.deployments.get(dep_id)
        if old is None:
            return None
        new = fn(old).replace(modify_index=index)
        self._table("deployments")[dep_id] = new
        self._touch(new)
        self._bump(index, "deployments")
        return new
