"""Periodic launch records and parent/child job reads.

The `periodic_launches` table holds, per periodic parent, the latest launch
time (Nomad's `periodic_launch` table); the dict is replaced whole on write,
never mutated, so snapshots share it safely. Children of a periodic or
parameterized parent are the jobs naming it as ParentID. Only the FSM
writes; nothing here launches or dispatches.
"""

from __future__ import annotations

from typing import Any

from controlplane.structs import Job, JobChildrenSummary
from controlplane.structs.periodic import PeriodicLaunch

from .tables import Tables

T_PERIODIC_LAUNCHES = "periodic_launches"


class PeriodicReads:
    """Reads; subclasses provide `_t` and `job_status`."""

    _t: Tables

    def job_status(self, job: Job) -> str:
        raise NotImplementedError

    def periodic_launch(self, namespace: str, job_id: str) -> PeriodicLaunch | None:
        return self._t.periodic_launches.get((namespace, job_id))

    def periodic_launches(self) -> list[PeriodicLaunch]:
        return [v for _, v in sorted(self._t.periodic_launches.items())]

    def job_children(self, namespace: str, parent_id: str) -> list[Job]:
        """Jobs whose ParentID is `parent_id`, oldest first (children's IDs
        start with the parent's, which keeps the scan cheap)."""
        prefix = parent_id + "/"
        out = [
            j
            for (ns, jid), j in self._t.jobs.items()
            if ns == namespace and jid.startswith(prefix) and j.parent_id == parent_id
        ]
        out.sort(key=lambda j: (j.create_index, j.id))
        return out

    def children_summary(self, namespace: str, parent_id: str) -> JobChildrenSummary:
        counts = {"pending": 0, "running": 0, "dead": 0}
        for child in self.job_children(namespace, parent_id):
            status = self.job_status(child)
            counts[status if status in counts else "pending"] += 1
        return JobChildrenSummary(**counts)

    def dispatched_child_by_token(self, namespace: str, parent_id: str, token: str) -> Job | None:
        """The child dispatched with idempotency token `token`, if still stored."""
        if not token:
            return None
        for child in self.job_children(namespace, parent_id):
            if child.dispatch_idempotency_token == token:
                return child
        return None


class PeriodicWrites(PeriodicReads):
    """Writes; the StateStore provides the lock and `_bump`."""

    lock: Any

    def _bump(self, index: int, *tables: str) -> None:
        raise NotImplementedError

    def upsert_periodic_launch(self, index: int, launch: PeriodicLaunch) -> PeriodicLaunch:
        """Record a launch; an older launch time never replaces a newer one
        (a forced launch may be recorded after a later scheduled one)."""
        key = (launch.namespace, launch.id)
        with self.lock:
            old = self._t.periodic_launches.get(key)
            if old is not None and old.launch >= launch.launch:
                return old
            stored = launch.replace(
                create_index=old.create_index if old else index, modify_index=index
            )
            table = dict(self._t.periodic_launches)
            table[key] = stored
            self._t.periodic_launches = table
            self._bump(index, T_PERIODIC_LAUNCHES)
            return stored

    def delete_periodic_launch(self, index: int, namespace: str, job_id: str) -> None:
        with self.lock:
            if (namespace, job_id) not in self._t.periodic_launches:
                return
            table = dict(self._t.periodic_launches)
            del table[(namespace, job_id)]
            self._t.periodic_launches = table
            self._bump(index, T_PERIODIC_LAUNCHES)
