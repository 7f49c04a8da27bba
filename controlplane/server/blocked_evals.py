"""BlockedEvals: evaluations waiting for capacity, one per job.

When the FSM reports that capacity changed (a node became ready, allocations
stopped), every blocked evaluation goes back to the broker; the worker either
places the remainder (the eval completes) or writes it back as blocked.
"""

from __future__ import annotations

import threading

from controlplane.structs import Evaluation

from .eval_broker import EvalBroker


class BlockedEvals:
    def __init__(self, broker: EvalBroker) -> None:
        self._broker = broker
        self._lock = threading.Lock()
        self._by_job: dict[tuple[str, str], Evaluation] = {}
        self._enabled = False

    def set_enabled(self, enabled: bool, initial: list[Evaluation] | None = None) -> None:
        with self._lock:
            self._enabled = enabled
            self._by_job.clear()
            for ev in initial or []:
                self._by_job[(ev.namespace, ev.job_id)] = ev

    def observe(self, ev: Evaluation) -> None:
        """Track an evaluation write: blocked ones are held, others released."""
        with self._lock:
            if not self._enabled:
                return
            key = (ev.namespace, ev.job_id)
            if ev.status == "blocked":
                self._by_job[key] = ev
            elif key in self._by_job and self._by_job[key].id == ev.id:
                del self._by_job[key]

    def for_job(self, namespace: str, job_id: str) -> Evaluation | None:
        with self._lock:
            return self._by_job.get((namespace, job_id))

    def unblock_all(self) -> None:
        with self._lock:
            evals = list(self._by_job.values())
        for ev in evals:
            self._broker.enqueue(ev)

    def count(self) -> int:
        with self._lock:
            return len(self._by_job)
