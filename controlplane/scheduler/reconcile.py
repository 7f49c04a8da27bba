"""Generic reconciler: compares a service/batch job with its allocations and
decides, per task group, what to stop, place, update in place, replace
destructively or place as a canary, and which deployment the work joins.

It never picks nodes (the stack does) and never checks fit except through
the `update_fn` it is handed. Buckets are in buckets.py. Per group:

  1. Canaries of the current deployment are held aside while unpromoted
     (they neither count toward `count` nor get updated); canaries of an
     older or failed deployment that were never promoted are stopped.
  2. The lowest `count` distinct name indexes are kept (a current-version
     alloc beats an old one sharing its name); the rest are excess and
     stopped (count down stops the highest first). Missing indexes are
     placed, lowest first.
  3. Kept live allocs of an older version are updated in place or
     destructively (update_fn decides).
  4. Service groups with an update strategy (max_parallel > 0) deploy: a
     deployment is created for the version's first placement or spec
     update. While canarying (canary > 0, destructive change, unpromoted)
     only canaries, lost and failed replacements are placed. Otherwise
     destructive updates are limited to max_parallel minus the deployment's
     not-yet-healthy allocs (and minus this plan's placements); 0 when one
     is unhealthy or the deployment is paused or failed. In-place updates,
     migrations and lost replacements are never limited.
  5. Failed allocs due for rescheduling are replaced now; the others get a
     batched follow-up evaluation with WaitUntil.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from controlplane.structs import Allocation, Job, TaskGroup
from controlplane.structs.consts import AllocClientStatus

from .buckets import (
    ALLOC_LOST,
    ALLOC_MIGRATING,
    ALLOC_NOT_NEEDED,
    ALLOC_UPDATING,
    CLIENT_TERMINAL,
    Bucket,
    Classifier,
    Slot,
    needs_update,
)
from .decisions import (
    GroupUpdates,
    PlaceAlloc,
    ReconcileResult,
    StopAlloc,
    UpdateFn,
    UpdateKind,
)
from .deployments import Deployments, cancel_for_stopped_job, is_canary, rolling_limit
from .deployments import update_strategy as group_strategy
from .names import alloc_name, lowest_free, name_index
from .reschedule import followup_evals

if TYPE_CHECKING:
    from .context import EvalContext

__all__ = ["GroupUpdates", "PlaceAlloc", "ReconcileResult", "StopAlloc", "UpdateKind", "reconcile"]


def reconcile(
    ctx: EvalContext, job: Job | None, allocs: Iterable[Allocation], update_fn: UpdateFn
) -> ReconcileResult:
    result = ReconcileResult()
    ev = ctx.eval
    allocs = sorted(allocs, key=lambda a: (a.task_group, name_index(a.name), a.id))
    latest = ctx.view.latest_deployment(ev.namespace, ev.job_id)
    if job is None or job.stop:
        for alloc in allocs:
            if not alloc.terminal():
                result.stop.append(StopAlloc(alloc, ALLOC_NOT_NEEDED))
                result.updates_for(alloc.task_group).stop += 1
        result.deployment_updates = cancel_for_stopped_job(latest)
        return result

    deps = Deployments.resolve(job, latest)
    groups = {tg.name: tg for tg in job.task_groups}
    by_group: dict[str, list[Allocation]] = {}
    for alloc in allocs:
        if alloc.task_group in groups:
            by_group.setdefault(alloc.task_group, []).append(alloc)
        elif not alloc.terminal():
            # The group was removed from the job.
            result.stop.append(StopAlloc(alloc, ALLOC_NOT_NEEDED))
            result.updates_for(alloc.task_group).stop += 1

    classifier = Classifier(
        job=job,
        now_ns=ctx.now_ns,
        eval_id=ev.id,
        node_of=ctx.node,
        eval_of=ctx.view.eval_by_id,
        replaced=frozenset(a.previous_allocation for a in allocs if a.previous_allocation),
    )
    for tg in job.task_groups:
        _Group(ctx, job, tg, by_group.get(tg.name, []), deps, classifier, update_fn, result).run()
    result.deployment = deps.created
    result.deployment_updates = deps.updates
    result.deployment_ids = {tg.name: deps.id_for(tg.name) for tg in job.task_groups}
    return result


class _Group:
    """Reconciles one task group; see the module docstring for the steps."""

    def __init__(
        self,
        ctx: EvalContext,
        job: Job,
        tg: TaskGroup,
        allocs: list[Allocation],
        deps: Deployments,
        classifier: Classifier,
        update_fn: UpdateFn,
        result: ReconcileResult,
    ) -> None:
        self.ctx = ctx
        self.job = job
        self.tg = tg
        self.allocs = allocs
        self.deps = deps
        self.classifier = classifier
        self.update_fn = update_fn
        self.result = result
        self.desired = result.updates_for(tg.name)
        self.later: list[tuple[Allocation, int]] = []

    def run(self) -> None:
        tg = self.tg
        canaries, regular = self._split_canaries()
        kept, used = self._keep(regular)
        destructive: list[Allocation] = []
        in_place: list[Allocation] = []
        replacements: list[PlaceAlloc] = []  # lost and failed allocs
        migrations: list[PlaceAlloc] = []
        for slot in kept:
            self._classify(slot, destructive, in_place, replacements, migrations)
        missing = [
            PlaceAlloc(tg, alloc_name(self.job.id, tg.name, i))
            for i in lowest_free(used, tg.count - len(kept))
        ]

        strategy = group_strategy(self.job, tg)
        state = self.deps.group_state(tg.name)
        if strategy is not None and state is None and self.deps.current is None:
            first = not any(not needs_update(a, self.job) for a in self.allocs)
            if tg.count > 0 and (first or destructive or in_place):
                wants_canaries = strategy.canary if destructive else 0
                state = self.deps.add_group(
                    tg,
                    strategy,
                    wants_canaries,
                    now_ns=self.ctx.now_ns,
                    new_id=self.ctx.new_id,
                    priority=self.ctx.eval.priority,
                )
        canarying = state is not None and state.desired_canaries > 0 and not state.promoted
        halted = self.deps.paused or self.deps.failed

        if canarying and destructive and not halted and state is not None:
            wanted = state.desired_canaries - len(canaries)
            self._place_canaries(wanted, canaries, destructive, used)

        if strategy is None or not destructive:
            limit = len(destructive)
        elif halted or canarying:
            limit = 0
        else:
            current = self.deps.current
            members = [
                s.alloc
                for s in kept
                if current is not None
                and s.alloc.deployment_id == current.id
                and s.bucket in (Bucket.LIVE, Bucket.DONE, Bucket.WAITING, Bucket.LATER)
            ]
            limit = rolling_limit(strategy.max_parallel, members)

        if not halted and not canarying:
            for place in [*missing, *replacements]:
                self._place(place)
            if strategy is not None:
                # New placements of a deploying group use up the same budget.
                limit -= min(len(missing) + len(replacements), limit)
        else:
            # Lost and failed allocs are replaced whatever the deployment
            # does, except failures of the very deployment that failed.
            failed_id = self.deps.current.id if self.deps.failed and self.deps.current else None
            for place in replacements:
                prev = place.previous
                if not (place.reschedule and prev is not None and prev.deployment_id == failed_id):
                    self._place(place)
        for place in migrations:
            self.result.place.append(place)
            self.desired.migrate += 1

        allowed = min(len(destructive), limit) if not halted and not canarying else 0
        for alloc in destructive[:allowed]:
            self.result.place.append(
                PlaceAlloc(tg, alloc.name, previous=alloc, stop_previous=ALLOC_UPDATING)
            )
        self.desired.destructive_update += allowed
        self.desired.ignore += len(destructive) - allowed
        for alloc in in_place:
            self.result.in_place.append((alloc, tg))
        self.desired.in_place_update += len(in_place)

        if self.later:
            evals, annotated = followup_evals(
                self.later, self.job, self.ctx.eval, self.ctx.now_ns, self.ctx.new_id
            )
            self.result.followup_evals.extend(evals)
            self.result.annotated.extend(annotated)

    # -- steps -----------------------------------------------------------

    def _split_canaries(self) -> tuple[list[Allocation], list[Allocation]]:
        """(held canaries of the current deployment, everything else)."""
        current = self.deps.current
        state = self.deps.group_state(self.tg.name)
        held: list[Allocation] = []
        regular: list[Allocation] = []
        for alloc in self.allocs:
            if not is_canary(alloc):
                regular.append(alloc)
                continue
            if current is not None and alloc.deployment_id == current.id:
                promoted = state is not None and state.promoted
                if promoted:
                    regular.append(alloc)
                elif self.deps.failed:
                    self._stop_unpromoted_canary(alloc)
                else:
                    self._hold_canary(alloc, held)
                continue
            old = self.ctx.view.deployment_by_id(alloc.deployment_id)
            old_state = old.task_groups.get(self.tg.name) if old is not None else None
            if old_state is not None and old_state.promoted:
                regular.append(alloc)
            else:
                self._stop_unpromoted_canary(alloc)
        return held, regular

    def _stop_unpromoted_canary(self, alloc: Allocation) -> None:
        if not alloc.terminal():
            self.result.stop.append(StopAlloc(alloc, ALLOC_NOT_NEEDED))
            self.desired.stop += 1

    def _hold_canary(self, alloc: Allocation, held: list[Allocation]) -> None:
        """Keep a canary of the running deployment; replace it if lost or failed."""
        slot = self.classifier.slot(alloc, self.tg)
        if slot is None:
            return
        held.append(alloc)
        match slot.bucket:
            case Bucket.LOST:
                self._stop_lost(alloc)
                self._place(PlaceAlloc(self.tg, alloc.name, previous=alloc, canary=True))
            case Bucket.RESCHEDULE:
                self._place(self._reschedule(slot, canary=True))
            case Bucket.MIGRATE:
                migrate = PlaceAlloc(
                    self.tg, alloc.name, previous=alloc, stop_previous=ALLOC_MIGRATING, canary=True
                )
                self.result.place.append(migrate)
                self.desired.migrate += 1
            case Bucket.LATER:
                self.later.append((alloc, slot.reschedule.at_ns))
                self.desired.ignore += 1
            case _:
                self.desired.ignore += 1

    def _keep(self, allocs: list[Allocation]) -> tuple[list[Slot], set[int]]:
        slots = [s for a in allocs if (s := self.classifier.slot(a, self.tg)) is not None]
        slots.sort(key=Slot.key)
        kept: list[Slot] = []
        used: set[int] = set()
        for slot in slots:
            if len(kept) < self.tg.count and slot.index not in used:
                kept.append(slot)
                used.add(slot.index)
            elif slot.bucket is Bucket.LOST:
                self._stop_lost(slot.alloc)
            elif slot.bucket not in CLIENT_TERMINAL:
                self.result.stop.append(StopAlloc(slot.alloc, ALLOC_NOT_NEEDED))
                self.desired.stop += 1
        return kept, used

    def _classify(
        self,
        slot: Slot,
        destructive: list[Allocation],
        in_place: list[Allocation],
        replacements: list[PlaceAlloc],
        migrations: list[PlaceAlloc],
    ) -> None:
        alloc, tg = slot.alloc, self.tg
        match slot.bucket:
            case Bucket.LIVE:
                kind = self.update_fn(alloc, self.job, tg) if slot.stale else UpdateKind.IGNORE
                if kind is UpdateKind.IN_PLACE:
                    in_place.append(alloc)
                elif kind is UpdateKind.DESTRUCTIVE:
                    destructive.append(alloc)
                else:
                    self.desired.ignore += 1
            case Bucket.LOST:
                self._stop_lost(alloc)
                replacements.append(PlaceAlloc(tg, alloc.name, previous=alloc))
            case Bucket.MIGRATE:
                migrations.append(
                    PlaceAlloc(tg, alloc.name, previous=alloc, stop_previous=ALLOC_MIGRATING)
                )
            case Bucket.RESCHEDULE:
                replacements.append(self._reschedule(slot))
            case Bucket.LATER:
                self.later.append((alloc, slot.reschedule.at_ns))
                self.desired.ignore += 1
            case _:
                self.desired.ignore += 1

    def _reschedule(self, slot: Slot, canary: bool = False) -> PlaceAlloc:
        return PlaceAlloc(
            self.tg,
            slot.alloc.name,
            previous=slot.alloc,
            reschedule=True,
            reschedule_delay_ns=slot.reschedule.delay_ns,
            canary=canary,
        )

    def _stop_lost(self, alloc: Allocation) -> None:
        self.result.stop.append(StopAlloc(alloc, ALLOC_LOST, AllocClientStatus.LOST.value))
        self.desired.stop += 1

    def _place(self, place: PlaceAlloc) -> None:
        self.result.place.append(place)
        self.desired.place += 1

    def _place_canaries(
        self, n: int, canaries: list[Allocation], destructive: list[Allocation], used: set[int]
    ) -> None:
        """Place `n` canaries, named after the allocs they will replace."""
        if n <= 0:
            return
        taken = {a.name for a in canaries}
        names = [a.name for a in destructive if a.name not in taken][:n]
        indexes = used | {name_index(a.name) for a in canaries}
        for i in lowest_free(indexes, n - len(names)):
            names.append(alloc_name(self.job.id, self.tg.name, i))
        for name in names:
            self.result.place.append(PlaceAlloc(self.tg, name, canary=True))
        self.desired.canary += len(names)
