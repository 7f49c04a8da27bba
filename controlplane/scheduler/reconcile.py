"""Generic reconciler: compares a service/batch job with its allocations and
decides, per task group, what to stop, what to place and what to update.

It never picks nodes (the stack does) and never checks fit except through
the `update_fn` it is handed. Buckets, per group, for allocs that want to run:

    live        on a healthy node           -> kept, maybe updated (in place,
                                               or destructive: replace + stop)
    lost        node down / gone             -> stop (client "lost") + replace
    migrate     DesiredTransition.Migrate    -> replace + stop
    reschedule  failed, policy allows        -> replace (penalise old node)
    done        batch complete, or failed    -> kept: holds its name, no work
                and not reschedulable

Allocs already stopped, service allocs that completed and failed allocs that
already have a successor free their name. The lowest `count` distinct
indexes are kept; the rest are excess (count down stops highest first), and
missing indexes are filled lowest first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum

from controlplane.structs import Allocation, Job, Node, TaskGroup
from controlplane.structs.consts import AllocClientStatus, AllocDesiredStatus, JobType

from .feasible import node_tainted
from .names import alloc_name, lowest_free, name_index

ALLOC_NOT_NEEDED = "alloc not needed due to job update"
ALLOC_UPDATING = "alloc is being updated due to job update"
ALLOC_MIGRATING = "alloc is being migrated"
ALLOC_LOST = "alloc is lost since its node is down"
ALLOC_NODE_TAINTED = "alloc not needed as node is tainted"
ALLOC_RESCHEDULED = "alloc was rescheduled because it failed"
ALLOC_IN_PLACE = "alloc updating in-place"


class UpdateKind(Enum):
    IGNORE = "ignore"
    IN_PLACE = "in-place"
    DESTRUCTIVE = "destructive"


# (existing alloc, new job, new group) -> how to bring the alloc up to date.
UpdateFn = Callable[[Allocation, Job, TaskGroup], UpdateKind]


@dataclass(frozen=True)
class StopAlloc:
    alloc: Allocation
    description: str
    client_status: str = ""


@dataclass(frozen=True)
class PlaceAlloc:
    group: TaskGroup
    name: str
    previous: Allocation | None = None
    # A failed predecessor: its node gets a score penalty.
    reschedule: bool = False
    # Stop `previous` with this description, but only if the replacement is
    # placed (destructive updates and migrations never leave a hole).
    stop_previous: str = ""


@dataclass
class DesiredUpdates:
    """Per-group counts, as Nomad's plan annotations report them."""

    ignore: int = 0
    place: int = 0
    migrate: int = 0
    stop: int = 0
    in_place_update: int = 0
    destructive_update: int = 0


@dataclass
class ReconcileResult:
    stop: list[StopAlloc] = field(default_factory=list)
    place: list[PlaceAlloc] = field(default_factory=list)
    in_place: list[tuple[Allocation, TaskGroup]] = field(default_factory=list)
    desired: dict[str, DesiredUpdates] = field(default_factory=dict)


class _Bucket(Enum):
    # Value is the keep priority when two allocs share a name: live wins.
    LIVE = 0
    DONE = 1
    MIGRATE = 2
    RESCHEDULE = 3
    LOST = 4


@dataclass(frozen=True)
class _Slot:
    index: int
    bucket: _Bucket
    alloc: Allocation

    def key(self) -> tuple[int, int, int, str]:
        return (self.index, self.bucket.value, self.alloc.create_index, self.alloc.id)


def needs_update(alloc: Allocation, job: Job) -> bool:
    """Was `alloc` placed from an older version of `job`?"""
    old = alloc.job
    if old is None:
        return False
    return old.job_modify_index != job.job_modify_index or old.version != job.version


def reconcile(
    job: Job | None,
    allocs: Iterable[Allocation],
    *,
    node_of: Callable[[str], Node | None],
    update_fn: UpdateFn,
    now_ns: int,
) -> ReconcileResult:
    result = ReconcileResult()
    allocs = sorted(allocs, key=lambda a: (a.task_group, name_index(a.name), a.id))
    if job is None or job.stop:
        for alloc in allocs:
            if not alloc.terminal():
                result.stop.append(StopAlloc(alloc, ALLOC_NOT_NEEDED))
                result.desired.setdefault(alloc.task_group, DesiredUpdates()).stop += 1
        return result

    groups = {tg.name: tg for tg in job.task_groups}
    by_id = {a.id: a for a in allocs}
    successors = {a.previous_allocation for a in allocs if a.previous_allocation}
    by_group: dict[str, list[Allocation]] = {}
    for alloc in allocs:
        if alloc.task_group in groups:
            by_group.setdefault(alloc.task_group, []).append(alloc)
        elif not alloc.terminal():
            # The group was removed from the job.
            result.stop.append(StopAlloc(alloc, ALLOC_NOT_NEEDED))
            result.desired.setdefault(alloc.task_group, DesiredUpdates()).stop += 1

    batch = job.type == JobType.BATCH
    for tg in job.task_groups:
        desired = result.desired.setdefault(tg.name, DesiredUpdates())
        slots = [
            s
            for a in by_group.get(tg.name, [])
            if (s := _slot(a, tg, batch, node_of, by_id, successors, now_ns)) is not None
        ]
        slots.sort(key=_Slot.key)
        kept: list[_Slot] = []
        used: set[int] = set()
        for slot in slots:
            if len(kept) < tg.count and slot.index not in used:
                kept.append(slot)
                used.add(slot.index)
            else:
                _drop_excess(slot, result, desired)
        for slot in kept:
            _keep(slot, job, tg, update_fn, result, desired)
        for index in lowest_free(used, tg.count - len(kept)):
            result.place.append(PlaceAlloc(tg, alloc_name(job.id, tg.name, index)))
            desired.place += 1
    return result


def _slot(
    alloc: Allocation,
    tg: TaskGroup,
    batch: bool,
    node_of: Callable[[str], Node | None],
    by_id: dict[str, Allocation],
    successors: set[str],
    now_ns: int,
) -> _Slot | None:
    """Which bucket `alloc` falls in, or None when it frees its name."""
    if alloc.desired_status != AllocDesiredStatus.RUN:
        return None
    index = name_index(alloc.name)
    match alloc.client_status:
        case AllocClientStatus.COMPLETE:
            # Batch work that finished is done for good; a service must keep running.
            return _Slot(index, _Bucket.DONE, alloc) if batch else None
        case AllocClientStatus.FAILED:
            if alloc.id in successors or alloc.next_allocation:
                return None
            if reschedulable(alloc, tg, by_id, now_ns):
                return _Slot(index, _Bucket.RESCHEDULE, alloc)
            return _Slot(index, _Bucket.DONE, alloc)
        case AllocClientStatus.LOST:
            return None
    if node_tainted(node_of(alloc.node_id)):
        return _Slot(index, _Bucket.LOST, alloc)
    if alloc.desired_transition.migrate:
        return _Slot(index, _Bucket.MIGRATE, alloc)
    return _Slot(index, _Bucket.LIVE, alloc)


def _drop_excess(slot: _Slot, result: ReconcileResult, desired: DesiredUpdates) -> None:
    match slot.bucket:
        case _Bucket.LIVE | _Bucket.MIGRATE:
            result.stop.append(StopAlloc(slot.alloc, ALLOC_NOT_NEEDED))
            desired.stop += 1
        case _Bucket.LOST:
            result.stop.append(StopAlloc(slot.alloc, ALLOC_LOST, AllocClientStatus.LOST.value))
            desired.stop += 1
        case _:
            # Already terminal on the client: nothing to stop, nothing to replace.
            pass


def _keep(
    slot: _Slot,
    job: Job,
    tg: TaskGroup,
    update_fn: UpdateFn,
    result: ReconcileResult,
    desired: DesiredUpdates,
) -> None:
    alloc = slot.alloc
    match slot.bucket:
        case _Bucket.LIVE:
            kind = update_fn(alloc, job, tg) if needs_update(alloc, job) else UpdateKind.IGNORE
            if kind is UpdateKind.IN_PLACE:
                result.in_place.append((alloc, tg))
                desired.in_place_update += 1
            elif kind is UpdateKind.DESTRUCTIVE:
                result.place.append(
                    PlaceAlloc(tg, alloc.name, previous=alloc, stop_previous=ALLOC_UPDATING)
                )
                desired.destructive_update += 1
            else:
                desired.ignore += 1
        case _Bucket.LOST:
            result.stop.append(StopAlloc(alloc, ALLOC_LOST, AllocClientStatus.LOST.value))
            result.place.append(PlaceAlloc(tg, alloc.name, previous=alloc))
            desired.stop += 1
            desired.place += 1
        case _Bucket.MIGRATE:
            result.place.append(
                PlaceAlloc(tg, alloc.name, previous=alloc, stop_previous=ALLOC_MIGRATING)
            )
            desired.migrate += 1
        case _Bucket.RESCHEDULE:
            result.place.append(PlaceAlloc(tg, alloc.name, previous=alloc, reschedule=True))
            desired.place += 1
        case _Bucket.DONE:
            desired.ignore += 1


def reschedulable(
    alloc: Allocation, tg: TaskGroup, by_id: dict[str, Allocation], now_ns: int
) -> bool:
    """May this failed alloc be replaced under the group's reschedule policy?

    Earlier reschedules are counted by walking PreviousAllocation links to
    failed predecessors, each dated by its successor's CreateTime.
    """
    policy = tg.reschedule_policy
    if policy is None:
        return False
    if policy.unlimited:
        return True
    if policy.attempts <= 0:
        return False
    window_start = now_ns - policy.interval if policy.interval > 0 else None
    used = 0
    current, seen = alloc, {alloc.id}
    while (prev := by_id.get(current.previous_allocation)) is not None and prev.id not in seen:
        seen.add(prev.id)
        in_window = window_start is None or current.create_time >= window_start
        if prev.client_status == AllocClientStatus.FAILED and in_window:
            used += 1
        current = prev
    return used < policy.attempts
