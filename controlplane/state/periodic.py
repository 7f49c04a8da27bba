"""Periodic launch records, the periodic-parent index, parent/child job reads.

The `periodic_launches` table holds, per periodic parent, the latest launch
time (Nomad's `periodic_launch` table); the dict is replaced whole on write,
never mutated, so snapshots share it safely. The periodic-parent index is
derived state: the keys of the jobs the dispatcher launches for
(`is_periodic_active`), kept by the store's job writes and rebuilt on
restore, so finding them costs O(periodic parents), not a scan of every job.
Children of a periodic or parameterized parent are the jobs naming it as
ParentID. Only the FSM writes; nothing here launches or dispatches.
"""

from __future__ import annotations

from typing import Any

from controlplane.structs import Job, JobChildrenSummary
from controlplane.structs.periodic import PeriodicLaunch, is_periodic_active

from .tables import Tables

T_PERIODIC_LAUNCHES = "periodic_launches"


class PeriodicReads:
    """Reads and the periodic-parent index; subclasses provide `_t` and
    `job_status`, and call `_index_periodic` on every job write."""

    _t: Tables
    # keys of the active periodic parents; a frozenset replaced whole on
    # change (rare: periodic jobs only), so snapshots share it as it is
    _periodic_parents: frozenset[tuple[str, str]]

    def job_status(self, job: Job) -> str:
        raise NotImplementedError

    def _rebuild_periodic_index(self) -> None:
        self._periodic_parents = frozenset(
            key for key, job in self._t.jobs.items() if is_periodic_active(job)
        )

    def _index_periodic(self, key: tuple[str, str], job: Job | None) -> None:
        """Keep the index in step with the job now stored at `key` (None: deleted)."""
        active = job is not None and is_periodic_active(job)
        if active != (key in self._periodic_parents):
            if active:
                self._periodic_parents = self._periodic_parents | {key}
            else:
                self._periodic_parents = self._periodic_parents - {key}

    def periodic_parents(self) -> list[Job]:
        """The jobs the periodic dispatcher launches for (enabled, not stopped,
        not parameterized parents), by namespace and ID."""
        jobs = self._t.jobs
        return [jobs[key] for key in sorted(self._periodic_parents)]

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
