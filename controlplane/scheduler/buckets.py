"""Allocation buckets: how the reconciler sees each existing allocation.

Classification only; what to do with each bucket is reconcile.py's job.
An alloc that wants to run lands in exactly one bucket:

    LIVE        on a healthy node            -> kept, maybe updated
    DONE        batch complete, or failed     -> kept: holds its name, no work
                and not reschedulable
    WAITING     failed, a follow-up eval for  -> kept: holds its name until the
                its delayed reschedule exists    follow-up evaluation runs
    LATER       failed, reschedule not due    -> kept; a follow-up eval is created
    MIGRATE     DesiredTransition.Migrate     -> replace, then stop
    RESCHEDULE  failed, reschedule due now    -> replace (old node penalised)
    LOST        node down / gone              -> stop (client "lost") + replace

Allocs already stopped, service allocs that completed, lost allocs and
failed allocs that already have a successor free their name (no bucket).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from controlplane.structs import Allocation, Evaluation, Job, Node, TaskGroup
from controlplane.structs.consts import AllocClientStatus, AllocDesiredStatus

from .feasible import node_tainted
from .names import name_index
from .reschedule import NOT_ELIGIBLE, RescheduleDecision, followup_pending, reschedule_decision

ALLOC_NOT_NEEDED = "alloc not needed due to job update"
ALLOC_UPDATING = "alloc is being updated due to job update"
ALLOC_MIGRATING = "alloc is being migrated"
ALLOC_LOST = "alloc is lost since its node is down"
ALLOC_NODE_TAINTED = "alloc not needed as node is tainted"
ALLOC_RESCHEDULED = "alloc was rescheduled because it failed"
ALLOC_IN_PLACE = "alloc updating in-place"


class Bucket(Enum):
    # Value is the keep priority when two allocs share a name: live wins.
    LIVE = 0
    DONE = 1
    WAITING = 2
    LATER = 3
    MIGRATE = 4
    RESCHEDULE = 5
    LOST = 6


# Buckets whose alloc already stopped on the client: excess ones need no stop.
CLIENT_TERMINAL = frozenset({Bucket.DONE, Bucket.WAITING, Bucket.LATER, Bucket.RESCHEDULE})


@dataclass(frozen=True)
class Slot:
    index: int
    bucket: Bucket
    alloc: Allocation
    # From an older job version: loses a shared name to a current one (a
    # promoted canary displaces the old alloc it was named after).
    stale: bool
    reschedule: RescheduleDecision = NOT_ELIGIBLE

    def key(self) -> tuple[int, int, bool, int, str]:
        return (self.index, self.bucket.value, self.stale, self.alloc.create_index, self.alloc.id)


def needs_update(alloc: Allocation, job: Job) -> bool:
    """Was `alloc` placed from an older version of `job`?"""
    old = alloc.job
    if old is None:
        return False
    return old.job_modify_index != job.job_modify_index or old.version != job.version


@dataclass(frozen=True)
class Classifier:
    """What the buckets depend on besides the alloc: the job, clock and lookups."""

    job: Job
    now_ns: int
    eval_id: str
    node_of: Callable[[str], Node | None]
    eval_of: Callable[[str], Evaluation | None]
    # ids of allocs that some other alloc names as its PreviousAllocation
    replaced: frozenset[str]

    def slot(self, alloc: Allocation, tg: TaskGroup) -> Slot | None:
        """The bucket of `alloc`, or None when it frees its name."""
        if alloc.desired_status != AllocDesiredStatus.RUN:
            return None
        index = name_index(alloc.name)
        stale = needs_update(alloc, self.job)
        match alloc.client_status:
            case AllocClientStatus.COMPLETE:
                # Batch work that finished is done for good; a service must keep running.
                batch = self.job.type == "batch"
                return Slot(index, Bucket.DONE, alloc, stale) if batch else None
            case AllocClientStatus.FAILED:
                return self._failed(alloc, tg, index, stale)
            case AllocClientStatus.LOST:
                return None
        if node_tainted(self.node_of(alloc.node_id)):
            return Slot(index, Bucket.LOST, alloc, stale)
        if alloc.desired_transition.migrate:
            return Slot(index, Bucket.MIGRATE, alloc, stale)
        return Slot(index, Bucket.LIVE, alloc, stale)

    def _failed(self, alloc: Allocation, tg: TaskGroup, index: int, stale: bool) -> Slot | None:
        if alloc.id in self.replaced:
            return None
        decision = reschedule_decision(alloc, tg.reschedule_policy, self.now_ns, self.eval_id)
        if not decision.eligible:
            return Slot(index, Bucket.DONE, alloc, stale)
        if decision.now:
            return Slot(index, Bucket.RESCHEDULE, alloc, stale, decision)
        if alloc.followup_eval_id and followup_pending(self.eval_of(alloc.followup_eval_id)):
            # One follow-up per failure: the pending one will place it.
            return Slot(index, Bucket.WAITING, alloc, stale, decision)
        return Slot(index, Bucket.LATER, alloc, stale, decision)
