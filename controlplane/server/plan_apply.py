"""Serial plan applier: re-checks plans against the newest state and commits them.

Optimistic concurrency (API.md §4.6): the scheduler planned on a snapshot;
before committing, every node receiving placements must still exist, be
ready, and fit the new set of allocations. Nodes that fail are dropped from
the plan (partial commit) unless the job is all-at-once; the scheduler then
refreshes and retries the remainder. Never schedules.
"""

from __future__ import annotations

import threading

from controlplane.raft.messages import MsgType, PlanApply
from controlplane.raft.node import RaftNode
from controlplane.scheduler import allocs_fit
from controlplane.state import StateStore
from controlplane.state.quota_usage import (
    ZERO,
    alloc_amounts,
    enforced,
    exhausted,
    namespace_quota,
    quota_usage,
)
from controlplane.state.reads import Reads
from controlplane.state.view import StateView
from controlplane.structs import Allocation, Evaluation, Job, Plan, PlanResult


class PlanApplier:
    def __init__(self, raft: RaftNode, store: StateStore) -> None:
        self._raft = raft
        self._store = store
        self._lock = threading.Lock()

    def apply(
        self,
        plan: Plan,
        evals_if_complete: list[Evaluation],
        followups: list[Evaluation] | None = None,
    ) -> PlanResult:
        """Commit what still fits; include `evals_if_complete` when nothing was dropped.

        `followups` (delayed reschedules) are always written: the allocs that
        name them as FollowupEvalID are committed with them.
        """
        with self._lock:
            accepted, rejected = self._check(plan)
            if rejected and plan.all_at_once:
                accepted = {}
            allocs: list[Allocation] = [a for stops in plan.node_update.values() for a in stops]
            for placed in accepted.values():
                allocs.extend(placed)
            evals = list(followups or [])
            if not rejected:
                evals += evals_if_complete
            nothing = not allocs and plan.deployment is None and not plan.deployment_updates
            if nothing and not evals:
                return PlanResult(rejected_nodes=rejected, refresh_index=self._store.index)
            job, allocs = _share_job(allocs)
            msg = PlanApply(
                allocs=allocs,
                evals=evals,
                deployment=plan.deployment,
                deployment_updates=plan.deployment_updates,
                job=job,
            )
            result = self._raft.submit(MsgType.PLAN_APPLY, msg)
            return PlanResult(
                node_update=plan.node_update,
                node_allocation=accepted,
                alloc_index=result.index,
                refresh_index=result.index if rejected else 0,
                rejected_nodes=rejected,
            )

    def _check(self, plan: Plan) -> tuple[dict[str, list[Allocation]], list[str]]:
        result: tuple[dict[str, list[Allocation]], list[str]] = self._store.read(
            lambda store: evaluate_plan(store, plan)
        )
        return result


def over_quota(view: StateView, plan: Plan) -> bool:
    """Would the plan's new placements push its namespace over its quota?

    The scheduler checked on its snapshot; two evaluations of one quota
    scheduled concurrently could each fit alone and overrun it together.
    Costs nothing without a quota; with one, one usage read (O(allocs of
    the quota's namespaces)) per plan that places something new.
    """
    spec = namespace_quota(view, plan.namespace)
    if spec is None:
        return False
    new = [
        a
        for placed in plan.node_allocation.values()
        for a in placed
        if view.alloc_by_id(a.id) is None and not a.terminal()
    ]
    if not new:
        return False
    region = next((a.job.region for a in new if a.job is not None), "global")
    limit = spec.limit_for(region)
    if limit is None or not enforced(limit):
        return False
    ask = ZERO
    for a in new:
        ask = ask + alloc_amounts(a)
    freed = ZERO
    for stops in plan.node_update.values():
        for a in stops:
            stored = view.alloc_by_id(a.id)
            if stored is not None and not stored.terminal():
                freed = freed + alloc_amounts(stored)
    assert isinstance(view, Reads)  # namespace_quota found a quota: a real store
    used = quota_usage(view, spec) - freed
    return bool(exhausted(limit.region_limit, used, ask))


def _share_job(allocs: list[Allocation]) -> tuple[Job | None, list[Allocation]]:
    """The job the placements carry, once, and the allocations without it.

    A placement's job is the same object for the whole plan; sent once per
    entry instead of once per allocation, a plan of 100 allocations is ~20x
    smaller on the wire, in the journal and to decode. Allocations carrying
    another job (stops of an older version) keep theirs.
    """
    job = next((a.job for a in allocs if a.job is not None and a.desired_status == "run"), None)
    if job is None:
        return None, allocs
    return job, [a.replace(job=None) if a.job is job else a for a in allocs]


def evaluate_plan(view: StateView, plan: Plan) -> tuple[dict[str, list[Allocation]], list[str]]:
    """(placements per node that still fit, ids of nodes that no longer take theirs).

    Call under the store lock (or on a snapshot): the answer must hold for
    the state the plan is committed on top of.
    """
    if over_quota(view, plan):
        # Nomad's answer: nothing placed, the scheduler refreshes and places
        # what the quota still takes (it blocks the rest).
        return {}, sorted(plan.node_allocation)
    accepted: dict[str, list[Allocation]] = {}
    rejected: list[str] = []
    for node_id, placed in plan.node_allocation.items():
        node = view.node_by_id(node_id)
        new_ids = {a.id for a in placed}
        in_place_only = all(view.alloc_by_id(a.id) is not None for a in placed)
        if node is None or (node.status != "ready" and not in_place_only):
            rejected.append(node_id)
            continue
        stopping = {a.id for a in plan.node_update.get(node_id, [])}
        existing = [
            a
            for a in view.allocs_by_node(node_id)
            if not a.terminal() and a.id not in stopping and a.id not in new_ids
        ]
        fits, _dimension = allocs_fit(node, [*existing, *placed])
        if fits:
            accepted[node_id] = placed
        else:
            rejected.append(node_id)
    return accepted, rejected
