"""Allocation runner: builds an allocation's directory, runs every task of
its group concurrently (one TaskRunner thread each), and derives the
allocation's client status from the task states.

It reports each change as a full AllocClientUpdate through `on_update`; it
never talks to the servers itself (the agent batches the updates).

Client status, from the task states (a failed task wins):

    any task dead+failed  -> failed   "Failed tasks"
    any task running      -> running  "Tasks are running"
    any task pending      -> pending  "No tasks have started"
    all tasks dead        -> complete "All tasks have completed"

When one task fails, its siblings are killed ("Sibling Task Failed").
Operators restart tasks in place ("Restart Signaled") or signal them
through `restart` / `signal` (the client allocation endpoints).

Deployment health: while the allocation belongs to a deployment whose group
tracks health (health.py), task changes feed a HealthTracker and a watcher
thread sleeps until its next deadline. The verdict is sent once per
deployment, as `deployment_status` on one update (later updates carry None;
the servers keep the last one). An in-place update into another deployment
starts tracking again. Killing the allocation (server stop, agent
shutdown) ends tracking without a verdict.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from controlplane.drivers.base import Driver, TaskHandle
from controlplane.errors import NotFound, ValidationError
from controlplane.structs import (
    Allocation,
    AllocClientUpdate,
    AllocDeploymentStatus,
    Node,
    TaskEvent,
    TaskState,
)
from controlplane.structs.consts import AllocClientStatus, TaskEventType, TaskStateValue

from .allocdir import AllocDir
from .health import HealthDecision, HealthTracker, health_settings
from .task_runner import TaskRunner
from .wiretime import rfc3339, unix_nanos

log = logging.getLogger(__name__)

# operator actions (restart / signal endpoints)
RESTART_SIGNALED = "Restart Signaled"
SIGNALING = "Signaling"

DESCRIPTIONS = {
    AllocClientStatus.PENDING: "No tasks have started",
    AllocClientStatus.RUNNING: "Tasks are running",
    AllocClientStatus.COMPLETE: "All tasks have completed",
    AllocClientStatus.FAILED: "Failed tasks",
}


def client_status(states: Iterable[TaskState]) -> tuple[AllocClientStatus, str]:
    """(ClientStatus, ClientDescription) of an allocation from its task states."""
    failed = running = pending = dead = False
    for st in states:
        if st.state == TaskStateValue.RUNNING:
            running = True
        elif st.state == TaskStateValue.DEAD:
            if st.failed:
                failed = True
            else:
                dead = True
        else:
            pending = True
    if failed:
        status = AllocClientStatus.FAILED
    elif running:
        status = AllocClientStatus.RUNNING
    elif pending or not dead:
        status = AllocClientStatus.PENDING
    else:
        status = AllocClientStatus.COMPLETE
    return status, DESCRIPTIONS[status]


HandleSink = Callable[[str, str, TaskHandle | None], None]


class AllocRunner:
    def __init__(
        self,
        alloc: Allocation,
        node: Node,
        drivers: Mapping[str, Driver],
        alloc_root: Path,
        on_update: Callable[[AllocClientUpdate], None],
        on_handle: HandleSink | None = None,
        clock: Callable[[], float] = time.time,
        region: str = "global",
        task_poll_s: float = 0.1,
        health_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.alloc = alloc
        self.id = alloc.id
        self.node = node
        self.alloc_dir = AllocDir(alloc_root, alloc.id)
        self._drivers = drivers
        self._on_update = on_update
        self._on_handle = on_handle
        self._clock = clock
        self._region = region
        self._task_poll_s = task_poll_s
        self._lock = threading.Lock()
        self._report_lock = threading.RLock()
        self._tasks: dict[str, TaskRunner] = {}
        self._last_sent: tuple[str, str, dict[str, TaskState]] | None = None
        self._siblings_killed = False
        self._started = False
        # deployment health; all guarded by _health_cond
        self._health_clock = health_clock
        self._health_cond = threading.Condition()
        self._health: HealthTracker | None = None
        self._health_gen = 0  # bumped to end the watcher of an older deployment
        self._health_deployment = ""  # the deployment _health tracks
        self._health_decided_for = ""  # deployment whose health is known
        self._deployment_status: AllocDeploymentStatus | None = None
        self._killed = False

    # ---- public API -------------------------------------------------

    @property
    def tasks(self) -> dict[str, TaskRunner]:
        return dict(self._tasks)

    def task_states(self) -> dict[str, TaskState]:
        return {name: tr.state for name, tr in self._tasks.items()}

    @property
    def done(self) -> bool:
        """Every task runner finished (or there were none to start)."""
        return self._started and all(tr.done for tr in self._tasks.values())

    def run(self) -> None:
        """Build the alloc dir and start every task (non-blocking)."""
        job = self.alloc.job
        group = job.group(self.alloc.task_group) if job is not None else None
        if group is None:
            log.error(
                "alloc has no task group alloc_id=%s group=%s", self.id, self.alloc.task_group
            )
            self._started = True
            self._report(AllocClientStatus.FAILED, "Failed tasks")
            return
        self.alloc_dir.build(t.name for t in group.tasks)
        for task in group.tasks:
            self._tasks[task.name] = TaskRunner(
                alloc=self.alloc,
                task=task,
                driver=self._drivers.get(task.driver),
                alloc_dir=self.alloc_dir,
                node=self.node,
                on_change=self._task_changed,
                on_handle=self._handle_changed,
                clock=self._clock,
                region=self._region,
                poll_s=self._task_poll_s,
            )
        self._started = True
        ds = self.alloc.deployment_status
        if ds is not None and ds.healthy is not None:
            # restored, or an operator set it: nothing left to decide
            self._health_decided_for = self.alloc.deployment_id
        self._start_health()
        for tr in self._tasks.values():
            tr.start()

    def update(self, alloc: Allocation) -> None:
        """A newer version of the allocation from the servers."""
        old, self.alloc = self.alloc, alloc
        for tr in self._tasks.values():
            tr.update(alloc)
        if alloc.desired_status != "run":
            self.kill()
        elif alloc.deployment_id != old.deployment_id:
            self._start_health()
        elif _health_set_elsewhere(old, alloc):
            self._stop_health(decided=True)

    def kill(self) -> None:
        """Stop every task (asynchronous; see `wait`)."""
        # stopped on purpose: not the allocation's fault, so no health verdict
        self._stop_health(killed=True)
        for tr in self._tasks.values():
            tr.kill()

    def restart(self, task: str = "", all_tasks: bool = False) -> list[str]:
        """Restart `task` (or every running task) in place; returns the names.

        NotFound for an unknown task, ValidationError when nothing is running.
        """
        runners = self._select(task)
        if task:
            reason = "User requested task to restart"
        elif all_tasks:
            reason = "User requested all tasks to restart"
        else:
            reason = "User requested running tasks to restart"
        event = TaskEvent(
            type=RESTART_SIGNALED,
            time=unix_nanos(self._clock()),
            message=reason,
            display_message=reason,
            restart_reason=reason,
        )
        done = [tr.name for tr in runners if tr.restart(event)]
        if not done:
            raise ValidationError("Task not running")
        return done

    def signal(self, signal: str, task: str = "") -> list[str]:
        """Send `signal` to `task` (or every running task); returns the names."""
        event = TaskEvent(
            type=SIGNALING,
            time=unix_nanos(self._clock()),
            message="Task being sent a signal",
            display_message=f"Task being sent signal {signal}",
            details={"signal": signal},
        )
        done = [tr.name for tr in self._select(task) if tr.signal(signal, event)]
        if not done:
            raise ValidationError("Task not running")
        return done

    def _select(self, task: str) -> list[TaskRunner]:
        if not task:
            return list(self._tasks.values())
        tr = self._tasks.get(task)
        if tr is None:
            raise NotFound(f"Could not find task runner for task: {task}")
        return [tr]

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        for tr in list(self._tasks.values()):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not tr.wait(left):
                return False
        return True

    def destroy(self) -> None:
        """Kill the tasks, wait for them, and remove the allocation directory."""
        self.kill()
        self.wait()
        self.alloc_dir.destroy()

    def current_update(self) -> AllocClientUpdate:
        states = self.task_states()
        status, desc = client_status(states.values())
        return AllocClientUpdate(
            id=self.id,
            client_status=status,
            client_description=desc,
            task_states=states,
            deployment_status=self._deployment_status,
            modify_time=unix_nanos(self._clock()),
        )

    @property
    def deployment_status(self) -> AllocDeploymentStatus | None:
        """The health this runner decided for the current deployment, if any."""
        return self._deployment_status

    # ---- callbacks from task runners -------------------------------

    def _handle_changed(self, task: str, handle: TaskHandle | None) -> None:
        if self._on_handle is not None:
            self._on_handle(self.id, task, handle)

    def _task_changed(self, task: str) -> None:
        if not self._started:
            return
        self._maybe_kill_siblings(task, self.task_states())
        self._observe_health()
        # Several task threads report. Reading the states and handing them on
        # under one lock keeps a slower thread from overwriting a newer
        # snapshot with an older one; on_update must not block.
        with self._report_lock:
            states = self.task_states()
            status, desc = client_status(states.values())
            snapshot = (str(status), desc, states)
            if self._last_sent == snapshot:
                return
            self._last_sent = snapshot
            self._on_update(
                AllocClientUpdate(
                    id=self.id,
                    client_status=status,
                    client_description=desc,
                    task_states=states,
                    modify_time=unix_nanos(self._clock()),
                )
            )

    def _maybe_kill_siblings(self, task: str, states: Mapping[str, TaskState]) -> None:
        st = states.get(task)
        if st is None or st.state != TaskStateValue.DEAD or not st.failed:
            return
        with self._lock:
            if self._siblings_killed:
                return
            self._siblings_killed = True
        event = TaskEvent(
            type=TaskEventType.SIBLING_FAILED,
            time=unix_nanos(self._clock()),
            message=f'Task\'s sibling "{task}" failed',
            display_message=f'Task\'s sibling "{task}" failed',
        )
        for name, tr in self._tasks.items():
            if name != task:
                tr.kill(event)

    def _report(self, status: AllocClientStatus, desc: str) -> None:
        self._on_update(
            AllocClientUpdate(
                id=self.id,
                client_status=status,
                client_description=desc,
                task_states={},
                modify_time=unix_nanos(self._clock()),
            )
        )

    # ---- deployment health ------------------------------------------

    def _start_health(self) -> None:
        """(Re)start health tracking for the allocation's current deployment."""
        alloc = self.alloc
        job = alloc.job
        group = job.group(alloc.task_group) if job is not None else None
        settings = health_settings(alloc)
        with self._health_cond:
            self._health_gen += 1
            self._health = None
            self._health_cond.notify_all()
            if alloc.deployment_id != self._health_decided_for:
                self._deployment_status = None
            if (
                self._killed
                or settings is None
                or group is None
                or alloc.deployment_id == self._health_decided_for
            ):
                return
            # Seam for `checks`: until services and their checks exist nothing
            # feeds HealthTracker.set_checks, so checks are not required yet.
            tracker = HealthTracker(
                settings, group.tasks, self.task_states(), clock=self._health_clock
            )
            self._health = tracker
            self._health_deployment = alloc.deployment_id
            gen = self._health_gen
        log.debug(
            "tracking alloc health alloc_id=%s deployment_id=%s mode=%s",
            self.id,
            alloc.deployment_id,
            settings.mode,
        )
        threading.Thread(
            target=self._watch_health,
            args=(gen, tracker),
            name=f"alloc-health-{self.id[:8]}",
            daemon=True,
        ).start()

    def _stop_health(self, killed: bool = False, decided: bool = False) -> None:
        with self._health_cond:
            self._killed = self._killed or killed
            if decided:
                self._health_decided_for = self.alloc.deployment_id
            self._health_gen += 1
            self._health = None
            self._health_cond.notify_all()

    def _observe_health(self) -> None:
        """Feed the tracker a task change; a verdict it causes is sent at once,
        from the task's thread, before the change itself is reported."""
        with self._health_cond:
            tracker = self._health
            if tracker is None:
                return
            states = self.task_states()
            tracker.observe(states)
            status, _ = client_status(states.values())
            if status in (AllocClientStatus.COMPLETE, AllocClientStatus.FAILED):
                tracker.alloc_terminal()
            verdict = self._take_verdict(tracker)
            self._health_cond.notify_all()
        if verdict is not None:
            self._send_health(*verdict)

    def _watch_health(self, gen: int, tracker: HealthTracker) -> None:
        """Wait for the clock to decide (min_healthy_time, healthy_deadline),
        sleeping until the tracker's next deadline; task changes wake it."""
        with self._health_cond:
            while True:
                if gen != self._health_gen:
                    return  # decided elsewhere, killed, or another deployment
                decision = tracker.check()
                if decision.healthy is not None:
                    verdict = self._take_verdict(tracker)
                    break
                timeout = None
                if decision.recheck_at is not None:
                    timeout = max(0.0, decision.recheck_at - self._health_clock())
                self._health_cond.wait(timeout)
        if verdict is not None:
            self._send_health(*verdict)

    def _take_verdict(
        self, tracker: HealthTracker
    ) -> tuple[str, HealthDecision, AllocDeploymentStatus] | None:
        """Under _health_cond: claim the tracker's decision, exactly once."""
        decision = tracker.decision
        if decision is None or decision.healthy is None or tracker is not self._health:
            return None
        self._health = None
        self._health_gen += 1
        self._health_decided_for = self._health_deployment
        prior = self.alloc.deployment_status
        self._deployment_status = AllocDeploymentStatus(
            healthy=decision.healthy,
            timestamp=rfc3339(self._clock()),
            # the servers own the canary flag: hand back what they set
            canary=prior.canary if prior is not None else False,
        )
        return self._health_deployment, decision, self._deployment_status

    def _send_health(
        self, deployment_id: str, decision: HealthDecision, dstatus: AllocDeploymentStatus
    ) -> None:
        log.info(
            "alloc health alloc_id=%s deployment_id=%s healthy=%s %s",
            self.id,
            deployment_id,
            decision.healthy,
            decision.reason,
        )
        with self._report_lock:
            states = self.task_states()
            status, desc = client_status(states.values())
            self._last_sent = (str(status), desc, states)
            self._on_update(
                AllocClientUpdate(
                    id=self.id,
                    client_status=status,
                    client_description=desc,
                    task_states=states,
                    deployment_status=dstatus,
                    modify_time=unix_nanos(self._clock()),
                )
            )


def _health_set_elsewhere(old: Allocation, new: Allocation) -> bool:
    """The servers' health for this deployment changed under us (an operator
    set it through the API). Compare versions, not values: a stale status
    from an earlier deployment must not count."""
    before, after = old.deployment_status, new.deployment_status
    if after is None or after.healthy is None:
        return False
    if before is None:
        return True
    return (before.healthy, before.timestamp) != (after.healthy, after.timestamp)
