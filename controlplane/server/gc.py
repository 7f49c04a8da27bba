"""Garbage collector: forgets what is finished, on the leader.

Every GC_PERIOD_S it collects terminal evaluations older than EVAL_GC_S,
terminal allocations older than ALLOC_GC_S whose job is stopped, dead or
gone, and stopped jobs older than JOB_GC_S with no live allocation or
evaluation. `force` (`nomadtui system gc`) ignores the ages. Blocked evals
and anything a live deployment points at are kept. Writes one GC entry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from controlplane.raft.messages import GarbageCollect, MsgType
from controlplane.raft.node import RaftNode
from controlplane.state import StateStore

log = logging.getLogger(__name__)

GC_PERIOD_S = 300.0
EVAL_GC_S = 3600.0
ALLOC_GC_S = 3600.0
JOB_GC_S = 4 * 3600.0


def collect(store: StateStore, now_ns: int, force: bool = False) -> GarbageCollect:
    """What is old and finished enough to forget (pure, reads the store)."""

    def old(ts_ns: int, age_s: float) -> bool:
        return force or now_ns - ts_ns > age_s * 1e9

    def pick(s: StateStore) -> GarbageCollect:
        evals = [
            e.id
            for e in s.evals("*")
            if e.status in ("complete", "failed", "canceled") and old(e.modify_time, EVAL_GC_S)
        ]
        allocs: list[str] = []
        jobs: list[tuple[str, str]] = []
        for a in s.allocs("*"):
            # finished, or stopped before it ever started
            done = a.client_terminal() or (
                a.desired_status != "run" and a.client_status == "pending"
            )
            if not done:
                continue
            # allocs of a live job stay: a batch job's completed allocs are
            # what keeps the scheduler from running them again
            job = s.job_by_id(a.namespace, a.job_id)
            job_done = job is None or job.stop or s.job_status(job) == "dead"
            if job_done and old(a.modify_time, ALLOC_GC_S):
                allocs.append(a.id)
        for j in s.jobs("*"):
            if not j.stop or not old(j.submit_time, JOB_GC_S):
                continue
            live = [a for a in s.allocs_by_job(j.namespace, j.id) if not a.client_terminal()]
            pending = [e for e in s.evals_by_job(j.namespace, j.id) if not e.terminal()]
            if not live and not pending:
                jobs.append((j.namespace, j.id))
                allocs.extend(a.id for a in s.allocs_by_job(j.namespace, j.id))
                evals.extend(e.id for e in s.evals_by_job(j.namespace, j.id))
        return GarbageCollect(
            eval_ids=sorted(set(evals)), alloc_ids=sorted(set(allocs)), jobs=sorted(set(jobs))
        )

    result: GarbageCollect = store.read(pick)
    return result


class GarbageCollector:
    def __init__(
        self, raft: RaftNode, store: StateStore, clock: Callable[[], float] = time.time
    ) -> None:
        self._raft = raft
        self._store = store
        self._clock = clock
        self._stop = threading.Event()

    def start(self) -> None:
        self._stop.clear()
        threading.Thread(target=self._run, name="gc", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(GC_PERIOD_S):
            try:
                self.run_once()
            except Exception:
                log.exception("gc: failed")

    def run_once(self, force: bool = False) -> GarbageCollect:
        garbage = collect(self._store, int(self._clock() * 1e9), force=force)
        if garbage.eval_ids or garbage.alloc_ids or garbage.jobs:
            self._raft.submit(MsgType.GC, garbage)
            log.info(
                "gc: forgot %d evaluations, %d allocations, %d jobs",
                len(garbage.eval_ids),
                len(garbage.alloc_ids),
                len(garbage.jobs),
            )
        return garbage
