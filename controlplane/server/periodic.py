"""Periodic dispatcher: launches the children of periodic jobs, on the leader.

Every tick it reads each active periodic parent (enabled, not stopped, not
a parameterized parent) and its replicated launch record, and launches the
cron times that are due: a child `<id>/periodic-<unix>` (the parent's spec
without the periodic block, with ParentID) with a `periodic-job`
evaluation, committed with the new launch record in ONE Raft entry. So a
new leader resumes from the last recorded launch: what was launched is not
launched again (and the FSM ignores a child that already exists), what was
missed while no leader ran is launched late, at most MAX_CATCH_UP of the
newest missed times (Nomad launches only the newest one). prohibit_overlap
skips a launch (recorded as such) while a child is not dead. The clock is
injected; `tick` is one synchronous pass, for tests. Never schedules.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from controlplane.errors import NotFound, ValidationError
from controlplane.raft.messages import MsgType, PeriodicLaunchMsg
from controlplane.raft.node import RaftNode
from controlplane.state import StateStore
from controlplane.structs import Evaluation, Job
from controlplane.structs.cron import CronError, next_launch
from controlplane.structs.periodic import (
    derive_job,
    is_periodic_active,
    periodic_child_id,
    periodic_specs,
)

log = logging.getLogger(__name__)

TICK_S = 0.25
MAX_CATCH_UP = 5
# a parent's launch history older than this is not searched for missed
# times (bounds the work after a long outage)
CATCH_UP_WINDOW_S = 7 * 86400.0
TRIGGER_PERIODIC = "periodic-job"


def due_launches(job: Job, last_launch_ns: int, now_s: float) -> list[datetime]:
    """The cron times of `job` after its last launch (or its submission) up to
    `now_s`, oldest first, at most the MAX_CATCH_UP newest. Pure."""
    p = job.periodic
    if p is None:
        return []
    base_s = max(last_launch_ns, job.submit_time) / 1e9
    base_s = max(base_s, now_s - CATCH_UP_WINDOW_S)
    due: deque[datetime] = deque(maxlen=MAX_CATCH_UP)
    t = datetime.fromtimestamp(base_s, UTC)
    specs = periodic_specs(job)
    while True:
        nxt = next_launch(specs, t, p.time_zone)
        if nxt is None or nxt.timestamp() > now_s:
            return list(due)
        due.append(nxt)
        t = nxt


def next_launch_of(job: Job, now_s: float) -> datetime | None:
    """When the dispatcher will next launch `job` (None when inactive)."""
    if not is_periodic_active(job) or job.periodic is None:
        return None
    try:
        return next_launch(
            periodic_specs(job), datetime.fromtimestamp(now_s, UTC), job.periodic.time_zone
        )
    except CronError:
        return None


def next_launch_rfc3339(job: Job, now_s: float) -> str | None:
    """NextPeriodicLaunch of a plan response (Go's time JSON), None when inactive."""
    nxt = next_launch_of(job, now_s)
    return nxt.astimezone(UTC).isoformat().replace("+00:00", "Z") if nxt else None


def derive_child(parent: Job, launch_s: int) -> Job:
    """The child launched for `launch_s`: the parent's spec without its periodic block."""
    return derive_job(parent, periodic_child_id(parent.id, launch_s), periodic=None)


def launch_message(parent: Job, launch_s: int, now_ns: int) -> PeriodicLaunchMsg:
    from .server import new_eval

    child = derive_child(parent, launch_s)
    ev = None if child.parameterized_job is not None else new_eval(child, TRIGGER_PERIODIC, now_ns)
    return PeriodicLaunchMsg(
        namespace=parent.namespace,
        job_id=parent.id,
        launch=launch_s * 10**9,
        job=child,
        eval=ev,
        submit_time=now_ns,
    )


def _has_live_child(store: StateStore, parent: Job) -> bool:
    return any(
        store.job_status(c) != "dead" for c in store.job_children(parent.namespace, parent.id)
    )


class PeriodicDispatcher:
    def __init__(
        self,
        raft: RaftNode,
        store: StateStore,
        clock: Callable[[], float] = time.time,
        tick_s: float = TICK_S,
    ) -> None:
        self._raft = raft
        self._store = store
        self._clock = clock
        self._tick_s = tick_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="periodic", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.tick()
            except Exception:
                log.exception("periodic: dispatch pass failed")

    def tick(self) -> list[str]:
        """Launch everything due now; the IDs of the children launched."""
        now = self._clock()
        # the store's periodic-parent index: O(parents), not a scan of every job
        parents = self._store.read(lambda s: s.periodic_parents())
        launched: list[str] = []
        for job in parents:
            if self._stop.is_set() and self._thread is not None:
                break
            try:
                launched += self._launch_due(job, now)
            except Exception:
                log.exception("periodic: launch failed job_id=%s", job.id)
        return launched

    def _launch_due(self, job: Job, now: float) -> list[str]:
        record = self._store.periodic_launch(job.namespace, job.id)
        launched: list[str] = []
        for at in due_launches(job, record.launch if record else 0, now):
            launch_s = int(at.timestamp())
            msg = launch_message(job, launch_s, int(now * 1e9))
            if self._overlaps(job):
                log.info(
                    "periodic: skipping launch of job_id=%s: a child is still running "
                    "(prohibit_overlap)",
                    job.id,
                )
                msg = msg.replace(job=None, eval=None)
            result = self._raft.submit(MsgType.PERIODIC_LAUNCH, msg)
            if msg.job is not None and result.data.get("Launched"):
                log.info("periodic: launched job_id=%s child=%s", job.id, msg.job.id)
                launched.append(msg.job.id)
        return launched

    def _overlaps(self, job: Job) -> bool:
        if job.periodic is None or not job.periodic.prohibit_overlap:
            return False
        return bool(self._store.read(lambda s: _has_live_child(s, job)))


async def force_launch(
    raft: RaftNode, store: StateStore, namespace: str, job_id: str, now_s: float
) -> dict[str, Any]:
    """`job periodic force`: launch a child now, overlap or not (as Nomad)."""
    job = store.job_by_id(namespace, job_id)
    if job is None:
        raise NotFound("job not found")
    if job.periodic is None:
        raise ValidationError("can't force launch non-periodic job")
    if not is_periodic_active(job):
        raise ValidationError(f'can\'t force run non-tracked job "{job_id}" ({namespace})')
    msg = launch_message(job, int(now_s), int(now_s * 1e9))
    result = await raft.submit_async(MsgType.PERIODIC_LAUNCH, msg)
    ev: Evaluation | None = msg.eval if result.data.get("Launched") else None
    if ev is None and msg.job is not None:
        # launched in this very second already: report that child's evaluation
        evals = store.evals_by_job(namespace, msg.job.id)
        ev = evals[0] if evals else None
    return {
        "EvalID": ev.id if ev else "",
        "EvalCreateIndex": ev.create_index if ev and ev.create_index else result.index,
        "Index": result.index,
    }
