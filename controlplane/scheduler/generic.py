"""Generic scheduler for service and batch jobs: reconcile, then place.

Order matters: stops are recorded first so their resources are free for
placements; in-place updates next; then each placement runs the stack.
A replacement that finds no node leaves the alloc it replaces running
(destructive updates, migrations off a still-draining node); the failed
placement makes the worker block the evaluation until capacity changes.
Produces a plan (with the deployment it creates or cancels), follow-up
evaluations for delayed reschedules and per-group annotations; the plan
applier commits them.
"""

from __future__ import annotations

from controlplane.structs import Allocation, AllocMetric, Job, SchedulerResult, TaskGroup

from .buckets import ALLOC_MIGRATING, ALLOC_RESCHEDULED
from .candidates import CANDIDATES
from .context import EvalContext
from .feasible import in_datacenters, in_pool, job_datacenters
from .quota import QuotaTracker, quota_refusal, reached
from .reconcile import PlaceAlloc, ReconcileResult, UpdateKind, reconcile
from .reschedule import next_tracker, penalty_nodes
from .stack import GenericStack
from .update import tasks_updated


def schedule_generic(ctx: EvalContext) -> SchedulerResult:
    ev = ctx.eval
    job = ctx.view.job_by_id(ev.namespace, ev.job_id)
    allocs = ctx.view.allocs_by_job(ev.namespace, ev.job_id)
    if job is None or job.stop:
        result = reconcile(ctx, None, allocs, _never)
        for stop in result.stop:
            ctx.stop(stop.alloc, stop.description, stop.client_status)
        return SchedulerResult(
            plan=ctx.build_plan(job, deployment_updates=result.deployment_updates),
            desired_tg_updates={g: d.freeze() for g, d in sorted(result.desired.items())},
        )

    ctx.quota = QuotaTracker(ctx.view, job)
    stack = GenericStack(ctx, job, CANDIDATES.candidates(ctx.view, job))

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

    result = reconcile(ctx, job, allocs, update_fn)
    for stop in result.stop:
        ctx.stop(stop.alloc, stop.description, stop.client_status)
    for alloc, tg in result.in_place:
        ctx.update_in_place(alloc, job, result.deployment_ids.get(tg.name, ""))
    for annotated in result.annotated:
        # The failed alloc now names its follow-up evaluation.
        ctx.allocate(annotated)

    failed, queued = _place_all(ctx, job, stack, result)
    return SchedulerResult(
        plan=ctx.build_plan(job, result.deployment, result.deployment_updates),
        failed_tg_allocs=failed,
        queued_allocations=queued,
        desired_tg_updates={g: d.freeze() for g, d in sorted(result.desired.items())},
        followup_evals=result.followup_evals,
        quota_limit_reached=reached(ctx.quota),
    )


def _place_all(
    ctx: EvalContext, job: Job, stack: GenericStack, result: ReconcileResult
) -> tuple[dict[str, AllocMetric], dict[str, int]]:
    """Run the stack for every placement; (failure metrics, unplaced counts) per group."""
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
        metric = _place_one(ctx, job, stack, place, result.deployment_ids.get(group, ""))
        if metric is not None:
            failed[group] = metric
            queued[group] += 1
    return failed, queued


def _place_one(
    ctx: EvalContext, job: Job, stack: GenericStack, place: PlaceAlloc, deployment_id: str
) -> AllocMetric | None:
    """Place one alloc; returns the failure metric when no node takes it."""
    previous = place.previous
    if previous is not None and place.stop_previous:
        # Free the old alloc's resources before searching; backed out below.
        ctx.stop(previous, place.stop_previous)
    rescheduling = place.reschedule and previous is not None
    penalty = penalty_nodes(previous) if rescheduling and previous is not None else frozenset()
    refused = quota_refusal(ctx.quota, place.group, stack.candidates)
    if refused is not None:
        selection, metric = None, refused
    else:
        selection, metric = stack.select(place.group, place.name, penalty)
    if selection is None:
        if previous is not None and place.stop_previous and _keeps_running(ctx, place):
            ctx.unstop(previous)
        return metric
    tracker = None
    if rescheduling and previous is not None:
        policy = place.group.reschedule_policy
        tracker = next_tracker(previous, policy, ctx.now_ns, place.reschedule_delay_ns)
    alloc = ctx.new_alloc(
        job,
        place.group,
        place.name,
        selection.node,
        selection.resources,
        metric,
        previous=previous,
        deployment_id=deployment_id,
        canary=place.canary,
        reschedule_tracker=tracker,
    )
    if previous is not None:
        if rescheduling:
            # Only once the replacement exists: a failed alloc that could not
            # be replaced stays due, and a blocked evaluation retries it.
            ctx.stop(previous, ALLOC_RESCHEDULED)
        ctx.link_next(previous, alloc.id)
    return None


def _keeps_running(ctx: EvalContext, place: PlaceAlloc) -> bool:
    """Whether the alloc a placement replaces keeps running when no node takes it.

    A destructive update waits for room. A migration off a draining node
    waits too (its replacement is blocked) until the drain's deadline ends
    the drain; a migration requested any other way (drain over, alloc stop)
    stops the alloc as Nomad does, replacement or not.
    """
    if place.stop_previous != ALLOC_MIGRATING or place.previous is None:
        return True
    node = ctx.node(place.previous.node_id)
    return node is not None and node.drain


def _never(alloc: Allocation, job: Job, tg: TaskGroup) -> UpdateKind:
    # A stopped or missing job has nothing to update towards.
    return UpdateKind.IGNORE
