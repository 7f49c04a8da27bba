"""Deployment bookkeeping the store does as allocations change (pure functions).

The state store, not the scheduler or the watcher, keeps a deployment's
counters, so they are exact whatever the order of writes: an alloc placed
into a deployment bumps PlacedAllocs (and PlacedCanaries for a canary); the
first health verdict for it bumps HealthyAllocs or UnhealthyAllocs.
"""

from __future__ import annotations

from controlplane.structs import Allocation, Deployment, DeploymentState


def _with_group(dep: Deployment, group: str, state: DeploymentState, at: int) -> Deployment:
    groups = dict(dep.task_groups)
    groups[group] = state
    return dep.replace(task_groups=groups, modify_time=max(dep.modify_time, at))


def count_placed(dep: Deployment, alloc: Allocation) -> Deployment:
    state = dep.task_groups.get(alloc.task_group)
    if state is None:
        return dep
    canaries = list(state.placed_canaries or [])
    canary = alloc.deployment_status is not None and alloc.deployment_status.canary
    if canary and alloc.id not in canaries:
        canaries.append(alloc.id)
    new = state.replace(placed_allocs=state.placed_allocs + 1, placed_canaries=canaries or None)
    return _with_group(dep, alloc.task_group, new, alloc.modify_time)


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
