"""BlockedEvals: evaluations waiting for capacity or quota, one per job.

Two kinds, as Nomad keeps them: an evaluation blocked by cluster capacity
goes back to the broker whenever capacity changes (a node became ready,
allocations stopped); one blocked by a quota (`QuotaLimitReached`) only when
that quota can have room again: its spec changed or was deleted, an
allocation of a namespace using it stopped, or its namespace was re-pointed
at another quota. Node changes do not wake quota-blocked evaluations, so a
full quota is not re-scheduled in a loop while the cluster churns.

A change the worker could not see (it happened after the snapshot the
evaluation was scheduled on, before the blocked evaluation was written) is
not lost: an evaluation whose SnapshotIndex is older than the last unblock
that concerned it goes straight back to the broker (Nomad's missed-unblock
check). The worker either places the remainder (the eval completes) or
writes it back as blocked with a newer snapshot.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from controlplane.structs import Evaluation

from .eval_broker import EvalBroker


def _no_quota(namespace: str) -> str:
    return ""


class BlockedEvals:
    def __init__(self, broker: EvalBroker, quota_of: Callable[[str], str] = _no_quota) -> None:
        """`quota_of(namespace)` names the quota a namespace uses ("" = none)."""
        self._broker = broker
        self._quota_of = quota_of
        self._lock = threading.Lock()
        self._by_job: dict[tuple[str, str], Evaluation] = {}
        self._enabled = False
        # Raft index of the last unblock of capacity, of each quota, and of
        # each namespace whose quota attachment changed.
        self._capacity_at = 0
        self._quota_at: dict[str, int] = {}
        self._namespace_at: dict[str, int] = {}

    def set_enabled(self, enabled: bool, initial: list[Evaluation] | None = None) -> None:
        with self._lock:
            self._enabled = enabled
            self._by_job.clear()
            self._capacity_at = 0
            self._quota_at.clear()
            self._namespace_at.clear()
            for ev in initial or []:
                self._by_job[(ev.namespace, ev.job_id)] = ev

    def observe(self, ev: Evaluation) -> None:
        """Track an evaluation write: blocked ones are held, others released."""
        missed = False
        with self._lock:
            if not self._enabled:
                return
            key = (ev.namespace, ev.job_id)
            if ev.status == "blocked":
                self._by_job[key] = ev
                missed = ev.snapshot_index < self._unblocked_at(ev)
            elif key in self._by_job and self._by_job[key].id == ev.id:
                del self._by_job[key]
        if missed:
            self._broker.enqueue(ev)

    def _unblocked_at(self, ev: Evaluation) -> int:
        if not ev.quota_limit_reached:
            return self._capacity_at
        return max(
            self._quota_at.get(ev.quota_limit_reached, 0),
            self._namespace_at.get(ev.namespace, 0),
        )

    def for_job(self, namespace: str, job_id: str) -> Evaluation | None:
        with self._lock:
            return self._by_job.get((namespace, job_id))

    def unblock(
        self,
        index: int,
        *,
        capacity: bool = True,
        namespaces: Iterable[str] = (),
        quotas: Iterable[str] = (),
        repointed: Iterable[str] = (),
    ) -> None:
        """Send back the evaluations the change at Raft `index` may let place.

        `capacity`: cluster capacity grew (every capacity-blocked eval);
        `namespaces`: allocations of these namespaces stopped (their quotas);
        `quotas`: these specs changed or went away; `repointed`: these
        namespaces now use another quota (or none).
        """
        repointed = set(repointed)
        woken = set(quotas)
        woken.update(q for q in map(self._quota_of, set(namespaces)) if q)
        with self._lock:
            if not self._enabled:
                return
            if capacity:
                self._capacity_at = index
            for q in woken:
                self._quota_at[q] = index
            for ns in repointed:
                self._namespace_at[ns] = index
            evals = [
                ev
                for ev in self._by_job.values()
                if (
                    ev.quota_limit_reached in woken or ev.namespace in repointed
                    if ev.quota_limit_reached
                    else capacity
                )
            ]
        for ev in evals:
            self._broker.enqueue(ev)

    def unblock_all(self) -> None:
        """Every blocked evaluation back to the broker (capacity and quota)."""
        with self._lock:
            evals = list(self._by_job.values())
        for ev in evals:
            self._broker.enqueue(ev)

    def count(self) -> int:
        with self._lock:
            return len(self._by_job)

    def quota_blocked(self) -> list[Evaluation]:
        with self._lock:
            return [ev for ev in self._by_job.values() if ev.quota_limit_reached]
