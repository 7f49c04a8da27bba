"""Scheduler harness over a real StateStore, with a recording planner.

No Raft and no network: tests write the store directly (upsert_job,
upsert_node, update_allocs_from_client, upsert_deployment...), run the
scheduler on a snapshot, and `RecordingPlanner` applies each result the way
the leader would (deployment upsert first, then status updates, stops and
placements, follow-up and blocked evaluations, the evaluation's outcome),
so evaluations chain like they do on a server. The clock is injected.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from sched_harness import NOW, Ids

from controlplane.scheduler import schedule
from controlplane.state import StateStore
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    AllocDeploymentStatus,
    Deployment,
    DeploymentStatusUpdate,
    Evaluation,
    Job,
    Node,
    SchedulerResult,
)
from controlplane.structs.consts import SEC


class RecordingPlanner:
    """Applies scheduler results to the store and keeps them for assertions."""

    def __init__(self, store: StateStore, cluster: StoreCluster) -> None:
        self.store = store
        self.cluster = cluster
        self.results: list[tuple[Evaluation, SchedulerResult]] = []

    def submit(self, ev: Evaluation, result: SchedulerResult) -> None:
        self.results.append((ev, result))
        plan = result.plan
        now = self.cluster.now_ns
        # The deployment first: the allocs of this plan point at it.
        if plan.deployment is not None:
            self.store.upsert_deployment(self.cluster.next_index(), plan.deployment)
        for update in plan.deployment_updates:
            changed = self.store.update_deployment(
                self.cluster.next_index(), update.deployment_id, partial(_set_status, update, now)
            )
            assert changed is not None, update
        allocs = [a for stops in plan.node_update.values() for a in stops]
        allocs += [a for placed in plan.node_allocation.values() for a in placed]
        if allocs:
            self.store.upsert_allocs(self.cluster.next_index(), allocs)
        evals = list(result.followup_evals)
        failed = dict(result.failed_tg_allocs) or None
        if ev.status == "blocked":
            # A re-run of a blocked evaluation stays blocked until all is placed.
            evals.append(ev.replace(status="blocked" if failed else "complete"))
        else:
            outcome = ev.replace(status="complete", failed_tg_allocs=failed)
            if failed:
                blocked = Evaluation(
                    id=self.cluster.ids(),
                    namespace=ev.namespace,
                    priority=ev.priority,
                    type=ev.type,
                    triggered_by="queued-allocs",
                    job_id=ev.job_id,
                    status="blocked",
                    status_description="created to place remaining allocations",
                    previous_eval=ev.id,
                    failed_tg_allocs=failed,
                )
                outcome = outcome.replace(blocked_eval=blocked.id)
                evals.append(blocked)
            evals.append(outcome)
        self.store.upsert_evals(self.cluster.next_index(), evals)


def _set_status(update: DeploymentStatusUpdate, now: int, dep: Deployment) -> Deployment:
    return dep.replace(
        status=update.status, status_description=update.status_description, modify_time=now
    )


class StoreCluster:
    """A StateStore, a clock, a seed, an id factory and the recording planner."""

    def __init__(self, *nodes: Node, seed: int = 7) -> None:
        self.store = StateStore()
        self.seed = seed
        self.now_ns = NOW
        self.ids = Ids("id")
        self._index = 0
        self.planner = RecordingPlanner(self.store, self)
        for n in nodes:
            self.add_node(n)

    # -- writes ----------------------------------------------------------
    def next_index(self) -> int:
        self._index += 1
        return self._index

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * SEC)

    def add_node(self, node: Node) -> Node:
        return self.store.upsert_node(self.next_index(), node, "2024-01-01T00:00:00Z")

    def node_down(self, node_id: str) -> None:
        self.store.update_node_status(
            self.next_index(), node_id, "down", self.now_ns // SEC, "2024-01-01T00:00:00Z"
        )

    def register(self, job: Job) -> Evaluation:
        """Store the job (a new version when the spec changed) and its register eval."""
        stored = self.store.upsert_job(self.next_index(), job, self.now_ns)
        ev = self.new_eval(stored, "job-register")
        self.store.upsert_evals(self.next_index(), [ev])
        return self.store.eval_by_id(ev.id) or ev

    def new_eval(self, job: Job, triggered_by: str) -> Evaluation:
        return Evaluation(
            id=self.ids(),
            namespace=job.namespace,
            priority=job.priority,
            type=job.type,
            triggered_by=triggered_by,
            job_id=job.id,
            job_modify_index=job.job_modify_index,
        )

    def client_update(self, alloc_id: str, status: str, *, healthy: bool | None = None) -> None:
        """What a client reports: a client status and, optionally, deployment health."""
        old = self.store.alloc_by_id(alloc_id)
        assert old is not None
        dep_status = None
        if healthy is not None:
            base = old.deployment_status or AllocDeploymentStatus()
            dep_status = base.replace(healthy=healthy)
        update = AllocClientUpdate(
            id=alloc_id, client_status=status, deployment_status=dep_status, modify_time=self.now_ns
        )
        self.store.update_allocs_from_client(self.next_index(), [update])

    def set_deployment(self, dep: Deployment) -> None:
        """What the watcher writes: status, description, promotion (counters kept)."""
        self.store.update_deployment(
            self.next_index(),
            dep.id,
            lambda old: old.replace(
                status=dep.status,
                status_description=dep.status_description,
                task_groups={
                    name: state.replace(promoted=dep.task_groups[name].promoted)
                    for name, state in old.task_groups.items()
                },
            ),
        )

    # -- scheduling ------------------------------------------------------
    def run(
        self, job_id: str = "example", *, triggered_by: str = "job-register"
    ) -> SchedulerResult:
        """Create an evaluation for the job and process it."""
        job = self.store.job_by_id("default", job_id)
        assert job is not None
        ev = self.new_eval(job, triggered_by)
        self.store.upsert_evals(self.next_index(), [ev])
        return self.process(self.store.eval_by_id(ev.id) or ev)

    def process(self, ev: Evaluation) -> SchedulerResult:
        """Schedule `ev` on a fresh snapshot and apply the plan."""
        result = schedule(
            self.store.snapshot(), ev, now_ns=self.now_ns, seed=self.seed, new_id=self.ids
        )
        self.planner.submit(ev, result)
        return result

    # -- reads -----------------------------------------------------------
    def live(self, job_id: str = "example") -> list[Allocation]:
        return sorted(
            (a for a in self.store.allocs_by_job("default", job_id) if not a.terminal()),
            key=lambda a: (a.name, a.create_index),
        )

    def evals(self, job_id: str = "example", **match: str) -> list[Evaluation]:
        return [
            e
            for e in self.store.evals_by_job("default", job_id)
            if all(getattr(e, k) == v for k, v in match.items())
        ]

    def deployment(self, job_id: str = "example") -> Deployment | None:
        return self.store.latest_deployment("default", job_id)


def by_node(allocs: Iterable[Allocation]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for a in allocs:
        counts[a.node_id] = counts.get(a.node_id, 0) + 1
    return counts
