"""Read queries over Tables, shared by the live store and its snapshots.

Nothing here writes. Job status and job summaries are computed from the
allocation, evaluation and deployment tables on read (API.md §3.3, §4.7).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from operator import attrgetter

from controlplane.structs import (
    Allocation,
    Deployment,
    Evaluation,
    Job,
    JobChildrenSummary,
    JobSummary,
    Node,
    ServerMember,
    TaskGroupSummary,
)

from .periodic import PeriodicReads
from .security import SecurityReads
from .services import ServiceIndexes
from .tables import Tables
from .variables import VariableReads

_PERIODIC_LIKE = ("system", "sysbatch")
_COLUMNS = ("queued", "complete", "failed", "running", "starting", "lost", "unknown")
# client status -> JobSummary column ("pending" allocs are "Starting")
_SUMMARY_COLUMN = {
    "pending": "starting",
    "running": "running",
    "complete": "complete",
    "failed": "failed",
    "lost": "lost",
    "unknown": "unknown",
}
_create_index = attrgetter("create_index")
_modify_index = attrgetter("modify_index")
_group_status = attrgetter("task_group", "client_status")


class Reads(ServiceIndexes, SecurityReads, PeriodicReads, VariableReads):
    """Query methods (the service catalog's in ServiceIndexes); subclasses
    provide `_t` and the secondary indexes."""

    _t: Tables
    _allocs_by_node: dict[str, frozenset[str]]
    _allocs_by_job: dict[tuple[str, str], frozenset[str]]
    _evals_by_job: dict[tuple[str, str], frozenset[str]]
    _deployments_by_job: dict[tuple[str, str], frozenset[str]]
    # writes to each job's allocs/evals/deployments, counted (store._touch)
    _job_touch: dict[tuple[str, str], int]

    # -- indexes ---------------------------------------------------------
    @property
    def index(self) -> int:
        return self._t.index

    def table_index(self, *tables: str) -> int:
        ti = self._t.table_index
        return max((ti.get(t, 0) for t in tables), default=0)

    # -- jobs ------------------------------------------------------------
    def job_by_id(self, namespace: str, job_id: str) -> Job | None:
        return self._t.jobs.get((namespace, job_id))

    def jobs(self, namespace: str | None = None, prefix: str = "") -> list[Job]:
        out = [
            j
            for (ns, jid), j in self._t.jobs.items()
            if (namespace in (None, "*") or ns == namespace) and jid.startswith(prefix)
        ]
        out.sort(key=lambda j: (j.namespace, j.id))
        return out

    def job_count(self) -> int:
        return len(self._t.jobs)

    def job_versions(self, namespace: str, job_id: str) -> list[Job]:
        return list(self._t.job_versions.get((namespace, job_id), []))

    def job_version(self, namespace: str, job_id: str, version: int) -> Job | None:
        for j in self._t.job_versions.get((namespace, job_id), []):
            if j.version == version:
                return j
        return None

    def job_touch(self, namespace: str, job_id: str) -> int:
        """Changes so far to what the job's status and summary derive from
        (its allocations, evaluations, deployments; the job object itself
        is replaced on change). Equal counts: nothing of that changed."""
        return self._job_touch.get((namespace, job_id), 0)

    def job_status(self, job: Job) -> str:
        # a dispatched child keeps its parent's parameterized block (as Nomad)
        parent = job.periodic or (job.parameterized_job and not job.dispatched)
        if job.type in _PERIODIC_LIKE or parent:
            return "dead" if job.stop else "running"
        # order does not matter here: read the index entries, do not sort
        key = (job.namespace, job.id)
        alloc_ids = self._allocs_by_job.get(key, ())
        allocs = self._t.allocs
        if any(not allocs[i].terminal() for i in alloc_ids):
            return "running"
        if any(d.active() for d in self.deployments_by_job(job.namespace, job.id)):
            return "running"
        eval_ids = self._evals_by_job.get(key, ())
        evals = self._t.evals
        if any(not evals[i].terminal() for i in eval_ids):
            return "pending"
        if not alloc_ids and not eval_ids:
            return "pending"
        return "dead"

    def job_with_status(self, job: Job) -> Job:
        status = self.job_status(job)
        return job if job.status == status else job.replace(status=status)

    def job_summary(self, namespace: str, job_id: str) -> JobSummary | None:
        job = self.job_by_id(namespace, job_id)
        if job is None:
            return None
        counts: dict[str, dict[str, int]] = {
            tg.name: dict.fromkeys(_COLUMNS, 0) for tg in job.task_groups
        }
        allocs = self._t.allocs
        # runs for every stub of GET /v1/jobs: C-level passes (map, attrgetter,
        # Counter) rather than a Python loop per allocation
        stored = [allocs[i] for i in self._allocs_by_job.get((namespace, job_id), ())]
        idx = max(job.modify_index, max(map(_modify_index, stored), default=0))
        for (tg, status), n in Counter(map(_group_status, stored)).items():
            key = _SUMMARY_COLUMN.get(status)
            if key is not None:
                c = counts.get(tg)
                if c is None:
                    c = counts[tg] = dict.fromkeys(_COLUMNS, 0)
                c[key] += n
        queued = self._queued(namespace, job_id)
        for tg, n in queued.items():
            if tg in counts:
                counts[tg]["queued"] = n
        children = JobChildrenSummary()
        if job.periodic is not None or (job.parameterized_job and not job.dispatched):
            children = self.children_summary(namespace, job_id)
        return JobSummary(
            job_id=job_id,
            namespace=namespace,
            summary={tg: TaskGroupSummary(**c) for tg, c in counts.items()},
            children=children,
            create_index=job.create_index,
            modify_index=idx,
        )

    def _queued(self, namespace: str, job_id: str) -> dict[str, int]:
        latest: Evaluation | None = None
        evals = self._t.evals
        for e in (evals[i] for i in self._evals_by_job.get((namespace, job_id), ())):
            if e.queued_allocations is None or e.status not in ("complete", "blocked"):
                continue
            if latest is None or e.modify_index > latest.modify_index:
                latest = e
        return dict(latest.queued_allocations or {}) if latest else {}

    # -- nodes -----------------------------------------------------------
    def nodes(self) -> Iterable[Node]:
        return list(self._t.nodes.values())

    def node_by_id(self, node_id: str) -> Node | None:
        return self._t.nodes.get(node_id)

    def servers(self) -> list[ServerMember]:
        return sorted(self._t.servers.values(), key=lambda m: m.name)

    def server_by_raft_addr(self, raft_addr: str) -> ServerMember | None:
        return self._t.servers.get(raft_addr)

    # -- allocations -----------------------------------------------------
    def allocs(self, namespace: str | None = None, prefix: str = "") -> list[Allocation]:
        if namespace in (None, "*") and not prefix:
            out = list(self._t.allocs.values())
        else:
            out = [
                a
                for a in self._t.allocs.values()
                if (namespace in (None, "*") or a.namespace == namespace)
                and a.id.startswith(prefix)
            ]
        # the table is in insertion order, which is create order: the sort is
        # a linear pass that only guards against a restored, reordered table
        out.sort(key=_create_index)
        return out

    def alloc_count(self) -> int:
        return len(self._t.allocs)

    def alloc_by_id(self, alloc_id: str) -> Allocation | None:
        return self._t.allocs.get(alloc_id)

    def allocs_by_job(self, namespace: str, job_id: str) -> list[Allocation]:
        ids = self._allocs_by_job.get((namespace, job_id), ())
        return sorted((self._t.allocs[i] for i in ids), key=lambda a: a.create_index)

    def allocs_by_node(self, node_id: str) -> list[Allocation]:
        ids = self._allocs_by_node.get(node_id, ())
        return sorted((self._t.allocs[i] for i in ids), key=lambda a: a.create_index)

    # -- evaluations -----------------------------------------------------
    def evals(self, namespace: str | None = None, prefix: str = "") -> list[Evaluation]:
        out = [
            e
            for e in self._t.evals.values()
            if (namespace in (None, "*") or e.namespace == namespace) and e.id.startswith(prefix)
        ]
        out.sort(key=lambda e: e.create_index)
        return out

    def eval_by_id(self, eval_id: str) -> Evaluation | None:
        return self._t.evals.get(eval_id)

    def evals_by_job(self, namespace: str, job_id: str) -> list[Evaluation]:
        ids = self._evals_by_job.get((namespace, job_id), ())
        return sorted((self._t.evals[i] for i in ids), key=lambda e: e.create_index)

    # -- deployments -----------------------------------------------------
    def deployments(self, namespace: str | None = None, prefix: str = "") -> list[Deployment]:
        out = [
            d
            for d in self._t.deployments.values()
            if (namespace in (None, "*") or d.namespace == namespace) and d.id.startswith(prefix)
        ]
        out.sort(key=lambda d: d.create_index)
        return out

    def deployment_by_id(self, dep_id: str) -> Deployment | None:
        return self._t.deployments.get(dep_id)

    def deployments_by_job(self, namespace: str, job_id: str) -> list[Deployment]:
        ids = self._deployments_by_job.get((namespace, job_id), ())
        return [self._t.deployments[i] for i in ids]

    def latest_deployment(self, namespace: str, job_id: str) -> Deployment | None:
        deps = self.deployments_by_job(namespace, job_id)
        return max(deps, key=lambda d: d.create_index) if deps else None
