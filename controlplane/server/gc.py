"""Garbage collector: forgets what is finished, on the leader (Nomad's core scheduler GC).

Every GC_PERIOD_S it collects, in one GC entry:

- terminal evaluations older than EVAL_GC_S; terminal allocations older
  than ALLOC_GC_S whose job is stopped, dead or gone; but not those of a
  batch or sysbatch job that is stored and not stopped, which leave with
  the job (see _history_kept);
- jobs older than JOB_GC_S that are stopped, or dead batch / sysbatch jobs
  (periodic-launched and dispatched children included), whose evaluations
  and allocations are all terminal and older than JOB_GC_S, with them. A
  periodic or parameterized parent goes only once stopped (Nomad's
  jobIsGCable), and a job with an active deployment never goes;
- ACL tokens expired more than ACL_TOKEN_GC_S ago.

`force` (`nomadtui system gc`) ignores the ages (tokens: expired now).
Blocked evals are never collected. Nothing here decides what is terminal
for the scheduler; it only reads the store and writes one GC entry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from controlplane.raft.messages import GarbageCollect, MsgType
from controlplane.raft.node import RaftNode
from controlplane.state import StateStore
from controlplane.structs import Allocation, Job

log = logging.getLogger(__name__)

GC_PERIOD_S = 300.0
# Nomad's eval_gc_threshold, job_gc_threshold, acl_token_gc_threshold
EVAL_GC_S = 3600.0
ALLOC_GC_S = 3600.0
JOB_GC_S = 4 * 3600.0
ACL_TOKEN_GC_S = 3600.0

# jobs that finish by themselves (others are finished only once stopped)
_RUN_TO_COMPLETION = ("batch", "sysbatch")


def _alloc_done(a: Allocation) -> bool:
    # finished, or stopped before it ever started
    return a.client_terminal() or (a.desired_status != "run" and a.client_status == "pending")


def _is_parent(job: Job) -> bool:
    return job.periodic is not None or (job.parameterized_job is not None and not job.dispatched)


def _history_kept(job: Job | None) -> bool:
    """A stored, unstopped batch job keeps its evals and allocs until it goes
    itself: its status is read from them, and without its completed allocs
    the next evaluation would run it again (Nomad's gcEval)."""
    return job is not None and not job.stop and job.type in _RUN_TO_COMPLETION


def collect(store: StateStore, now_ns: int, force: bool = False) -> GarbageCollect:
    """What is old and finished enough to forget (pure, reads the store)."""

    def old(ts_ns: int, age_s: float) -> bool:
        return force or now_ns - ts_ns > age_s * 1e9

    def job_garbage(s: StateStore, j: Job) -> bool:
        """Nomad's jobIsGCable, then every eval and alloc terminal and old."""
        # a periodic or parameterized parent launches children: it goes only once stopped
        candidate = j.stop or (j.type in _RUN_TO_COMPLETION and not _is_parent(j))
        if not candidate or not old(j.submit_time, JOB_GC_S):
            return False
        evals = s.evals_by_job(j.namespace, j.id)
        allocs = s.allocs_by_job(j.namespace, j.id)
        if not j.stop and not evals and not allocs:
            return False  # never evaluated: pending, not dead
        if any(d.active() for d in s.deployments_by_job(j.namespace, j.id)):
            return False
        return all(e.terminal() and old(e.modify_time, JOB_GC_S) for e in evals) and all(
            _alloc_done(a) and old(a.modify_time, JOB_GC_S) for a in allocs
        )

    def pick(s: StateStore) -> GarbageCollect:
        evals: list[str] = []
        for e in s.evals("*"):
            if not e.terminal() or not old(e.modify_time, EVAL_GC_S):
                continue
            if not _history_kept(s.job_by_id(e.namespace, e.job_id)):
                evals.append(e.id)
        allocs: list[str] = []
        for a in s.allocs("*"):
            if not _alloc_done(a):
                continue
            job = s.job_by_id(a.namespace, a.job_id)
            if _history_kept(job):
                continue
            job_done = job is None or job.stop or s.job_status(job) == "dead"
            if job_done and old(a.modify_time, ALLOC_GC_S):
                allocs.append(a.id)
        jobs: list[tuple[str, str]] = []
        for j in s.jobs("*"):
            if job_garbage(s, j):
                jobs.append((j.namespace, j.id))
                allocs.extend(a.id for a in s.allocs_by_job(j.namespace, j.id))
                evals.extend(e.id for e in s.evals_by_job(j.namespace, j.id))
        expiry_cutoff = now_ns if force else now_ns - int(ACL_TOKEN_GC_S * 1e9)
        tokens = [t.accessor_id for t in s.acl_tokens() if t.expired(expiry_cutoff)]
        return GarbageCollect(
            eval_ids=sorted(set(evals)),
            alloc_ids=sorted(set(allocs)),
            jobs=sorted(set(jobs)),
            acl_token_ids=sorted(tokens),
        )

    result: GarbageCollect = store.read(pick)
    return result


class GarbageCollector:
    """The leader's GC loop: started on gaining leadership, stopped on losing it."""

    def __init__(
        self,
        raft: RaftNode,
        store: StateStore,
        clock: Callable[[], float] = time.time,
        period_s: float = GC_PERIOD_S,
    ) -> None:
        self._raft = raft
        self._store = store
        self._clock = clock
        self._period_s = period_s
        # one stop event per loop: a stale loop from an earlier term must not
        # be revived by a later start()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether a GC loop thread is alive (it ends soon after stop())."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._stop.set()
        stop = self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(stop,), name="gc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(self._period_s):
            try:
                self.run_once()
            except Exception:
                log.exception("gc: failed")

    def run_once(self, force: bool = False) -> GarbageCollect:
        garbage = collect(self._store, int(self._clock() * 1e9), force=force)
        if garbage.eval_ids or garbage.alloc_ids or garbage.jobs or garbage.acl_token_ids:
            self._raft.submit(MsgType.GC, garbage)
            log.info(
                "gc: forgot %d evaluations, %d allocations, %d jobs, %d expired ACL tokens",
                len(garbage.eval_ids),
                len(garbage.alloc_ids),
                len(garbage.jobs),
                len(garbage.acl_token_ids),
            )
        return garbage
