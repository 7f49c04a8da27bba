"""The store's allocation writes (AllocWrites, mixed into the StateStore):
scheduler placements and stops, client status reports, operator/drainer
desired transitions and health verdicts.

Each entry's allocations are gathered per node and per job and written
with one new frozenset per index key (a plan's 100 allocations share a job,
a deployment and a few nodes). The StateStore provides the lock, `_bump`,
`_touch`, the deployment counters and the service catalog; they come before
this class in its MRO, so the stubs below are never called.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from msgspec.structs import replace as _replace

from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    AllocDeploymentStatus,
    DesiredTransition,
    Job,
)

from .cow import CopyOnWrite, index_add_all
from .tables import JobKey


def _set_fields(t: DesiredTransition) -> dict[str, Any]:
    """A transition's fields by attribute name (for merging non-None ones)."""
    return {f: getattr(t, f) for f in t.__struct_fields__}


class AllocWrites(CopyOnWrite):
    lock: Any

    def _bump(self, index: int, *tables: str) -> None:
        raise NotImplementedError

    def _touch(self, obj: Allocation) -> None:
        raise NotImplementedError

    def _touch_counts(self, counts: dict[JobKey, int]) -> None:
        raise NotImplementedError

    def _count_placed(self, index: int, dep_id: str, allocs: list[Allocation]) -> None:
        raise NotImplementedError

    def _count_health(self, index: int, old: Allocation, new: Allocation) -> None:
        raise NotImplementedError

    def _delete_services_of_allocs(self, index: int, alloc_ids: Iterable[str]) -> int:
        raise NotImplementedError

    def upsert_allocs(
        self, index: int, allocs: Iterable[Allocation], job: Job | None = None
    ) -> list[Allocation]:
        """Scheduler placements: new allocs, in-place updates and stop decisions.

        Client-owned fields (ClientStatus, TaskStates) of an existing alloc are
        kept: the scheduler never reports on tasks. `job` is given to the
        allocs that carry none (a plan entry carries its job once).
        """
        stored_all = []
        # gathered per entry, written once per key: a plan's 100 allocations
        # share a job, a deployment and a few nodes
        by_node: dict[str, list[str]] = {}
        by_job: dict[JobKey, list[str]] = {}
        touched: dict[JobKey, int] = {}
        placed: dict[str, list[Allocation]] = {}
        allocs = list(allocs)
        with self.lock:
            # taken only when there is something to write: the first write
            # after a snapshot copies the table
            table = self._table("allocs") if allocs else self._t.allocs
            for a in allocs:
                old = table.get(a.id)
                if old is None:
                    if job is not None and a.job is None:
                        stored = _replace(
                            a,
                            job=job,
                            create_index=index,
                            modify_index=index,
                            alloc_modify_index=index,
                        )
                    else:
                        stored = _replace(
                            a, create_index=index, modify_index=index, alloc_modify_index=index
                        )
                else:
                    kept: dict[str, Any] = {}
                    if job is not None and a.job is None:
                        kept["job"] = job
                    stored = _replace(
                        a,
                        create_index=old.create_index,
                        create_time=old.create_time,
                        modify_index=index,
                        alloc_modify_index=index,
                        # the scheduler only ever decides "lost" (node down)
                        client_status="lost" if a.client_status == "lost" else old.client_status,
                        client_description=old.client_description,
                        task_states=old.task_states,
                        # a move into another deployment starts its health afresh
                        deployment_status=a.deployment_status
                        if a.deployment_id != old.deployment_id
                        else a.deployment_status or old.deployment_status,
                        **kept,
                    )
                table[a.id] = stored
                key = (stored.namespace, stored.job_id)
                by_node.setdefault(stored.node_id, []).append(stored.id)
                by_job.setdefault(key, []).append(stored.id)
                touched[key] = touched.get(key, 0) + 1
                stored_all.append(stored)
                if stored.client_terminal():
                    self._delete_services_of_allocs(index, [stored.id])
                if stored.deployment_id and (
                    old is None or old.deployment_id != stored.deployment_id
                ):
                    placed.setdefault(stored.deployment_id, []).append(stored)
            if by_node:
                index_add_all(self._index("_allocs_by_node"), by_node)
                index_add_all(self._index("_allocs_by_job"), by_job)
                self._touch_counts(touched)
            for dep_id, counted in placed.items():
                self._count_placed(index, dep_id, counted)
            self._bump(index, "allocs")
        return stored_all

    def update_allocs_from_client(
        self, index: int, updates: Iterable[AllocClientUpdate]
    ) -> list[Allocation]:
        changed = []
        touched: dict[JobKey, int] = {}
        with self.lock:
            current = self._t.allocs
            table = None
            for u in updates:
                old = current.get(u.id)
                if old is None:
                    continue
                if table is None:
                    table = current = self._table("allocs")
                new = _replace(
                    old,
                    client_status=u.client_status or old.client_status,
                    client_description=u.client_description or old.client_description,
                    task_states=u.task_states if u.task_states is not None else old.task_states,
                    deployment_status=(
                        _replace(u.deployment_status, modify_index=index)
                        if u.deployment_status is not None
                        else old.deployment_status
                    ),
                    modify_time=u.modify_time or old.modify_time,
                    modify_index=index,
                )
                table[u.id] = new
                key = (new.namespace, new.job_id)
                touched[key] = touched.get(key, 0) + 1
                changed.append(new)
                if new.deployment_status is not old.deployment_status:
                    self._count_health(index, old, new)
                if new.client_terminal():
                    self._delete_services_of_allocs(index, [new.id])
            self._touch_counts(touched)
            self._bump(index, "allocs")
        return changed

    def update_alloc_desired_transitions(
        self, index: int, transitions: dict[str, DesiredTransition], modify_time: int
    ) -> list[Allocation]:
        """Merge operator / drainer transitions (Migrate) into allocs."""
        changed = []
        with self.lock:
            for alloc_id, t in transitions.items():
                old = self._t.allocs.get(alloc_id)
                if old is None:
                    continue
                merged = old.desired_transition.replace(
                    **{k: v for k, v in _set_fields(t).items() if v is not None}
                )
                new = old.replace(
                    desired_transition=merged,
                    modify_index=index,
                    modify_time=modify_time or old.modify_time,
                )
                self._table("allocs")[alloc_id] = new
                self._touch(new)
                changed.append(new)
            self._bump(index, "allocs")
        return changed

    def set_alloc_health(
        self, index: int, alloc_ids: Iterable[str], healthy: bool, timestamp: str
    ) -> None:
        """An operator's (or the watcher's) health verdict for allocs of a deployment."""
        with self.lock:
            for alloc_id in alloc_ids:
                old = self._t.allocs.get(alloc_id)
                if old is None:
                    continue
                status = old.deployment_status or AllocDeploymentStatus()
                new = old.replace(
                    deployment_status=status.replace(
                        healthy=healthy, timestamp=timestamp, modify_index=index
                    ),
                    modify_index=index,
                )
                self._table("allocs")[alloc_id] = new
                self._touch(new)
                self._count_health(index, old, new)
            self._bump(index, "allocs")
