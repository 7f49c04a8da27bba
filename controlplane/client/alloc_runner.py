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
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from controlplane.drivers.base import Driver, TaskHandle
from controlplane.structs import Allocation, AllocClientUpdate, Node, TaskEvent, TaskState
from controlplane.structs.consts import AllocClientStatus, TaskEventType, TaskStateValue

from .allocdir import AllocDir
from .task_runner import TaskRunner
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
        for tr in self._tasks.values():
            tr.start()

    def update(self, alloc: Allocation) -> None:
        """A newer version of the allocation from the servers."""
        self.alloc = alloc
        for tr in self._tasks.values():
            tr.update(alloc)
        if alloc.desired_status != "run":
            self.kill()

    def kill(self) -> None:
        """Stop every task (asynchronous; see `wait`)."""
        for tr in self._tasks.values():
            tr.kill()

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
            modify_time=unix_nanos(self._clock()),
        )

    # ---- callbacks from task runners -------------------------------

    def _handle_changed(self, task: str, handle: TaskHandle | None) -> None:
        if self._on_handle is not None:
            self._on_handle(self.id, task, handle)

    def _task_changed(self, task: str) -> None:
        if not self._started:
            return
        self._maybe_kill_siblings(task, self.task_states())
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
