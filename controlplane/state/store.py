"""StateStore: the live cluster state, written only by the FSM.

Writes take the Raft index of the entry that carries them and stamp it on
every object they touch (CreateIndex / ModifyIndex) and on the tables they
change (the `X-Nomad-Index` of list reads). Readers get frozen structs, or a
StateSnapshot: a point-in-time copy the scheduler can read at leisure.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from msgspec.structs import replace as _replace

from controlplane.structs import (
    Allocation,
    Deployment,
    Evaluation,
    Job,
    Node,
    NodeEvent,
    ServerMember,
    to_builtins,
)

from .alloc_writes import AllocWrites
from .cow import COW_ALL, COW_INDEXES, CopyOnWrite, index_add, index_discard
from .deployments import DeploymentWrites
from .notify import ChangeNotifier
from .periodic import PeriodicWrites
from .reads import Reads
from .security import SecurityWrites
from .services import Change, ServiceWrites
from .tables import JOB_VERSIONS_KEPT, JobKey, Tables
from .variables import VariableWrites

# Fields that do not make a new job version when they alone change.
_NON_SPEC_FIELDS = (
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
)


def job_spec(job: Job) -> dict[str, Any]:
    """The user-controlled part of a job, for "did the spec change" checks."""
    data = to_builtins(job)
    for k in _NON_SPEC_FIELDS:
        data.pop(k, None)
    return data


class _Indexed(Reads, CopyOnWrite):
    """Tables plus the secondary indexes derived from them.

    Tables' values and the index entries are immutable (frozen structs,
    frozensets, job-version lists replaced whole), which is what makes
    snapshots cheap: writes go through `_table` / `_index` (cow.py).
    """

    def __init__(self, tables: Tables) -> None:
        self._t = tables
        self._shared: set[str] = set()
        self._rebuild_indexes()

    def _rebuild_indexes(self) -> None:
        self._shared.difference_update(COW_INDEXES)  # fresh dicts below
        self._allocs_by_node = {}
        self._allocs_by_job = {}
        self._evals_by_job = {}
        self._deployments_by_job = {}
        self._job_touch = {}
        for a in self._t.allocs.values():
            self._index_alloc(a)
        for e in self._t.evals.values():
            index_add(self._index("_evals_by_job"), (e.namespace, e.job_id), e.id)
        for d in self._t.deployments.values():
            index_add(self._index("_deployments_by_job"), (d.namespace, d.job_id), d.id)
        self._rebuild_service_indexes()
        self._rebuild_periodic_index()

    def _index_alloc(self, a: Allocation) -> None:
        index_add(self._index("_allocs_by_node"), a.node_id, a.id)
        index_add(self._index("_allocs_by_job"), (a.namespace, a.job_id), a.id)

    def _touch(self, obj: Allocation | Evaluation | Deployment) -> None:
        """Count a write to one of a job's allocations, evaluations or
        deployments: what its summary and status are computed from. A reader
        that cached them checks the count (job_touch) instead of recomputing."""
        touch = self._index("_job_touch")
        key = (obj.namespace, obj.job_id)
        touch[key] = touch.get(key, 0) + 1

    def _touch_counts(self, counts: dict[JobKey, int]) -> None:
        """`_touch` for many writes at once: `counts` per (namespace, job)."""
        if not counts:
            return
        touch = self._index("_job_touch")
        for key, n in counts.items():
            touch[key] = touch.get(key, 0) + n


class StateSnapshot(_Indexed):
    """A point-in-time view (implements StateView); nothing writes to the live store."""

    @classmethod
    def of(cls, store: _Indexed, tables: Tables) -> StateSnapshot:
        """A snapshot sharing the store's dicts; whoever writes first copies."""
        snap = cls.__new__(cls)
        snap._t = tables
        snap._allocs_by_node = store._allocs_by_node
        snap._allocs_by_job = store._allocs_by_job
        snap._evals_by_job = store._evals_by_job
        snap._deployments_by_job = store._deployments_by_job
        snap._job_touch = store._job_touch
        snap._periodic_parents = store._periodic_parents
        snap._shared = set(COW_ALL)
        snap._copy_service_indexes(store)
        return snap

    def frozen_nodes(self) -> Mapping[str, Node] | None:
        """The nodes table, if this dict can never change again (else None).

        Shared copy-on-write with the store (cow.py), it is copied by whoever
        writes next and never changed in place: a reader may key a cache on
        its identity while holding a reference to it.
        """
        return self._t.nodes if "nodes" in self._shared else None

    def with_job(self, job: Job) -> StateSnapshot:
        """This view with `job` stored: what a plan dry-run schedules against."""
        self._table("jobs")[(job.namespace, job.id)] = job
        self._index_periodic((job.namespace, job.id), job)
        return self


class StateStore(
    _Indexed,
    DeploymentWrites,
    ServiceWrites,
    SecurityWrites,
    PeriodicWrites,
    VariableWrites,
    AllocWrites,
):
    def __init__(self) -> None:
        super().__init__(Tables())
        self.lock = threading.RLock()
        self.notifier = ChangeNotifier()
        self._service_changes: list[Change] = []

    # -- snapshots / restore ---------------------------------------------
    def snapshot(self) -> StateSnapshot:
        with self.lock:
            t = self._t
            # O(1) in the size of the state: the dicts are shared, and the
            # next write to each copies it (_table / _index)
            shared = Tables(
                index=t.index,
                table_index=dict(t.table_index),
                jobs=t.jobs,
                job_versions=t.job_versions,
                nodes=t.nodes,
                evals=t.evals,
                allocs=t.allocs,
                deployments=t.deployments,
                servers=t.servers,
                services=dict(t.services),
                acl_policies=t.acl_policies,
                acl_tokens=t.acl_tokens,
                acl_token_secrets=t.acl_token_secrets,
                acl_bootstrap_index=t.acl_bootstrap_index,
                namespaces=t.namespaces,
                quotas=t.quotas,
                periodic_launches=t.periodic_launches,
                variables=t.variables,
                root_keys=t.root_keys,
            )
            self._shared.update(COW_ALL)
            return StateSnapshot.of(self, shared)

    def dump(self) -> Tables:
        """The data a Raft snapshot persists (a copy: pickled in another thread)."""
        with self.lock:
            return copy.copy(self.snapshot()._t)

    def restore(self, tables: Tables) -> None:
        with self.lock:
            self._t = tables.upgrade()
            self._shared.clear()
            self._rebuild_indexes()
            self._service_changes = []
        self.notifier.notify()

    # -- bookkeeping -----------------------------------------------------
    def _bump(self, index: int, *tables: str) -> None:
        self._t.index = max(self._t.index, index)
        for name in tables:
            self._t.table_index[name] = index

    def mark_applied(self, index: int) -> None:
        """Record that entry `index` was applied (even if it changed nothing)."""
        with self.lock:
            self._t.index = max(self._t.index, index)

    # -- jobs ------------------------------------------------------------
    def upsert_job(self, index: int, job: Job, submit_time: int) -> Job:
        """Store a job; a changed spec becomes a new version. Returns the stored job."""
        key = (job.namespace, job.id)
        with self.lock:
            old = self._t.jobs.get(key)
            if old is not None and job_spec(old) == job_spec(job):
                return old
            version = old.version + 1 if old is not None else 0
            stored = _replace(
                job,
                version=version,
                submit_time=submit_time,
                create_index=old.create_index if old else index,
                modify_index=index,
                job_modify_index=index,
                stable=False,
                status="",
            )
            self._table("jobs")[key] = stored
            self._index_periodic(key, stored)
            versions = [stored, *self._t.job_versions.get(key, [])]
            self._table("job_versions")[key] = versions[:JOB_VERSIONS_KEPT]
            self._bump(index, "jobs")
            return stored

    def delete_job(self, index: int, namespace: str, job_id: str) -> None:
        with self.lock:
            self._table("jobs").pop((namespace, job_id), None)
            self._index_periodic((namespace, job_id), None)
            self._table("job_versions").pop((namespace, job_id), None)
            # a purged job's instances leave the catalog with it
            self._delete_services_of_job(index, (namespace, job_id))
            self._bump(index, "jobs")

    def delete_garbage(
        self,
        index: int,
        eval_ids: Iterable[str],
        alloc_ids: Iterable[str],
        jobs: Iterable[tuple[str, str]],
    ) -> None:
        """Forget terminal evaluations, allocations and stopped jobs (GC)."""
        with self.lock:
            for eval_id in eval_ids:
                ev = self._table("evals").pop(eval_id, None)
                if ev is not None:
                    self._touch(ev)
                    index_discard(self._index("_evals_by_job"), (ev.namespace, ev.job_id), eval_id)
            for alloc_id in alloc_ids:
                a = self._table("allocs").pop(alloc_id, None)
                if a is not None:
                    self._touch(a)
                    index_discard(self._index("_allocs_by_node"), a.node_id, alloc_id)
                    index_discard(self._index("_allocs_by_job"), (a.namespace, a.job_id), alloc_id)
                    self._delete_services_of_allocs(index, [alloc_id])
            for key in jobs:
                self._table("jobs").pop(key, None)
                self._index_periodic(key, None)
                self._table("job_versions").pop(key, None)
                self._delete_services_of_job(index, key)
                for dep_id in self._index("_deployments_by_job").pop(key, frozenset()):
                    dep = self._table("deployments").pop(dep_id, None)
                    if dep is not None:
                        self._touch(dep)
                    index_discard(self._index("_deployments_by_job"), key, dep_id)
            self._bump(index, "evals", "allocs", "jobs", "deployments")

    # -- nodes -----------------------------------------------------------
    def upsert_node(self, index: int, node: Node, now: str) -> Node:
        with self.lock:
            old = self._t.nodes.get(node.id)
            if old is None:
                events = [
                    NodeEvent(
                        message="Node registered",
                        subsystem="Cluster",
                        timestamp=now,
                        create_index=index,
                    )
                ]
                stored = node.replace(create_index=index, modify_index=index, events=events)
            else:
                # operator-controlled fields survive a re-registration
                stored = node.replace(
                    create_index=old.create_index,
                    modify_index=index,
                    events=old.events,
                    drain=old.drain,
                    drain_strategy=old.drain_strategy,
                    scheduling_eligibility=old.scheduling_eligibility,
                    last_drain=old.last_drain,
                )
            self._table("nodes")[node.id] = stored
            self._bump(index, "nodes")
            return stored

    def update_node_status(
        self, index: int, node_id: str, status: str, at_s: int, now: str
    ) -> bool:
        with self.lock:
            old = self._t.nodes.get(node_id)
            if old is None:
                return False
            events = list(old.events or [])
            if old.status != status:
                msg = {"ready": "Node heartbeat received", "down": "Node heartbeat missed"}.get(
                    status, f"Node status changed to {status}"
                )
                events.append(
                    NodeEvent(message=msg, subsystem="Heartbeat", timestamp=now, create_index=index)
                )
            self._table("nodes")[node_id] = old.replace(
                status=status, status_updated_at=at_s, modify_index=index, events=events[-10:]
            )
            if status == "down":
                # its allocs are about to be lost: stop routing to them now
                self._delete_services_of_allocs(index, self._allocs_by_node.get(node_id, ()))
            self._bump(index, "nodes")
            return True

    # -- node operator actions (eligibility, drain) -------------------------
    def update_node_eligibility(
        self, index: int, node_id: str, eligibility: str, now: str
    ) -> Node | None:
        with self.lock:
            old = self._t.nodes.get(node_id)
            if old is None:
                return None
            events = list(old.events or [])
            if old.scheduling_eligibility != eligibility:
                msg = (
                    "Node marked as eligible for scheduling"
                    if eligibility == "eligible"
                    else "Node marked as ineligible for scheduling"
                )
                events.append(
                    NodeEvent(message=msg, subsystem="Cluster", timestamp=now, create_index=index)
                )
            new = old.replace(
                scheduling_eligibility=eligibility, modify_index=index, events=events[-10:]
            )
            self._table("nodes")[node_id] = new
            self._bump(index, "nodes")
            return new

    def update_node_drain(
        self,
        index: int,
        node_id: str,
        strategy: dict[str, Any] | None,
        mark_eligible: bool,
        complete: bool,
        meta: dict[str, str] | None,
        now: str,
    ) -> Node | None:
        """Start / update (strategy), cancel (None) or complete a drain.

        A draining node is ineligible; when the drain ends it stays
        ineligible unless `mark_eligible`. LastDrain records the outcome.
        """
        with self.lock:
            old = self._t.nodes.get(node_id)
            if old is None:
                return None
            last = dict(old.last_drain or {})
            eligibility = old.scheduling_eligibility
            if strategy is not None:
                msg = "Node drain strategy updated" if old.drain else "Node drain strategy set"
                if not old.drain:
                    last = {"StartedAt": strategy.get("StartedAt") or now, "AccessorID": ""}
                last.update(Status="draining", UpdatedAt=now, Meta=meta)
                eligibility = "ineligible"
            else:
                msg = "Node drain complete" if complete else "Node drain disabled"
                if old.drain:
                    last.update(Status="complete" if complete else "canceled", UpdatedAt=now)
                if mark_eligible:
                    eligibility = "eligible"
            events = list(old.events or [])
            if old.drain or strategy is not None:
                events.append(
                    NodeEvent(message=msg, subsystem="Drain", timestamp=now, create_index=index)
                )
            new = old.replace(
                drain=strategy is not None,
                drain_strategy=strategy,
                scheduling_eligibility=eligibility,
                last_drain=last or None,
                modify_index=index,
                events=events[-10:],
            )
            self._table("nodes")[node_id] = new
            self._bump(index, "nodes")
            return new

    # -- evaluations -----------------------------------------------------
    def upsert_evals(self, index: int, evals: Iterable[Evaluation]) -> None:
        evals = list(evals)
        with self.lock:
            if evals:
                table = self._table("evals")
                by_job = self._index("_evals_by_job")
                touch = self._index("_job_touch")
            for ev in evals:
                old = table.get(ev.id)
                stored = _replace(
                    ev, create_index=old.create_index if old else index, modify_index=index
                )
                table[ev.id] = stored
                key = (ev.namespace, ev.job_id)
                touch[key] = touch.get(key, 0) + 1
                index_add(by_job, key, ev.id)
            self._bump(index, "evals")

    # -- servers ---------------------------------------------------------
    def upsert_server(self, index: int, member: ServerMember) -> None:
        with self.lock:
            old = self._t.servers.get(member.raft_addr)
            self._table("servers")[member.raft_addr] = member.replace(
                create_index=old.create_index if old else index, modify_index=index
            )
            self._bump(index, "servers")

    # -- job stability ---------------------------------------------------
    def set_job_stable(
        self, index: int, namespace: str, job_id: str, version: int, stable: bool
    ) -> bool:
        """Mark one version of a job (and the job itself, if current) stable."""
        key = (namespace, job_id)
        with self.lock:
            versions = self._t.job_versions.get(key, [])
            found = any(j.version == version for j in versions)
            if found:
                # replaced whole: snapshots share the old list
                self._table("job_versions")[key] = [
                    j.replace(stable=stable) if j.version == version else j for j in versions
                ]
            job = self._t.jobs.get(key)
            if job is not None and job.version == version:
                self._table("jobs")[key] = job.replace(stable=stable, modify_index=index)
                found = True
            if found:
                self._bump(index, "jobs")
            return found

    # -- reads under the lock --------------------------------------------
    def read(self, fn: Any) -> Any:
        """Run `fn(self)` under the store lock (consistent multi-table reads)."""
        with self.lock:
            return fn(self)
