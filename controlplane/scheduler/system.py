"""System scheduler for system and sysbatch jobs: one alloc per feasible node.

There is no choice among nodes: every ready, eligible node in the job's
datacenters and pool that passes feasibility gets `job.group[0]`, provided
it fits (a node where it does not fit is reported as exhausted and queued).
Per existing alloc:

    node down / gone                    -> stop, client "lost" (no replacement)
    DesiredTransition.Migrate (drainer)  -> stop (node tainted), not replaced
    node left the job's DCs / pool, or
    no longer satisfies constraints     -> stop
    node draining, ineligible or        -> left alone (no new work goes there;
    initializing                           the drainer decides when it stops)
    older job version                   -> in-place, or destructive (replace on
                                           the same node, then stop)

A client-terminal alloc of the current job version (a finished sysbatch run,
a failed system alloc) marks its node as done until the job changes.
"""

from __future__ import annotations

from controlplane.structs import (
    Allocation,
    AllocMetric,
    DesiredUpdates,
    Job,
    Node,
    Plan,
    SchedulerResult,
    TaskGroup,
)
from controlplane.structs.consts import AllocClientStatus, AllocDesiredStatus

from .buckets import (
    ALLOC_LOST,
    ALLOC_NODE_TAINTED,
    ALLOC_NOT_NEEDED,
    ALLOC_UPDATING,
    needs_update,
)
from .candidates import CANDIDATES
from .context import EvalContext
from .decisions import GroupUpdates
from .feasible import (
    Candidates,
    GroupFeasibility,
    in_datacenters,
    in_pool,
    job_datacenters,
    node_ready,
    node_tainted,
)
from .fit import fit_group
from .metrics import MetricRecorder
from .names import alloc_name
from .quota import QuotaTracker, quota_refusal, reached
from .update import tasks_updated


def schedule_system(ctx: EvalContext) -> SchedulerResult:
    ev = ctx.eval
    job = ctx.view.job_by_id(ev.namespace, ev.job_id)
    allocs = sorted(ctx.view.allocs_by_job(ev.namespace, ev.job_id), key=lambda a: a.id)
    if job is None or job.stop:
        for alloc in allocs:
            if not alloc.terminal():
                ctx.stop(alloc, ALLOC_NOT_NEEDED)
        return SchedulerResult(plan=ctx.build_plan(job))

    ctx.quota = QuotaTracker(ctx.view, job)
    groups = {tg.name for tg in job.task_groups}
    for alloc in allocs:
        if alloc.task_group not in groups and not alloc.terminal():
            ctx.stop(alloc, ALLOC_NOT_NEEDED)

    candidates = CANDIDATES.candidates(ctx.view, job)
    failed: dict[str, AllocMetric] = {}
    queued: dict[str, int] = {}
    for tg in job.task_groups:
        group_allocs = [a for a in allocs if a.task_group == tg.name]
        metric, unplaced = _schedule_group(ctx, job, tg, group_allocs, candidates)
        queued[tg.name] = unplaced
        if metric is not None:
            failed[tg.name] = metric
    plan = ctx.build_plan(job)
    return SchedulerResult(
        plan=plan,
        failed_tg_allocs=failed,
        queued_allocations=queued,
        desired_tg_updates=_annotate(plan, allocs),
        quota_limit_reached=reached(ctx.quota),
    )


def _annotate(plan: Plan, allocs: list[Allocation]) -> dict[str, DesiredUpdates]:
    """Per-group counts for `job plan`, read back from the finished plan."""
    counts: dict[str, GroupUpdates] = {}
    existing = {a.id for a in allocs}
    touched: set[str] = set()
    updating: set[str] = set()  # replaced destructively: counted once, as an update
    for stops in plan.node_update.values():
        for a in stops:
            touched.add(a.id)
            c = counts.setdefault(a.task_group, GroupUpdates())
            if a.desired_description == ALLOC_UPDATING:
                updating.add(a.id)
                c.destructive_update += 1
            else:
                c.stop += 1
    for placed in plan.node_allocation.values():
        for a in placed:
            touched.add(a.id)
            c = counts.setdefault(a.task_group, GroupUpdates())
            if a.id in existing:
                c.in_place_update += 1
            elif a.previous_allocation not in updating:
                c.place += 1
    for a in allocs:
        if a.id not in touched and not a.terminal():
            counts.setdefault(a.task_group, GroupUpdates()).ignore += 1
    return {g: c.freeze() for g, c in sorted(counts.items())}


def _schedule_group(
    ctx: EvalContext,
    job: Job,
    tg: TaskGroup,
    allocs: list[Allocation],
    candidates: Candidates,
) -> tuple[AllocMetric | None, int]:
    """Reconcile and place one group; returns (failure metric, unplaced count)."""
    checker = GroupFeasibility(job, tg)
    patterns = job_datacenters(job)
    done: set[str] = set()  # nodes where the current version already finished
    live: set[str] = set()  # nodes with a running copy kept by this plan
    replace: dict[str, Allocation] = {}  # node id -> alloc to replace destructively

    for alloc in allocs:
        if alloc.desired_status != AllocDesiredStatus.RUN:
            continue
        if alloc.client_terminal():
            # Done on this node until the job changes; a lost one is replaced.
            if alloc.client_status != AllocClientStatus.LOST and not needs_update(alloc, job):
                done.add(alloc.node_id)
            continue
        node = ctx.node(alloc.node_id)
        if node is None or node_tainted(node):
            ctx.stop(alloc, ALLOC_LOST, AllocClientStatus.LOST.value)
            continue
        if alloc.desired_transition.migrate:
            # The drainer asked (system allocs go last, never with
            # IgnoreSystemJobs): stopped, not replaced.
            ctx.stop(alloc, ALLOC_NODE_TAINTED)
            continue
        if alloc.node_id in live:
            # A second live copy on one node (e.g. a raced plan): keep one.
            ctx.stop(alloc, ALLOC_NOT_NEEDED)
            continue
        if (
            not in_datacenters(node, patterns)
            or not in_pool(node, job.node_pool)
            or checker.static_reason(node)
        ):
            ctx.stop(alloc, ALLOC_NOT_NEEDED)
            continue
        live.add(alloc.node_id)
        if not needs_update(alloc, job):
            continue
        old_job = alloc.job
        old_tg = old_job.group(tg.name) if old_job is not None else None
        if (
            old_job is not None
            and old_tg is not None
            and not tasks_updated(old_job, old_tg, job, tg)
        ):
            ctx.update_in_place(alloc, job)
        elif node_ready(node):
            replace[node.id] = alloc
        # A destructive change on an ineligible node waits until it is eligible.

    failure: AllocMetric | None = None
    unplaced = 0
    covered = done | live
    for node in candidates.nodes:
        previous = replace.get(node.id)
        if node.id in covered and previous is None:
            continue
        if previous is None and checker.static_reason(node):
            # Infeasible nodes are simply not part of a system job's footprint.
            continue
        metric, placed = _place_on(ctx, job, tg, node, candidates, previous)
        if not placed:
            unplaced += 1
            if failure is None:
                failure = metric
            else:
                failure = failure.replace(coalesced_failures=failure.coalesced_failures + 1)
    return failure, unplaced


def _place_on(
    ctx: EvalContext,
    job: Job,
    tg: TaskGroup,
    node: Node,
    candidates: Candidates,
    previous: Allocation | None,
) -> tuple[AllocMetric, bool]:
    recorder = MetricRecorder(candidates.available, candidates.in_pool)
    recorder.evaluate()
    name = alloc_name(job.id, tg.name, 0)
    if previous is not None:
        # Free the old copy first; put it back if the new one does not fit.
        ctx.stop(previous, ALLOC_UPDATING)
    refused = quota_refusal(ctx.quota, tg, candidates)
    if refused is not None:
        if previous is not None:
            ctx.unstop(previous)
        return refused, False
    fit = fit_group(node, ctx.proposed(node.id), tg, ctx.port_rng(node.id, name))
    if isinstance(fit, str):
        if previous is not None:
            ctx.unstop(previous)
        recorder.exhaust(node, fit)
        return recorder.freeze(), False
    metric = recorder.freeze()
    ctx.new_alloc(job, tg, name, node, fit[1], metric, previous=previous)
    return metric, True
