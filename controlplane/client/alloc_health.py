"""Deployment health of one running allocation: while it belongs to a
deployment whose group tracks health (health.py), task changes feed a
HealthTracker and a watcher thread sleeps until its next deadline.

The verdict is handed to `on_verdict` once per deployment (the alloc runner
sends it as `deployment_status` on one update; later updates carry None and
the servers keep the last one). An in-place update into another deployment
starts tracking again. In mode `checks` the alloc runner feeds the verdict
of the service checks through `checks_changed`. Killing the allocation (server stop, agent shutdown)
ends tracking without a verdict. Never reports or touches tasks itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from controlplane.structs import Allocation, AllocDeploymentStatus, TaskState
from controlplane.structs.consts import AllocClientStatus

from .health import HealthCheckMode, HealthDecision, HealthTracker, health_settings
from .wiretime import rfc3339

log = logging.getLogger(__name__)

VerdictSink = Callable[[str, HealthDecision, AllocDeploymentStatus], None]


class AllocHealthWatcher:
    def __init__(
        self,
        alloc_id: str,
        get_alloc: Callable[[], Allocation],
        get_states: Callable[[], dict[str, TaskState]],
        client_status: Callable[[dict[str, TaskState]], AllocClientStatus],
        on_verdict: VerdictSink,
        clock: Callable[[], float] = time.time,
        health_clock: Callable[[], float] = time.monotonic,
        checks_required: Callable[[], bool] = lambda: False,
    ) -> None:
        self.id = alloc_id
        self._get_alloc = get_alloc
        self._get_states = get_states
        self._client_status = client_status
        self._on_verdict = on_verdict
        self._clock = clock
        self._health_clock = health_clock
        # all guarded by _cond
        self._cond = threading.Condition()
        self._tracker: HealthTracker | None = None
        self._gen = 0  # bumped to end the watcher of an older deployment
        self._deployment = ""  # the deployment _tracker tracks
        self._decided_for = ""  # deployment whose health is known
        self._status: AllocDeploymentStatus | None = None
        self._killed = False
        # mode `checks`: whether the group has checks, and their latest verdict
        self._checks_required = checks_required
        self._checks_passing = False

    @property
    def deployment_status(self) -> AllocDeploymentStatus | None:
        """The health decided for the current deployment, if any."""
        return self._status

    def decided_elsewhere(self, alloc: Allocation) -> None:
        """Health the allocation already carries (restored, or set by an
        operator) leaves nothing to decide for its deployment."""
        ds = alloc.deployment_status
        if ds is not None and ds.healthy is not None:
            with self._cond:
                self._decided_for = alloc.deployment_id

    def start(self) -> None:
        """(Re)start tracking for the allocation's current deployment."""
        alloc = self._get_alloc()
        job = alloc.job
        group = job.group(alloc.task_group) if job is not None else None
        settings = health_settings(alloc)
        with self._cond:
            self._gen += 1
            self._tracker = None
            self._cond.notify_all()
            if alloc.deployment_id != self._decided_for:
                self._status = None
            if (
                self._killed
                or settings is None
                or group is None
                or alloc.deployment_id == self._decided_for
            ):
                return
            tracker = HealthTracker(
                settings,
                group.tasks,
                self._get_states(),
                clock=self._health_clock,
                checks_required=settings.mode is HealthCheckMode.CHECKS and self._checks_required(),
            )
            tracker.set_checks(self._checks_passing)
            self._tracker = tracker
            self._deployment = alloc.deployment_id
            gen = self._gen
        log.debug(
            "tracking alloc health alloc_id=%s deployment_id=%s mode=%s",
            self.id,
            alloc.deployment_id,
            settings.mode,
        )
        threading.Thread(
            target=self._watch,
            args=(gen, tracker),
            name=f"alloc-health-{self.id[:8]}",
            daemon=True,
        ).start()

    def stop(self, killed: bool = False, decided: bool = False) -> None:
        with self._cond:
            self._killed = self._killed or killed
            if decided:
                self._decided_for = self._get_alloc().deployment_id
            self._gen += 1
            self._tracker = None
            self._cond.notify_all()

    def observe(self) -> None:
        """Feed the tracker a task change; a verdict it causes is handed on at
        once, from the task's thread, before the change itself is reported."""
        with self._cond:
            tracker = self._tracker
            if tracker is None:
                return
            states = self._get_states()
            tracker.observe(states)
            status = self._client_status(states)
            if status in (AllocClientStatus.COMPLETE, AllocClientStatus.FAILED):
                tracker.alloc_terminal()
            verdict = self._take_verdict(tracker)
            self._cond.notify_all()
        if verdict is not None:
            self._send(*verdict)

    def checks_changed(self, passing: bool) -> None:
        """The service checks of the allocation all pass now, or not (mode
        `checks`: they must pass continuously for min_healthy_time)."""
        with self._cond:
            self._checks_passing = passing
            tracker = self._tracker
            if tracker is None:
                return
            tracker.set_checks(passing)
            verdict = self._take_verdict(tracker)
            self._cond.notify_all()
        if verdict is not None:
            self._send(*verdict)

    def _watch(self, gen: int, tracker: HealthTracker) -> None:
        """Wait for the clock to decide (min_healthy_time, healthy_deadline),
        sleeping until the tracker's next deadline; task changes wake it."""
        with self._cond:
            while True:
                if gen != self._gen:
                    return  # decided elsewhere, killed, or another deployment
                decision = tracker.check()
                if decision.healthy is not None:
                    verdict = self._take_verdict(tracker)
                    break
                timeout = None
                if decision.recheck_at is not None:
                    timeout = max(0.0, decision.recheck_at - self._health_clock())
                self._cond.wait(timeout)
        if verdict is not None:
            self._send(*verdict)

    def _take_verdict(
        self, tracker: HealthTracker
    ) -> tuple[str, HealthDecision, AllocDeploymentStatus] | None:
        """Under _cond: claim the tracker's decision, exactly once."""
        decision = tracker.decision
        if decision is None or decision.healthy is None or tracker is not self._tracker:
            return None
        self._tracker = None
        self._gen += 1
        self._decided_for = self._deployment
        prior = self._get_alloc().deployment_status
        self._status = AllocDeploymentStatus(
            healthy=decision.healthy,
            timestamp=rfc3339(self._clock()),
            # the servers own the canary flag: hand back what they set
            canary=prior.canary if prior is not None else False,
        )
        return self._deployment, decision, self._status

    def _send(
        self, deployment_id: str, decision: HealthDecision, dstatus: AllocDeploymentStatus
    ) -> None:
        log.info(
            "alloc health alloc_id=%s deployment_id=%s healthy=%s %s",
            self.id,
            deployment_id,
            decision.healthy,
            decision.reason,
        )
        self._on_verdict(deployment_id, decision, dstatus)


def health_set_elsewhere(old: Allocation, new: Allocation) -> bool:
    """The servers' health for this deployment changed under us (an operator
    set it through the API). Compare versions, not values: a stale status
    from an earlier deployment must not count."""
    before, after = old.deployment_status, new.deployment_status
    if after is None or after.healthy is None:
        return False
    if before is None:
        return True
    return (before.healthy, before.timestamp) != (after.healthy, after.timestamp)
