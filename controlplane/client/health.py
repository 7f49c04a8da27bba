"""Allocation health for deployments (Nomad's client "alloc health watcher")
as a pure tracker: fed task states, it decides once whether an allocation
became healthy, reading time only from an injected clock. It never sleeps,
reports or touches tasks; the alloc runner waits until `recheck_at` and
sends the decision to the servers.

Modes (`update.health_check` of the task group):

    task_states  healthy once every watched task is running and has stayed
                 running, without a restart or failure, for min_healthy_time
    checks       the same, and the group's service checks passing for that
                 long (fed through `HealthTracker.set_checks`; a group
                 without checks is tracked as task_states).
    manual       not tracked: an operator sets health through the API

Unhealthy as soon as a watched task fails, restarts or dies, when the
allocation turns client-terminal, or when healthy_deadline passes first.

Watched tasks are main tasks and sidecars. Ephemeral lifecycle tasks
(prestart / poststart without `sidecar`) need not keep running but must not
fail; poststop tasks are ignored (they run after the main tasks end).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from controlplane.structs import SEC, Allocation, Task, TaskState
from controlplane.structs.consts import TaskStateValue

from .restarts import go_duration


class HealthCheckMode(StrEnum):
    """`update.health_check` values, exactly Nomad's strings."""

    CHECKS = "checks"
    TASK_STATES = "task_states"
    MANUAL = "manual"


class TaskRole(StrEnum):
    WATCHED = "watched"  # must be running: main tasks and sidecars
    EPHEMERAL = "ephemeral"  # prestart/poststart run-to-completion: must not fail
    IGNORED = "ignored"  # poststop


@dataclass(frozen=True)
class HealthSettings:
    mode: HealthCheckMode
    min_healthy_time_s: float
    healthy_deadline_s: float  # 0: no deadline


@dataclass(frozen=True)
class HealthDecision:
    """`healthy` is None until decided; then it never changes."""

    healthy: bool | None
    reason: str = ""
    # clock time at which the decision may change without new input
    recheck_at: float | None = None


def health_settings(alloc: Allocation) -> HealthSettings | None:
    """How the client tracks this allocation's health; None when it does not
    (no deployment, no update strategy, `manual`, or an unknown mode)."""
    if not alloc.deployment_id or alloc.job is None:
        return None
    group = alloc.job.group(alloc.task_group)
    if group is None:
        return None
    # servers canonicalise the job-level block into each group; fall back anyway
    update = group.update or alloc.job.update
    if update is None:
        return None
    try:
        mode = HealthCheckMode(update.health_check or HealthCheckMode.CHECKS)
    except ValueError:
        return None
    if mode is HealthCheckMode.MANUAL:
        return None
    return HealthSettings(
        mode=mode,
        min_healthy_time_s=update.min_healthy_time / SEC,
        healthy_deadline_s=update.healthy_deadline / SEC,
    )


def task_role(task: Task) -> TaskRole:
    lc = task.lifecycle
    if lc is None or not lc.hook:
        return TaskRole.WATCHED
    if lc.hook == "poststop":
        return TaskRole.IGNORED
    return TaskRole.WATCHED if lc.sidecar else TaskRole.EPHEMERAL


class HealthTracker:
    """Decides one allocation's health for one deployment."""

    def __init__(
        self,
        settings: HealthSettings,
        tasks: Iterable[Task],
        states: Mapping[str, TaskState] | None = None,
        clock: Callable[[], float] = time.monotonic,
        checks_required: bool = False,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._roles = {t.name: task_role(t) for t in tasks}
        states = states or {}
        # tracking may begin late (an in-place update into a new deployment):
        # only restarts from now on count against this deployment
        self._baseline = {name: st.restarts for name, st in states.items()}
        now = clock()
        self._deadline_at = (
            now + settings.healthy_deadline_s if settings.healthy_deadline_s > 0 else None
        )
        self._checks_required = checks_required
        self._checks_since: float | None = None
        self._running_since: float | None = None
        self._decision: HealthDecision | None = None
        self.observe(states)

    @property
    def decision(self) -> HealthDecision | None:
        return self._decision

    def observe(self, states: Mapping[str, TaskState]) -> HealthDecision:
        """Take the allocation's current task states."""
        if self._decision is not None:
            return self._decision
        all_running = True
        for name, role in self._roles.items():
            if role is TaskRole.IGNORED:
                continue
            st = states.get(name)
            if st is None:
                all_running = False
                continue
            if st.failed:
                return self._decide(False, f'Task "{name}" failed')
            if role is TaskRole.EPHEMERAL:
                continue
            if st.restarts > self._baseline.get(name, 0):
                return self._decide(False, f'Task "{name}" restarted')
            if st.state == TaskStateValue.DEAD:
                return self._decide(False, f'Task "{name}" is no longer running')
            if st.state != TaskStateValue.RUNNING:
                all_running = False
        if not all_running:
            self._running_since = None
        elif self._running_since is None:
            self._running_since = self._clock()
        return self.check()

    def set_checks(self, passing: bool) -> HealthDecision:
        """Service checks of the group all passing, or not (mode `checks`)."""
        if self._decision is not None:
            return self._decision
        if not passing:
            self._checks_since = None
        elif self._checks_since is None:
            self._checks_since = self._clock()
        return self.check()

    def alloc_terminal(self) -> HealthDecision:
        """The allocation ended (complete/failed) before a decision."""
        if self._decision is not None:
            return self._decision
        return self._decide(False, "Allocation stopped before becoming healthy")

    def check(self) -> HealthDecision:
        """Decide on the clock alone (min_healthy_time reached, deadline passed)."""
        if self._decision is not None:
            return self._decision
        now = self._clock()
        deadline = self._deadline_at
        healthy_at = self._healthy_at()
        if healthy_at is not None and (deadline is None or healthy_at <= deadline):
            if healthy_at <= now:
                return self._decide(True, "")
        else:
            healthy_at = None  # cannot beat the deadline from here
        if deadline is not None and now >= deadline:
            return self._decide(False, self._deadline_reason())
        candidates = [t for t in (healthy_at, deadline) if t is not None]
        return HealthDecision(None, recheck_at=min(candidates) if candidates else None)

    def _healthy_at(self) -> float | None:
        since = self._running_since
        if since is None:
            return None
        if self._checks_required:
            if self._checks_since is None:
                return None
            since = max(since, self._checks_since)
        return since + self.settings.min_healthy_time_s

    def _deadline_reason(self) -> str:
        s = self.settings
        deadline = go_duration(s.healthy_deadline_s)
        if self._running_since is None:
            return f"Task not running by healthy_deadline of {deadline}"
        if self._checks_required and self._checks_since is None:
            return f"Checks not passing by healthy_deadline of {deadline}"
        return (
            f"Task not running for min_healthy_time of {go_duration(s.min_healthy_time_s)} "
            f"by healthy_deadline of {deadline}"
        )

    def _decide(self, healthy: bool, reason: str) -> HealthDecision:
        self._decision = HealthDecision(healthy, reason)
        return self._decision
