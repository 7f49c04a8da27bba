"""Deployment watcher: moves running deployments along on the leader.

For every running deployment of the job's current version it:

    sets RequireProgressBy (now + progress_deadline; again on each newly healthy alloc)
    fails it on an unhealthy alloc or a missed progress deadline  -> auto-revert if asked
    auto-promotes canaries once they are all healthy
    marks it successful once every group has DesiredTotal healthy -> job version Stable
    asks for the next batch (a deployment-watcher evaluation) when health moves

A pass runs every TICK_S (deadlines), and on a change to the deployments
table or, while one runs, to the allocations table: never more than one per
MIN_PASS_INTERVAL_S, and never for the commits in between that touch
neither (the notifier's ready check keeps the thread parked).

Operator actions (promote, fail, pause/resume, manual alloc health) are built
here too, so both paths write the same DeploymentUpdate messages. Never
schedules and never changes counters: the state store keeps those.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from controlplane.errors import ValidationError
from controlplane.raft.messages import DeploymentUpdate, JobStable, MsgType
from controlplane.raft.node import RaftNode
from controlplane.state import StateStore
from controlplane.state.store import job_spec
from controlplane.structs import Deployment, DeploymentState, Evaluation, Job

log = logging.getLogger(__name__)

DESC_RUNNING = "Deployment is running"
DESC_MANUAL_PROMOTION = "Deployment is running but requires manual promotion"
DESC_AUTO_PROMOTION = "Deployment is running pending automatic promotion"
DESC_PAUSED = "Deployment is paused"
DESC_SUCCESS = "Deployment completed successfully"
DESC_UNHEALTHY = "Failed due to unhealthy allocations"
DESC_DEADLINE = "Failed due to progress deadline"
DESC_USER_FAIL = "Deployment marked as failed"

TICK_S = 1.0  # progress deadlines are checked at least this often
# passes triggered by changes are at least this far apart (coalesces a
# burst of commits into one pass; deadlines have a 1 s granularity anyway)
MIN_PASS_INTERVAL_S = 0.05


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def deployment_eval(dep: Deployment, job: Job | None, now_ns: int) -> Evaluation:
    return Evaluation(
        id=str(uuid.uuid4()),
        namespace=dep.namespace,
        priority=job.priority if job else 50,
        type=job.type if job else "service",
        triggered_by="deployment-watcher",
        job_id=dep.job_id,
        job_modify_index=job.job_modify_index if job else 0,
        deployment_id=dep.id,
        status="pending",
        create_time=now_ns,
        modify_time=now_ns,
    )


def _canaries_healthy(store: StateStore, state: DeploymentState) -> bool:
    ids = state.placed_canaries or []
    if len(ids) < state.desired_canaries:
        return False
    for alloc_id in ids:
        a = store.alloc_by_id(alloc_id)
        if a is None or a.deployment_status is None or a.deployment_status.healthy is not True:
            return False
    return True


def _revert_target(store: StateStore, dep: Deployment, job: Job) -> tuple[Job | None, str]:
    """The job spec an auto-revert registers, and the description suffix."""
    stable = [
        j
        for j in store.job_versions(dep.namespace, dep.job_id)
        if j.stable and j.version < dep.job_version
    ]
    if not stable:
        return None, " - no stable job version to auto revert to"
    target = max(stable, key=lambda j: j.version)
    if job_spec(target.replace(stop=False)) == job_spec(job):
        return None, (
            f" - not rolling back to stable job version {target.version} as current job "
            "has same specification"
        )
    return target.replace(stop=False), f" - rolling back to job version {target.version}"


def fail_update(
    store: StateStore, dep: Deployment, description: str, now: float
) -> DeploymentUpdate:
    """Fail `dep`; with auto_revert on any group, register the last stable version."""
    job = store.job_by_id(dep.namespace, dep.job_id)
    revert: Job | None = None
    evals: list[Evaluation] = []
    if job is not None and any(s.auto_revert for s in dep.task_groups.values()):
        revert, suffix = _revert_target(store, dep, job)
        description += suffix
        if revert is not None:
            ev = deployment_eval(dep, job, int(now * 1e9))
            evals.append(ev.replace(triggered_by="job-register", deployment_id=""))
    else:
        evals.append(deployment_eval(dep, job, int(now * 1e9)))
    return DeploymentUpdate(
        deployment_id=dep.id,
        status="failed",
        status_description=description,
        revert_job=revert,
        evals=evals,
        modify_time=int(now * 1e9),
        submit_time=int(now * 1e9),
    )


def promote_update(
    store: StateStore, dep: Deployment, groups: list[str], now: float
) -> DeploymentUpdate:
    """Promote canaries of `groups` (all when empty); refuses unhealthy canaries."""
    if dep.status != "running":
        raise ValidationError(f"Deployment {dep.id[:8]} is not running (status {dep.status})")
    wanted = groups or [n for n, s in dep.task_groups.items() if s.desired_canaries > 0]
    if not wanted:
        raise ValidationError("Deployment has no canaries to promote")
    for name in wanted:
        state = dep.task_groups.get(name)
        if state is None:
            raise ValidationError(f"Deployment does not include task group {name!r}")
        if state.desired_canaries == 0:
            raise ValidationError(f"Task group {name!r} has no canaries to promote")
        healthy = sum(
            1
            for i in state.placed_canaries or []
            if (a := store.alloc_by_id(i)) is not None
            and a.deployment_status is not None
            and a.deployment_status.healthy is True
        )
        if healthy < state.desired_canaries:
            raise ValidationError(
                f'Task group "{name}" has {healthy}/{state.desired_canaries} healthy allocations'
            )
    job = store.job_by_id(dep.namespace, dep.job_id)
    return DeploymentUpdate(
        deployment_id=dep.id,
        promote=True,
        groups=wanted,
        status_description=DESC_RUNNING,
        evals=[deployment_eval(dep, job, int(now * 1e9))],
        modify_time=int(now * 1e9),
    )


def pause_update(store: StateStore, dep: Deployment, pause: bool, now: float) -> DeploymentUpdate:
    if dep.status not in ("running", "paused"):
        raise ValidationError(f"Deployment {dep.id[:8]} is not active (status {dep.status})")
    job = store.job_by_id(dep.namespace, dep.job_id)
    return DeploymentUpdate(
        deployment_id=dep.id,
        status="paused" if pause else "running",
        status_description=DESC_PAUSED if pause else _running_description(dep),
        evals=[] if pause else [deployment_eval(dep, job, int(now * 1e9))],
        modify_time=int(now * 1e9),
    )


def _running_description(dep: Deployment) -> str:
    waiting = [s for s in dep.task_groups.values() if s.desired_canaries > 0 and not s.promoted]
    if not waiting:
        return DESC_RUNNING
    return DESC_AUTO_PROMOTION if all(s.auto_promote for s in waiting) else DESC_MANUAL_PROMOTION


def tables_moved(store: StateStore, seen: dict[str, int]) -> Callable[[], bool]:
    """A notifier ready check: one of `seen`'s tables is no longer at its
    index there. Lock-free and cheap: it runs in the Raft thread."""
    items = tuple(seen.items())
    table_index = store.table_index
    return lambda: any(table_index(t) != i for t, i in items)


def wait_for_change(
    store: StateStore,
    stop: threading.Event,
    ready: Callable[[], bool],
    timeout: float,
    started: float,
) -> None:
    """A leader loop's wait between passes: until `ready` holds after a
    commit, or `timeout`. A pass that `started` (monotonic) less than
    MIN_PASS_INTERVAL_S ago is not followed by another before then, so a
    burst of commits makes one pass, not one per commit."""
    if store.notifier.closed:
        stop.wait(timeout)  # shutting down: waits would return at once
    elif store.notifier.wait(timeout, ready=ready):
        left = MIN_PASS_INTERVAL_S - (time.monotonic() - started)
        if left > 0:
            stop.wait(left)


class DeploymentWatcher:
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
        # deployment id -> healthy count last acted on
        self._seen_healthy: dict[str, int] = {}
        # the last pass saw a running deployment
        self._watching = False

    def start(self) -> None:
        # a fresh event per run: a loop of an earlier term still parked in
        # its wait can never resume next to this one
        self._stop = threading.Event()
        self._seen_healthy.clear()
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name="deployment-watcher", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self, stop: threading.Event) -> None:
        store = self._store
        while not stop.is_set():
            started = time.monotonic()
            # read before the pass: a change during it makes another one
            seen = {t: store.table_index(t) for t in ("deployments", "allocs")}
            try:
                self.tick()
            except Exception:
                log.exception("deployment watcher: tick failed")
            if not self._watching:
                # only a deployment write can start one; allocations matter
                # (canary health) while one runs. A job write alone only
                # makes a deployment stale, which is left to the scheduler.
                del seen["allocs"]
            # a change it acts on, or the next second (progress deadlines)
            wait_for_change(store, stop, tables_moved(store, seen), self._tick_s, started)

    def tick(self) -> list[DeploymentUpdate]:
        """Examine every running deployment once; returns the updates written."""
        running: list[Deployment] = self._store.read(
            lambda s: [d for d in s.deployments("*") if d.status == "running"]
        )
        self._watching = bool(running)
        written = []
        for dep in running:
            try:
                update = self._examine(dep)
            except Exception:
                log.exception("deployment watcher: failed deployment_id=%s", dep.id)
                continue
            if update is not None:
                self._raft.submit(MsgType.DEPLOYMENT_UPDATE, update)
                written.append(update)
        return written

    def _examine(self, dep: Deployment) -> DeploymentUpdate | None:
        store = self._store
        job = store.job_by_id(dep.namespace, dep.job_id)
        if job is None or job.stop or job.version != dep.job_version:
            return None  # the scheduler cancels deployments of replaced or stopped jobs
        now = self._clock()
        now_ns = int(now * 1e9)
        groups = dep.task_groups

        if any(s.unhealthy_allocs > 0 for s in groups.values()):
            return fail_update(store, dep, DESC_UNHEALTHY, now)
        for s in groups.values():
            by = parse_time(s.require_progress_by)
            done = s.healthy_allocs >= s.desired_total
            if by is not None and now > by and not done:
                return fail_update(store, dep, DESC_DEADLINE, now)

        complete = all(
            s.healthy_allocs >= s.desired_total and (s.desired_canaries == 0 or s.promoted)
            for s in groups.values()
        )
        if complete:
            self._seen_healthy.pop(dep.id, None)
            return DeploymentUpdate(
                deployment_id=dep.id,
                status="successful",
                status_description=DESC_SUCCESS,
                job_stable=JobStable(
                    namespace=dep.namespace, job_id=dep.job_id, version=dep.job_version
                ),
                modify_time=now_ns,
            )

        waiting = {n: s for n, s in groups.items() if s.desired_canaries > 0 and not s.promoted}
        if (
            waiting
            and all(s.auto_promote for s in waiting.values())
            and all(_canaries_healthy(store, s) for s in waiting.values())
        ):
            return promote_update(store, dep, list(waiting), now)

        healthy = sum(s.healthy_allocs for s in groups.values())
        progressed = healthy > self._seen_healthy.get(dep.id, 0)
        deadlines = {
            n: rfc3339(now + s.progress_deadline / 1e9)
            for n, s in groups.items()
            if s.progress_deadline > 0 and (s.require_progress_by is None or progressed)
        }
        if not deadlines and not progressed:
            return None
        self._seen_healthy[dep.id] = healthy
        return DeploymentUpdate(
            deployment_id=dep.id,
            require_progress_by=deadlines,
            # newly healthy allocs free room for the next batch
            evals=[deployment_eval(dep, job, now_ns)] if progressed else [],
            modify_time=now_ns,
        )
