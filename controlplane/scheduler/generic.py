"""Generic scheduler for service and batch jobs: reconcile, then place.

Order matters: stops are recorded first so their resources are free for
placements; in-place updates next; then each placement runs the stack.
Produces a plan only; the plan applier commits it.
"""

from __future__ import annotations

from controlplane.structs import Allocation, AllocMetric, Job, SchedulerResult, TaskGroup

from .context import EvalContext
from .feasible import candidate_nodes, in_datacenters, in_pool, job_datacenters
from .reconcile import UpdateKind, reconcile
from .stack import GenericStack
from .update import tasks_updated


def schedule_generic(ctx: EvalContext) -> SchedulerResult:
    ev = ctx.eval
    job = ctx.view.job_by_id(ev.namespace, ev.job_id)
    allocs = ctx.view.allocs_by_job(ev.namespace, ev.job_id)
    if job is None or job.stop:
        result = reconcile(None, allocs, node_of=ctx.node, update_fn=_never, now_ns=ctx.now_ns)
        for stop in result.stop:
            ctx.stop(stop.alloc, stop.description, stop.client_status)
        return SchedulerResult(plan=ctx.build_plan(job))

    stack = GenericStack(ctx, job, candidate_nodes(ctx.view.nodes(), job))

    def update_fn(alloc: Allocation, new_job: Job, tg: TaskGroup) -> UpdateKind:
        old_job = alloc.job
        old_tg = old_job.group(alloc.task_group) if old_job is not None else None
        if old_job is None or old_tg is None or tasks_updated(old_job, old_tg, new_job, tg):
            return UpdateKind.DESTRUCTIVE
        # Resources and ports are unchanged by an in-place update, so fit
        # cannot change; only whether the node is still acceptable can.
        node = ctx.node(alloc.node_id)
        if (
            node is None
            or not in_datacenters(node, job_datacenters(new_job))
            or not in_pool(node, new_job.node_pool)
            or stack.feasibility(tg).static_reason(node)
        ):
            return UpdateKind.DESTRUCTIVE
        return UpdateKind.IN_PLACE

    result = reconcile(job, allocs, node_of=ctx.node, update_fn=update_fn, now_ns=ctx.now_ns)
    for stop in result.stop:
        ctx.stop(stop.alloc, stop.description, stop.client_status)
    for alloc, _tg in result.in_place:
        ctx.update_in_place(alloc, job)

    failed: dict[str, AllocMetric] = {}
    queued = {tg.name: 0 for tg in job.task_groups}
    for place in result.place:
        group = place.group.name
        if group in failed:
            # One failure says it all: later asks of the same group would fail
            # the same way, so they are coalesced instead of re-run.
            failed[group] = failed[group].replace(
                coalesced_failures=failed[group].coalesced_failures + 1
            )
            queued[group] += 1
            continue
        previous = place.previous
        if previous is not None and place.stop_previous:
            # Free the old alloc's resources before searching; backed out below.
            ctx.stop(previous, place.stop_previous)
        penalty = (
            frozenset({previous.node_id})
            if place.reschedule and previous is not None
            else frozenset()
        )
        selection, metric = stack.select(place.group, place.name, penalty)
        if selection is None:
            if previous is not None and place.stop_previous:
                ctx.unstop(previous)
            failed[group] = metric
            queued[group] += 1
            continue
        ctx.new_alloc(
            job,
            place.group,
            place.name,
            selection.node,
            selection.resources,
            metric,
            previous=previous,
        )
    return SchedulerResult(
        plan=ctx.build_plan(job), failed_tg_allocs=failed, queued_allocations=queued
    )


def _never(alloc: Allocation, job: Job, tg: TaskGroup) -> UpdateKind:
    # A stopped or missing job has nothing to update towards.
    return UpdateKind.IGNORE
