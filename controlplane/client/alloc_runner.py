"""Allocation runner: builds an allocation's directory, runs every task of
its group (one TaskRunner thread each, started in lifecycle order by a
TaskCoordinator), derives the allocation's client status from the task
states, and kills tasks in Nomad's order.

It reports each change as a full AllocClientUpdate through `on_update`; it
never talks to the servers itself (the agent batches the updates).

Client status, from the task states (a failed task wins):

    any task dead+failed  -> failed   "Failed tasks"
    any task running      -> running  "Tasks are running"
    any task pending      -> pending  "No tasks have started"
    all tasks dead        -> complete "All tasks have completed"

Killing the tasks (a server stop, the allocation gone, agent shutdown, or
one of the reasons below): the group's shutdown_delay first (skipped by
DesiredTransition.no_shutdown_delay), then the leader task, then every other
task that is neither a sidecar nor poststop (concurrently), then the
sidecars. Poststop tasks are not killed: they start once every other task
is dead (task_coordinator.py). Reasons the runner kills on its own, with
the event each live task gets first:

    a task failed                     "Sibling Task Failed"
    the leader task finished          "Leader Task Dead"
    only sidecars are left running    "Main Tasks Dead"

Services (services.py) follow the tasks: the hooks register them when
tasks run, and a kill deregisters group services before the group's
shutdown_delay (task services before each task's). check_restart restarts
tasks through the same in-place path as operators.

Operators restart tasks in place ("Restart Signaled") or signal them
through `restart` / `signal` (the client allocation endpoints). Deployment
health is alloc_health.py's.
"""

from __future__ import annotations

import functools
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
    Task,
    TaskEvent,
    TaskState,
)
from controlplane.structs.consts import AllocClientStatus, TaskEventType, TaskStateValue

from .alloc_health import AllocHealthWatcher, health_set_elsewhere
from .allocdir import AllocDir
from .health import HealthDecision, TaskRole, task_role
from .services import AllocServices, ServiceClient, ServiceHook, group_has_checks
from .state_db import LocalAlloc
from .task_coordinator import TaskCoordinator, is_poststop, is_sidecar
from .task_events import (
    LEADER_DEAD,
    LEADER_DEAD_MESSAGE,
    MAIN_DEAD,
    MAIN_DEAD_MESSAGE,
    RESTART_SIGNALED,
    SIGNALING,
)
from .task_hooks import TaskHook
from .task_kill import no_shutdown_delay
from .task_runner import TaskRunner
from .template import TemplateSource
from .template_hook import TemplateHook
from .wiretime import unix_nanos

log = logging.getLogger(__name__)

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
        servers_contacted: threading.Event | None = None,
        services: ServiceClient | None = None,
        templates: TemplateSource | None = None,
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
        self._servers_contacted = servers_contacted
        self._templates = templates
        self._lock = threading.Lock()
        self._report_lock = threading.RLock()
        self._tasks: dict[str, TaskRunner] = {}
        self._last_sent: tuple[str, str, dict[str, TaskState]] | None = None
        self._kill_started = False  # guarded by _lock
        self._skip_delay = threading.Event()
        self._started = False
        self._coordinator: TaskCoordinator | None = None
        self._health = AllocHealthWatcher(
            alloc.id,
            lambda: self.alloc,
            self.task_states,
            lambda states: client_status(states.values())[0],
            self._send_health,
            clock=clock,
            health_clock=health_clock,
            checks_required=lambda: services is not None and group_has_checks(self.alloc),
        )
        self._services: AllocServices | None = None
        if services is not None:
            self._services = AllocServices(
                services,
                lambda: self.alloc,
                node,
                self.alloc_dir,
                self._restart_for_check,
                on_checks=self._checks_changed,
                region=region,
            )

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

    def run(self, restored: LocalAlloc | None = None) -> None:
        """Build the alloc dir and start every task (non-blocking). With
        `restored` (a client restart), take the tasks over from local state."""
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
        coordinator = TaskCoordinator(group.tasks)
        self._coordinator = coordinator
        for task in group.tasks:
            tr = TaskRunner(
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
                start_gate=functools.partial(coordinator.wait_allowed, task.name),
                servers_contacted=self._servers_contacted,
                extra_hooks=self._task_hooks(task),
            )
            if restored is not None and task.name in restored.task_states:
                tr.restore(restored.task_states[task.name], restored.handles.get(task.name))
            self._tasks[task.name] = tr
        if restored is not None:
            coordinator.restore(self.task_states())
        self._started = True
        self._health.decided_elsewhere(self.alloc)
        self._health.start()
        for tr in self._tasks.values():
            tr.start()
        if restored is not None:
            # what the servers last heard may predate the client's death
            self._task_changed("")
            if self.alloc.desired_status != "run":
                # stopped before the client died, and the kill did not finish
                self.kill()

    def _task_hooks(self, task: Task) -> list[TaskHook]:
        hooks: list[TaskHook] = []
        if task.templates:  # rendered before anything else of the task's runs
            hooks.append(TemplateHook(self._templates, region=self._region))
        if self._services is not None:
            hooks.append(ServiceHook(self._services, self._drivers.get(task.driver)))
        return hooks

    def update(self, alloc: Allocation) -> None:
        """A newer version of the allocation from the servers."""
        old, self.alloc = self.alloc, alloc
        for tr in self._tasks.values():
            tr.update(alloc)
        if no_shutdown_delay(alloc):
            self._skip_delay.set()
        if alloc.desired_status != "run":
            self.kill()
        elif alloc.deployment_id != old.deployment_id:
            self._health.start()
        elif health_set_elsewhere(old, alloc):
            self._health.stop(decided=True)

    def kill(self, destroy: bool = False, skip_shutdown_delay: bool = False) -> None:
        """Stop the tasks in Nomad's order (asynchronous; see `wait`). Poststop
        tasks still run afterwards unless `destroy` (the allocation is gone
        or the agent shuts down): then they are killed too."""
        # stopped on purpose: not the allocation's fault, so no health verdict
        self._health.stop(killed=True)
        if skip_shutdown_delay:
            self._skip_delay.set()
            for tr in self._tasks.values():
                tr.skip_shutdown_delay()
        self._start_kill(None, include_poststop=destroy)

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
        self.kill(destroy=True)
        self.wait()
        if self._services is not None:
            self._services.destroy()
        self.alloc_dir.destroy()

    def current_update(self) -> AllocClientUpdate:
        states = self.task_states()
        status, desc = client_status(states.values())
        return AllocClientUpdate(
            id=self.id,
            client_status=status,
            client_description=desc,
            task_states=states,
            deployment_status=self._health.deployment_status,
            modify_time=unix_nanos(self._clock()),
        )

    @property
    def deployment_status(self) -> AllocDeploymentStatus | None:
        """The health this runner decided for the current deployment, if any."""
        return self._health.deployment_status

    # ---- killing -------------------------------------------------------

    def _start_kill(self, event: TaskEvent | None, include_poststop: bool) -> None:
        """Kill once, in a thread of its own (the group shutdown_delay must not
        block the caller); a later destroy still reaches the poststop tasks."""
        if include_poststop:
            for tr in self._tasks.values():
                if is_poststop(tr.task):
                    tr.kill()
        with self._lock:
            if self._kill_started:
                return
            self._kill_started = True
        if event is not None:
            for tr in self._live():
                tr.emit(event)
        threading.Thread(
            target=self._kill_in_order, name=f"alloc-kill-{self.id[:8]}", daemon=True
        ).start()

    def _live(self) -> list[TaskRunner]:
        """Task runners that are not poststop and not finished."""
        return [
            tr
            for tr in self._tasks.values()
            if not is_poststop(tr.task) and tr.state.state != TaskStateValue.DEAD
        ]

    def _group_shutdown_delay(self) -> None:
        job = self.alloc.job
        group = job.group(self.alloc.task_group) if job is not None else None
        delay_s = (group.shutdown_delay or 0) / 1e9 if group is not None else 0.0
        if delay_s > 0 and not no_shutdown_delay(self.alloc):
            log.debug("group shutdown_delay alloc_id=%s delay=%.1fs", self.id, delay_s)
            self._skip_delay.wait(delay_s)

    def _kill_in_order(self) -> None:
        try:
            if self._services is not None:
                # before the group's shutdown_delay: traffic stops first
                self._services.alloc_stopping()
            self._group_shutdown_delay()
            runners = [tr for tr in self._tasks.values() if not is_poststop(tr.task)]
            leaders = [tr for tr in runners if tr.task.leader]
            others = [tr for tr in runners if not tr.task.leader and not is_sidecar(tr.task)]
            sidecars = [tr for tr in runners if not tr.task.leader and is_sidecar(tr.task)]
            for batch in (leaders, others, sidecars):
                for tr in batch:
                    tr.kill()
                for tr in batch:
                    tr.wait()
        except Exception:
            log.exception("killing tasks failed alloc_id=%s", self.id)

    def _kill_reason(self) -> TaskEvent | None:
        """Why the runner should kill its live tasks now, if it should."""
        live = self._live()
        if not live:
            return None
        now = unix_nanos(self._clock())
        event: TaskEvent | None = None
        for name, tr in self._tasks.items():
            st = tr.state
            if is_poststop(tr.task) or st.state != TaskStateValue.DEAD:
                continue
            if st.failed:
                if event is None:
                    msg = f'Task\'s sibling "{name}" failed'
                    event = TaskEvent(
                        type=TaskEventType.SIBLING_FAILED,
                        time=now,
                        message=msg,
                        display_message=msg,
                        details={"failed_sibling": name},
                    )
            elif tr.task.leader:
                event = TaskEvent(
                    type=LEADER_DEAD,
                    time=now,
                    message=LEADER_DEAD_MESSAGE,
                    display_message=LEADER_DEAD_MESSAGE,
                )
        has_sidecars = any(is_sidecar(tr.task) for tr in self._tasks.values())
        if event is None and has_sidecars and all(is_sidecar(tr.task) for tr in live):
            event = TaskEvent(
                type=MAIN_DEAD,
                time=now,
                message=MAIN_DEAD_MESSAGE,
                display_message=MAIN_DEAD_MESSAGE,
            )
        return event

    # ---- callbacks from task runners -------------------------------

    def _handle_changed(self, task: str, handle: TaskHandle | None) -> None:
        if self._on_handle is not None:
            self._on_handle(self.id, task, handle)

    def _task_changed(self, task: str) -> None:
        if not self._started:
            return
        if self._coordinator is not None:
            self._coordinator.task_states_updated(self.task_states())
        with self._lock:
            killing = self._kill_started
        if not killing:
            reason = self._kill_reason()
            if reason is not None:
                self._start_kill(reason, include_poststop=False)
        self._services_follow(killing)
        self._health.observe()
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

    # ---- services ----------------------------------------------------------

    def _services_follow(self, killing: bool) -> None:
        svc = self._services
        if svc is None:
            return
        states = self.task_states()
        status, _ = client_status(states.values())
        if status in (AllocClientStatus.COMPLETE, AllocClientStatus.FAILED):
            svc.destroy()
        elif not killing:
            runners = {name: (tr.task, tr.handle, tr.driver) for name, tr in self._tasks.items()}
            svc.tasks_changed(states, runners)

    def _restart_for_check(self, task: str, event: TaskEvent) -> bool:
        """check_restart: restart `task` (a group check without one: every
        running main task) through the in-place restart path."""
        runners = [self._tasks[task]] if task in self._tasks else []
        if not task:
            runners = [tr for tr in self._tasks.values() if task_role(tr.task) is TaskRole.WATCHED]
        return any([tr.restart(event) for tr in runners])

    def _checks_changed(self) -> None:
        if self._services is not None:
            self._health.checks_changed(self._services.checks_passing())

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

    def _send_health(
        self, deployment_id: str, decision: HealthDecision, dstatus: AllocDeploymentStatus
    ) -> None:
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
