"""Task runner: drives one task of an allocation through its driver, in its
own thread, and owns that task's TaskState (state, events, restarts).

Only the runner thread talks to the driver for its task; `kill()` from other
threads only asks, and the runner notices within `poll_s`. It never talks to
the servers: it reports changes through `on_change` and its handles through
`on_handle`.

Lifecycle (task states in capitals, events in quotes):

    PENDING --"Received"--> wait for the lifecycle gate (task_coordinator.py)
        +--> prestart hooks --"Task Setup"--> driver.start --"Started"-->
        |        RUNNING --exit--> "Terminated"
        |        | DriverError: "Driver Failure"           |
        |        v                                          v
        |    restart tracker <------------------------------+
        |        | restart: "Restarting", PENDING, wait delay
        +--------+
                 | batch success (or a finished lifecycle task): DEAD
                 | give up: "Not Restarting", DEAD (failed)

    kill() at any point: "Killing" -> shutdown_delay ("Waiting for shutdown
    delay", PENDING; or "Skipping shutdown delay" when the allocation's
    DesiredTransition says no_shutdown_delay) -> driver.stop(kill_timeout,
    kill_signal) -> "Terminated" -> "Killed" -> DEAD (not failed); a task not
    running goes straight to "Killed". A setup failure ("Setup Failure") is
    DEAD (failed).

    restart() while RUNNING: "Restart Signaled" -> driver.stop -> "Terminated"
    -> "Restarting" (no delay, not counted by the restart policy) -> start.

    restore(state, handle) before start(), after a client restart: the
    persisted TaskState is kept (no new events); a handle the driver
    recovers is watched as if this runner had started it. When recovery
    fails: "Failed Restoring Task" (PENDING), and once the agent has heard
    from the servers (the allocation may have been stopped meanwhile) the
    task starts again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from controlplane.drivers.base import (
    Driver,
    DriverError,
    ExitResult,
    TaskHandle,
    driver_events,
)
from controlplane.structs import Allocation, Node, RestartPolicy, Task, TaskEvent, TaskState
from controlplane.structs.consts import TaskEventType, TaskStateValue

from .allocdir import AllocDir
from .restarts import RestartDecision, RestartTracker, go_duration, settings_for
from .task_config import build_task_config
from .task_events import RESTORE_FAILED, RESTORE_FAILED_MESSAGE, terminated_message
from .task_hooks import TaskHook, TaskHookContext, default_hooks
from .task_kill import kill_timeout_s, no_shutdown_delay, stop_task, wait_shutdown_delay
from .task_state import TaskStateKeeper
from .wiretime import unix_nanos

log = logging.getLogger(__name__)


class TaskRunner:
    def __init__(
        self,
        alloc: Allocation,
        task: Task,
        driver: Driver | None,
        alloc_dir: AllocDir,
        node: Node,
        on_change: Callable[[str], None],
        on_handle: Callable[[str, TaskHandle | None], None] | None = None,
        hooks: list[TaskHook] | None = None,
        restart_tracker: RestartTracker | None = None,
        clock: Callable[[], float] = time.time,
        region: str = "global",
        poll_s: float = 0.1,
        start_gate: Callable[[float], bool] | None = None,
        servers_contacted: threading.Event | None = None,
        extra_hooks: list[TaskHook] | None = None,
    ) -> None:
        self.alloc = alloc
        self.task = task
        self.name = task.name
        self.driver = driver
        self.alloc_dir = alloc_dir
        self.node = node
        self.region = region
        self.poll_s = poll_s
        self._on_handle = on_handle
        # blocks up to the given seconds until the task may start (lifecycle)
        self._start_gate = start_gate
        # set once the agent heard from the servers (a restored task that could
        # not be reattached waits for it: its allocation may have been stopped)
        self._servers_contacted = servers_contacted
        self._wait_servers = False
        self._ts = TaskStateKeeper(task.name, on_change, clock)
        base = hooks if hooks is not None else default_hooks(self._ts.now_ns)
        self._hooks = [*base, *(extra_hooks or [])]
        job_type = alloc.job.type if alloc.job is not None else "service"
        if restart_tracker is None:
            restart_tracker = RestartTracker(
                settings_for(self._restart_policy(), job_type),
                job_type,
                lifecycle=task.lifecycle,
            )
        self.tracker = restart_tracker

        self._kill = threading.Event()
        self._restart = threading.Event()  # operator restart of the running task
        self._skip_delay = threading.Event()  # no_shutdown_delay arrived
        self._done = threading.Event()
        self._handle: TaskHandle | None = None
        self._restored = False
        self._restored_handle: TaskHandle | None = None
        self._thread: threading.Thread | None = None

    # ---- public API -------------------------------------------------

    @property
    def state(self) -> TaskState:
        return self._ts.state

    @property
    def handle(self) -> TaskHandle | None:
        return self._handle

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def restore(self, state: TaskState, handle: TaskHandle | None) -> None:
        """Take over a task from an earlier client process (before `start`)."""
        self._ts.load(state)
        self._restored = True
        self._restored_handle = handle
        for hook in self._hooks:
            hook.restore()

    def start(self) -> None:
        if self._restored and self.state.state == TaskStateValue.DEAD:
            self._done.set()  # finished before the client restarted
            return
        self._thread = threading.Thread(
            target=self._run, name=f"task-{self.alloc.id[:8]}-{self.name}", daemon=True
        )
        self._thread.start()

    def kill(self, event: TaskEvent | None = None) -> None:
        """Ask the task to stop; `event` (e.g. "Sibling Task Failed") is recorded first."""
        if self._done.is_set() or self._kill.is_set():
            return
        if event is not None:
            self._ts.emit(event)
        self._kill.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the runner finished; True when it did."""
        return self._done.wait(timeout)

    def restart(self, event: TaskEvent) -> bool:
        """Stop the running task and start it again in place; False when it is
        not running (nothing to restart). `event` ("Restart Signaled") first."""
        running = self.state.state == TaskStateValue.RUNNING
        if not running or self._handle is None or self._kill.is_set() or self._done.is_set():
            return False
        self._ts.emit(event)
        self._restart.set()
        return True

    def signal(self, signal: str, event: TaskEvent) -> bool:
        """Send `signal` to the running task; False when it is not running.
        Raises DriverError when the driver cannot signal tasks."""
        handle, driver = self._handle, self.driver
        if handle is None or driver is None or self._done.is_set():
            return False
        send = getattr(driver, "signal", None)
        if send is None:
            raise DriverError(f'driver "{self.task.driver}" does not support sending signals')
        self._ts.emit(event)
        send(handle, signal)
        return True

    def update(self, alloc: Allocation) -> None:
        """A newer version of the allocation (in-place update): keep it for env/hooks."""
        self.alloc = alloc
        if no_shutdown_delay(alloc):
            self._skip_delay.set()

    def skip_shutdown_delay(self) -> None:
        """Kill without waiting out shutdown_delay (agent shutdown)."""
        self._skip_delay.set()

    def emit(self, event: TaskEvent) -> None:
        self._ts.emit(event)

    # ---- internals ----------------------------------------------------

    def _event(self, type_: str, message: str = "", **fields: object) -> TaskEvent:
        return self._ts.event(type_, message, **fields)

    def _set_handle(self, handle: TaskHandle | None) -> None:
        self._handle = handle
        if self._on_handle is not None:
            try:
                self._on_handle(self.name, handle)
            except Exception:
                log.exception(
                    "persisting task handle failed alloc_id=%s task=%s", self.alloc.id, self.name
                )

    def _restart_policy(self) -> RestartPolicy | None:
        if self.task.restart_policy is not None:
            return self.task.restart_policy
        job = self.alloc.job
        group = job.group(self.alloc.task_group) if job is not None else None
        return group.restart_policy if group is not None else None

    def _context(self) -> TaskHookContext:
        return TaskHookContext(
            alloc=self.alloc,
            task=self.task,
            node=self.node,
            alloc_dir=self.alloc_dir,
            emit=self._ts.emit,
            killing=self._kill,
            restart=self.restart,
            signal=self.signal,
        )

    # ---- the runner thread -----------------------------------------

    def _run(self) -> None:
        ctx = self._context()
        try:
            if not self._restored:
                self._ts.emit(self._event(TaskEventType.RECEIVED, "Task received by client"))
            self._loop(ctx, self._recover())
        except Exception as exc:
            log.exception("task runner crashed alloc_id=%s task=%s", self.alloc.id, self.name)
            self._ts.finish(
                True,
                self._event(
                    TaskEventType.SETUP_FAILURE, str(exc), setup_error=str(exc), fails_task=True
                ),
            )
        finally:
            for hook in self._hooks:
                try:
                    hook.stop(ctx)
                except Exception:
                    log.exception("hook stop failed hook=%s alloc_id=%s", hook.name, self.alloc.id)
            self._done.set()
            self._ts.notify()

    def _recover(self) -> TaskHandle | None:
        """The restored handle when its driver reattached to the task, else None."""
        handle, self._restored_handle = self._restored_handle, None
        if handle is None:
            return None
        driver = self.driver
        try:
            ok = driver is not None and driver.recover(handle)
        except Exception as exc:
            log.warning("recover failed alloc_id=%s task=%s: %s", self.alloc.id, self.name, exc)
            ok = False
        if ok:
            log.info("reattached to task alloc_id=%s task=%s", self.alloc.id, self.name)
            self._set_handle(handle)
            return handle
        log.warning("could not reattach to task alloc_id=%s task=%s", self.alloc.id, self.name)
        if driver is not None:
            try:
                driver.destroy(handle)
            except Exception:
                log.debug("destroying an unrecoverable task failed", exc_info=True)
        self._set_handle(None)
        self._wait_servers = True
        self._ts.emit(
            self._event(RESTORE_FAILED, RESTORE_FAILED_MESSAGE), state=TaskStateValue.PENDING
        )
        return None

    def _wait_gate(self) -> None:
        """Until the lifecycle coordinator lets this task start (and, for a task
        that could not be restored, the servers were heard from), or a kill."""
        servers = self._servers_contacted if self._wait_servers else None
        while servers is not None and not self._kill.is_set():
            if servers.wait(self.poll_s):
                break
        gate = self._start_gate
        if gate is None:
            return
        while not self._kill.is_set() and not gate(self.poll_s):
            pass

    def _loop(self, ctx: TaskHookContext, recovered: TaskHandle | None) -> None:
        handle = recovered
        while True:
            driver = self.driver
            if handle is None:
                self._wait_gate()
                if self._kill.is_set():
                    self._ts.finish(
                        False, self._event(TaskEventType.KILLED, "Task successfully killed")
                    )
                    return
                if not self._prestart(ctx):
                    return
                if self._kill.is_set():  # killed while a hook waited (templates)
                    self._ts.finish(
                        False, self._event(TaskEventType.KILLED, "Task successfully killed")
                    )
                    return
                if driver is None:
                    msg = f'failed to start task: driver "{self.task.driver}" is not available'
                    self._ts.finish(
                        True,
                        self._event(
                            TaskEventType.DRIVER_FAILURE, msg, driver_error=msg, fails_task=True
                        ),
                    )
                    return
                handle = self._start(driver, ctx)
            if handle is not None and driver is not None:
                result = self._run_started(ctx, driver, handle, announce=handle is not recovered)
                handle = recovered = None
                if result is None:  # killed while running
                    return
                if self._restart.is_set():
                    self._restart.clear()
                    self._ts.restarted(
                        self._event(
                            TaskEventType.RESTARTING,
                            "Task restarting in 0s",
                            restart_reason="User requested restart",
                        )
                    )
                    continue
                self.tracker.set_exit_result(result)
            if not self._after_exit():
                return

    def _start(self, driver: Driver, ctx: TaskHookContext) -> TaskHandle | None:
        cfg = build_task_config(
            self.alloc, self.task, self.node, self.alloc_dir, self.region, ctx.env
        )
        def message(text: str) -> None:
            self._ts.emit(self._event(TaskEventType.DRIVER, text, driver_message=text))

        try:
            with driver_events(message):
                return driver.start(cfg)
        except Exception as exc:
            err = exc if isinstance(exc, DriverError) else DriverError(str(exc))
            self._ts.emit(
                self._event(
                    TaskEventType.DRIVER_FAILURE,
                    str(err),
                    driver_error=str(err),
                    fails_task=not err.recoverable,
                )
            )
            self.tracker.set_start_error(err)
            return None

    def _after_exit(self) -> bool:
        """Ask the restart policy; True to start again (after the delay)."""
        decision, delay_s = self.tracker.next_restart()
        if decision is RestartDecision.RESTART:
            reason = self.tracker.reason
            self._ts.restarted(
                self._event(
                    TaskEventType.RESTARTING,
                    f"Task restarting in {go_duration(delay_s)}",
                    restart_reason=reason,
                    start_delay=unix_nanos(delay_s),
                )
            )
            self._kill.wait(delay_s)
            return True
        if decision is RestartDecision.TERMINATED:
            self._ts.finish(False)
            return False
        reason = self.tracker.reason
        self._ts.finish(
            True,
            self._event(
                TaskEventType.NOT_RESTARTING, reason, restart_reason=reason, fails_task=True
            ),
        )
        return False

    def _prestart(self, ctx: TaskHookContext) -> bool:
        ctx.alloc = self.alloc
        for hook in self._hooks:
            try:
                hook.prestart(ctx)
            except Exception as exc:
                log.warning(
                    "prestart hook failed hook=%s alloc_id=%s task=%s: %s",
                    hook.name,
                    self.alloc.id,
                    self.name,
                    exc,
                )
                msg = f"{hook.name}: {exc}"
                self._ts.finish(
                    True,
                    self._event(TaskEventType.SETUP_FAILURE, msg, setup_error=msg, fails_task=True),
                )
                return False
        return True

    def _run_started(
        self, ctx: TaskHookContext, driver: Driver, handle: TaskHandle, announce: bool = True
    ) -> ExitResult | None:
        """Watch a started (or recovered, `announce=False`) task until it exits
        (its result) or is killed (None)."""
        self._set_handle(handle)
        if announce:
            self._ts.running(self._event(TaskEventType.STARTED, "Task started by client"))
        elif self.state.state != TaskStateValue.RUNNING:
            # recovered: running again, but reattaching is no task event (Nomad)
            self._ts.set(state=TaskStateValue.RUNNING)
        for hook in self._hooks:
            try:
                hook.poststart(ctx, handle)
            except Exception:
                log.exception("poststart hook failed hook=%s alloc_id=%s", hook.name, self.alloc.id)

        result: ExitResult | None = None
        while result is None:
            if self._kill.is_set():
                self._kill_running(ctx, driver, handle)
                return None
            if self._restart.is_set():
                result = self._stop_for_restart(ctx, driver, handle)
                break
            try:
                result = driver.wait(handle, timeout=self.poll_s)
            except DriverError as exc:
                result = ExitResult(exit_code=-1, err=str(exc))
        self._terminated(result)
        self._exited(ctx, driver, handle, result)
        return result

    def _terminated(self, result: ExitResult) -> None:
        self._ts.emit(
            self._event(
                TaskEventType.TERMINATED,
                terminated_message(result),
                exit_code=result.exit_code,
                signal=result.signal,
            )
        )

    def _exited(
        self, ctx: TaskHookContext, driver: Driver, handle: TaskHandle, result: ExitResult
    ) -> None:
        for hook in self._hooks:
            try:
                hook.exited(ctx, result)
            except Exception:
                log.exception("exited hook failed hook=%s alloc_id=%s", hook.name, self.alloc.id)
        try:
            driver.destroy(handle)
        except Exception:
            log.exception("driver destroy failed alloc_id=%s task=%s", self.alloc.id, self.name)
        self._set_handle(None)

    def _prekill(self, ctx: TaskHookContext) -> None:
        for hook in self._hooks:
            try:
                hook.prekill(ctx)
            except Exception:
                log.exception("prekill hook failed hook=%s alloc_id=%s", hook.name, self.alloc.id)

    def _stop_for_restart(
        self, ctx: TaskHookContext, driver: Driver, handle: TaskHandle
    ) -> ExitResult:
        self._prekill(ctx)
        signal = self.task.kill_signal or "SIGTERM"
        result, error = stop_task(driver, handle, kill_timeout_s(self.task), signal)
        return result or ExitResult(exit_code=-1, err=error or "task did not exit for its restart")

    def _kill_running(self, ctx: TaskHookContext, driver: Driver, handle: TaskHandle) -> None:
        timeout_s = kill_timeout_s(self.task)
        self._ts.emit(
            self._event(
                TaskEventType.KILLING,
                f"Sent interrupt. Waiting {go_duration(timeout_s)} before force killing",
                kill_timeout=unix_nanos(timeout_s),
            )
        )
        if no_shutdown_delay(self.alloc):
            self._skip_delay.set()
        # services go before the delay: load balancers stop sending traffic first
        self._prekill(ctx)
        kill_error = ""
        result = wait_shutdown_delay(
            self._ts, self.task, driver, handle, self._skip_delay, self.poll_s
        )
        if result is None:
            signal = self.task.kill_signal or "SIGTERM"
            result, kill_error = stop_task(driver, handle, timeout_s, signal)
        self.tracker.set_killed()
        if result is not None:
            self._terminated(result)
            self._exited(ctx, driver, handle, result)
        else:
            kill_error = kill_error or "task did not exit after being killed"
            self._exited(ctx, driver, handle, ExitResult(exit_code=-1, err=kill_error))
        if kill_error:
            event = self._event(
                TaskEventType.KILLED, f"Task killed with error: {kill_error}", kill_error=kill_error
            )
        else:
            event = self._event(TaskEventType.KILLED, "Task successfully killed")
        self._ts.finish(False, event)
