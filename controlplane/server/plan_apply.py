"""Plan applier: re-checks plans against the newest state and commits them.

Optimistic concurrency (API.md §4.6): the scheduler planned on a snapshot;
before committing, every node receiving placements must still exist, be
ready, and fit the new set of allocations. Nodes that fail are dropped from
the plan (partial commit) unless the job is all-at-once; the scheduler then
refreshes and retries the remainder. Never schedules.

Checks are serial, commits are pipelined (as Nomad's plan applier): a plan
is checked and handed to Raft under the lock, and its worker waits for the
commit outside it, so the next plan is checked while this one replicates.
The next check must see the placements still in flight: the applier keeps
them per node (`_pending`) from hand-off until the Raft thread has applied
them, and `evaluate_plan` lays them over the store's allocations. Plans in a namespace with
a quota are committed under the lock (the quota sums the whole namespace).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from controlplane.raft.messages import MsgType, PlanApply
from controlplane.raft.node import WRITE_TIMEOUT_S, RaftNode
from controlplane.raft.results import ApplyResult
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
        # node ID -> alloc ID -> placement of a plan handed to Raft and not
        # applied yet; its own lock, as the Raft thread releases them
        self._pending: dict[str, dict[str, Allocation]] = {}
        self._pending_lock = threading.Lock()

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
            self._hold(accepted)
            wait = self._raft.submit_nowait(
                MsgType.PLAN_APPLY, msg, on_done=lambda: self._release(accepted)
            )
            if namespace_quota(self._store, plan.namespace) is not None:
                # the quota sums the namespace's stored allocs: commit before
                # the next plan is checked
                return self._committed(plan, accepted, rejected, wait)
        return self._committed(plan, accepted, rejected, wait)

    def _committed(
        self,
        plan: Plan,
        accepted: dict[str, list[Allocation]],
        rejected: list[str],
        wait: Callable[[float], ApplyResult],
    ) -> PlanResult:
        try:
            result = wait(WRITE_TIMEOUT_S)
        except Exception:
            self._release(accepted)  # never committed here: stop counting it
            raise
        return PlanResult(
            node_update=plan.node_update,
            node_allocation=accepted,
            alloc_index=result.index,
            refresh_index=result.index if rejected else 0,
            rejected_nodes=rejected,
        )

    def _hold(self, accepted: dict[str, list[Allocation]]) -> None:
        with self._pending_lock:
            for node_id, placed in accepted.items():
                flying = self._pending.setdefault(node_id, {})
                for a in placed:
                    flying[a.id] = a

    def _release(self, accepted: dict[str, list[Allocation]]) -> None:
        """Raft thread, once the plan's entry was applied (or failed)."""
        with self._pending_lock:
            for node_id, placed in accepted.items():
                flying = self._pending.get(node_id)
                if flying is None:
                    continue
                for a in placed:
                    if flying.get(a.id) is a:
                        del flying[a.id]
                if not flying:
                    del self._pending[node_id]

    def _check(self, plan: Plan) -> tuple[dict[str, list[Allocation]], list[str]]:
        def check(store: StateStore) -> tuple[dict[str, list[Allocation]], list[str]]:
            with self._pending_lock:
                return evaluate_plan(store, plan, self._pending)

        result: tuple[dict[str, list[Allocation]], list[str]] = self._store.read(check)
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


def evaluate_plan(
    view: StateView, plan: Plan, in_flight: Mapping[str, Mapping[str, Allocation]] | None = None
) -> tuple[dict[str, list[Allocation]], list[str]]:
    """(placements per node that still fit, ids of nodes that no longer take theirs).

    Call under the store lock (or on a snapshot): the answer must hold for
    the state the plan is committed on top of, which includes `in_flight`
    (node ID -> alloc ID -> placement committed ahead of this plan).
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
            for a in _node_allocs(view, node_id, in_flight)
            if not a.terminal() and a.id not in stopping and a.id not in new_ids
        ]
        fits, _dimension = allocs_fit(node, [*existing, *placed])
        if fits:
            accepted[node_id] = placed
        else:
            rejected.append(node_id)
    return accepted, rejected


def _node_allocs(
    view: StateView, node_id: str, in_flight: Mapping[str, Mapping[str, Allocation]] | None
) -> list[Allocation]:
    """The node's allocations, with the in-flight version of each winning."""
    stored = view.allocs_by_node(node_id)
    flying = in_flight.get(node_id) if in_flight else None
    if not flying:
        return stored
    return [a for a in stored if a.id not in flying] + list(flying.values())
