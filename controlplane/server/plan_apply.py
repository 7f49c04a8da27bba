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
from controlplane.structs import Allocation, Evaluation, Plan, PlanResult


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
            msg = PlanApply(
                allocs=allocs,
                evals=evals,
                deployment=plan.deployment,
                deployment_updates=plan.deployment_updates,
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
        accepted: dict[str, list[Allocation]] = {}
        rejected: list[str] = []

        def check(store: StateStore) -> None:
            for node_id, placed in plan.node_allocation.items():
                node = store.node_by_id(node_id)
                new_ids = {a.id for a in placed}
                in_place_only = all(store.alloc_by_id(a.id) is not None for a in placed)
                if node is None or (node.status != "ready" and not in_place_only):
                    rejected.append(node_id)
                    continue
                stopping = {a.id for a in plan.node_update.get(node_id, [])}
                existing = [
                    a
                    for a in store.allocs_by_node(node_id)
                    if not a.terminal() and a.id not in stopping and a.id not in new_ids
                ]
                fits, _dimension = allocs_fit(node, [*existing, *placed])
                if fits:
                    accepted[node_id] = placed
                else:
                    rejected.append(node_id)

        self._store.read(check)
        return accepted, rejected
