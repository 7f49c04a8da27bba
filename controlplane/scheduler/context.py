"""EvalContext: one scheduler run's inputs and the plan it is building.

Owns the "proposed" view of every node (allocs in the state, minus those
this plan stops, plus those it places or updates) so that feasibility and
fit see earlier decisions of the same run. Never decides anything itself.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from controlplane.state.view import StateView
from controlplane.structs import (
    AllocatedResources,
    Allocation,
    AllocDeploymentStatus,
    AllocMetric,
    Deployment,
    DeploymentStatusUpdate,
    Evaluation,
    Job,
    Node,
    Plan,
    RescheduleTracker,
    TaskGroup,
)
from controlplane.structs.consts import AllocClientStatus, AllocDesiredStatus

from .fit import NodeLoad, node_load
from .names import name_index
from .quota import QuotaTracker


class EvalContext:
    def __init__(
        self,
        view: StateView,
        ev: Evaluation,
        *,
        now_ns: int,
        seed: int,
        new_id: Callable[[], str],
    ) -> None:
        self.view = view
        self.eval = ev
        self.now_ns = now_ns
        self.seed = seed
        self.new_id = new_id
        # One generator per run, consumed in a deterministic order (node
        # shuffle); ports use per-(node, name) generators instead so a
        # port never depends on how many candidates were scored before.
        self.rng = random.Random(seed)
        self._nodes: dict[str, Node | None] = {}
        self._existing: dict[str, list[Allocation]] = {}
        self._stops: dict[str, dict[str, Allocation]] = {}
        self._allocs: dict[str, dict[str, Allocation]] = {}
        # Per-node caches over the proposed allocs, dropped (or, for a
        # brand-new alloc, extended) whenever the plan touches that node,
        # so they are never stale; without them every candidate costs
        # O(allocs on the node) per placement.
        self._loads: dict[str, NodeLoad] = {}
        self._proposed: dict[str, list[Allocation]] = {}
        self._group_counts: dict[str, Counter[tuple[str, str, str | None]]] = {}
        # (namespace, job) -> (node, group or None for all) -> live allocs in
        # the state: what nodes the plan has not touched hold of the job.
        self._job_counts: dict[tuple[str, str], Counter[tuple[str, str | None]]] = {}
        # The namespace's quota as the plan changes it; set by the scheduler
        # once it has the job (None: not tracked).
        self.quota: QuotaTracker | None = None

    def node(self, node_id: str) -> Node | None:
        if node_id not in self._nodes:
            self._nodes[node_id] = self.view.node_by_id(node_id)
        return self._nodes[node_id]

    def port_rng(self, node_id: str, alloc_name: str) -> random.Random:
        return random.Random(f"{self.seed}/{node_id}/{alloc_name}")

    def stop(self, alloc: Allocation, description: str, client_status: str = "") -> None:
        """Record a stop (desired "stop"); `client_status` "lost" for lost allocs."""
        changes: dict[str, object] = {
            "desired_status": AllocDesiredStatus.STOP.value,
            "desired_description": description,
            "modify_time": self.now_ns,
        }
        if client_status:
            changes["client_status"] = client_status
        self._stops.setdefault(alloc.node_id, {})[alloc.id] = alloc.replace(**changes)
        self._touched(alloc.node_id)
        if self.quota is not None:
            self.quota.stopped(alloc)

    def allocate(self, alloc: Allocation) -> None:
        """Record a new or in-place updated allocation on its node."""
        node_id = alloc.node_id
        placed = self._allocs.setdefault(node_id, {})
        fresh = alloc.id not in placed and self.view.alloc_by_id(alloc.id) is None
        placed[alloc.id] = alloc
        load = self._loads.get(node_id)
        proposed = self._proposed.get(node_id)
        by_group = self._group_counts.get(node_id)
        self._touched(node_id)
        if not fresh:
            return
        if self.quota is not None:
            self.quota.placed(alloc)
        # A new alloc only adds to the node: extend the caches instead of
        # recounting the node (O(allocs on it)) on its next use.
        if proposed is not None:
            self._proposed[node_id] = [*proposed, alloc]
        if load is not None:
            self._loads[node_id] = load.plus(alloc)
        if by_group is not None and proposed is not None:
            by_group[(alloc.namespace, alloc.job_id, alloc.task_group)] += 1
            by_group[(alloc.namespace, alloc.job_id, None)] += 1
            self._group_counts[node_id] = by_group

    def link_next(self, previous: Allocation, next_id: str) -> None:
        """Point a stop recorded for `previous` at the alloc that replaces it."""
        stops = self._stops.get(previous.node_id, {})
        if previous.id in stops:
            stops[previous.id] = stops[previous.id].replace(next_allocation=next_id)

    def unstop(self, alloc: Allocation) -> None:
        """Back out a stop recorded for `alloc` (its replacement did not fit)."""
        self._stops.get(alloc.node_id, {}).pop(alloc.id, None)
        self._touched(alloc.node_id)
        if self.quota is not None:
            self.quota.unstopped(alloc)

    def _touched(self, node_id: str) -> None:
        self._loads.pop(node_id, None)
        self._proposed.pop(node_id, None)
        self._group_counts.pop(node_id, None)

    def proposed(self, node_id: str) -> list[Allocation]:
        """Allocs on the node once this plan is applied.

        Those in the state are the non-terminal ones; the plan's own may be
        terminal (a failed alloc annotated with its follow-up evaluation).
        Callers must not change the list.
        """
        cached = self._proposed.get(node_id)
        if cached is not None:
            return cached
        if node_id not in self._existing:
            self._existing[node_id] = [
                a for a in self.view.allocs_by_node(node_id) if not a.terminal()
            ]
        stops = self._stops.get(node_id, {})
        placed = self._allocs.get(node_id, {})
        kept = [a for a in self._existing[node_id] if a.id not in stops and a.id not in placed]
        proposed = self._proposed[node_id] = kept + list(placed.values())
        return proposed

    def group_count(self, node_id: str, namespace: str, job_id: str, group: str | None) -> int:
        """How many of the job's allocs in `group` (None: any) `proposed(node_id)` holds.

        A node this plan has not touched holds exactly its live allocs in the
        state, counted once per job from the job's allocs; a touched node is
        counted from its proposed allocs.
        """
        if node_id not in self._stops and node_id not in self._allocs:
            key = (namespace, job_id)
            counts = self._job_counts.get(key)
            if counts is None:
                counts = self._job_counts[key] = Counter()
                for a in self.view.allocs_by_job(namespace, job_id):
                    if not a.terminal():
                        counts[(a.node_id, a.task_group)] += 1
                        counts[(a.node_id, None)] += 1
            return counts[(node_id, group)]
        by_group = self._group_counts.get(node_id)
        if by_group is None:
            by_group = self._group_counts[node_id] = Counter()
            for a in self.proposed(node_id):
                by_group[(a.namespace, a.job_id, a.task_group)] += 1
                by_group[(a.namespace, a.job_id, None)] += 1
        return by_group[(namespace, job_id, group)]

    def new_alloc(
        self,
        job: Job,
        tg: TaskGroup,
        name: str,
        node: Node,
        resources: AllocatedResources,
        metric: AllocMetric,
        previous: Allocation | None = None,
        *,
        deployment_id: str = "",
        canary: bool = False,
        reschedule_tracker: RescheduleTracker | None = None,
    ) -> Allocation:
        """A fresh allocation of `tg` on `node`, recorded in the plan."""
        alloc = Allocation(
            id=self.new_id(),
            namespace=job.namespace,
            eval_id=self.eval.id,
            name=name,
            node_id=node.id,
            node_name=node.name,
            job_id=job.id,
            job=job,
            task_group=tg.name,
            allocated_resources=resources,
            metrics=metric,
            desired_status=AllocDesiredStatus.RUN.value,
            client_status=AllocClientStatus.PENDING.value,
            previous_allocation=previous.id if previous is not None else "",
            deployment_id=deployment_id,
            deployment_status=AllocDeploymentStatus(canary=True) if canary else None,
            reschedule_tracker=reschedule_tracker,
            create_time=self.now_ns,
            modify_time=self.now_ns,
        )
        self.allocate(alloc)
        return alloc

    def update_in_place(self, alloc: Allocation, job: Job, deployment_id: str = "") -> Allocation:
        """Same id, node and resources; only the job (and eval) move forward.

        Joining a new deployment resets the alloc's health: it must prove
        itself again for that deployment.
        """
        updated = alloc.replace(job=job, eval_id=self.eval.id, modify_time=self.now_ns)
        if deployment_id and deployment_id != alloc.deployment_id:
            updated = updated.replace(
                deployment_id=deployment_id, deployment_status=AllocDeploymentStatus()
            )
        self.allocate(updated)
        return updated

    def job_allocs(self, namespace: str, job_id: str) -> list[Allocation]:
        """Non-terminal allocs of a job once this plan is applied, on every node."""
        stopped = {i for stops in self._stops.values() for i in stops}
        placed = {
            a.id: a
            for allocs in self._allocs.values()
            for a in allocs.values()
            if a.namespace == namespace and a.job_id == job_id and not a.terminal()
        }
        kept = [
            a
            for a in self.view.allocs_by_job(namespace, job_id)
            if not a.terminal() and a.id not in stopped and a.id not in placed
        ]
        return kept + list(placed.values())

    def load(self, node: Node) -> NodeLoad:
        """Resources and host ports held on `node` once this plan applies."""
        load = self._loads.get(node.id)
        if load is None:
            load = self._loads[node.id] = node_load(node, self.proposed(node.id))
        return load

    def build_plan(
        self,
        job: Job | None,
        deployment: Deployment | None = None,
        deployment_updates: list[DeploymentStatusUpdate] | None = None,
    ) -> Plan:
        def ordered(table: dict[str, dict[str, Allocation]]) -> dict[str, list[Allocation]]:
            # Sorted so equal inputs give byte-identical plans.
            return {
                node_id: sorted(allocs.values(), key=lambda a: (name_index(a.name), a.name, a.id))
                for node_id, allocs in sorted(table.items())
                if allocs
            }

        return Plan(
            eval_id=self.eval.id,
            priority=self.eval.priority,
            job_id=self.eval.job_id,
            namespace=self.eval.namespace,
            all_at_once=job.all_at_once if job is not None else False,
            node_update=ordered(self._stops),
            node_allocation=ordered(self._allocs),
            deployment=deployment,
            deployment_updates=list(deployment_updates or ()),
        )
