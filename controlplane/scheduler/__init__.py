"""Scheduler: a pure function from (state view, evaluation) to a plan.

No I/O, no clocks, no global randomness: the caller passes the time, a seed
and an id factory, so equal inputs give equal plans. Modules, in pipeline
order: reconcile / system (what must change; with buckets, deployments,
reschedule and decisions), candidates (the candidate source, cached per
nodes table), feasible + constraints + properties (which nodes may run a
group), fit (does it fit, which ports), rank (which node is best),
stack (ties them together per placement, with the limit iterator), context
(the plan being built). The plan applier reuses `allocs_fit`.
"""

from __future__ import annotations

from collections.abc import Callable

from controlplane.state.view import StateView
from controlplane.structs import Evaluation, SchedulerResult
from controlplane.structs.consts import JobType

from .context import EvalContext
from .fit import allocs_fit
from .generic import schedule_generic
from .system import schedule_system

__all__ = ["allocs_fit", "schedule"]


def schedule(
    view: StateView,
    ev: Evaluation,
    *,
    now_ns: int,
    seed: int,
    new_id: Callable[[], str],
) -> SchedulerResult:
    """Run the scheduler for `ev` against `view`; dispatches on the eval type."""
    ctx = EvalContext(view, ev, now_ns=now_ns, seed=seed, new_id=new_id)
    if ev.type in (JobType.SYSTEM, JobType.SYSBATCH):
        return schedule_system(ctx)
    if ev.type in (JobType.SERVICE, JobType.BATCH):
        return schedule_generic(ctx)
    raise ValueError(f"scheduler: unsupported evaluation type {ev.type!r}")
