"""Task runner: drives one task of an allocation through its driver, in its
own thread, and owns that task's TaskState (state, events, restarts).

Only the runner thread talks to the driver for its task; `kill()` from other
threads only asks, and the runner notices within `poll_s`. It never talks to
the servers: it reports changes through `on_change` and its handles through
`on_handle`.

Lifecycle (task states in capitals, events in quotes):

    PENDING --"Received"--> prestart hooks --"Task Setup"-->
        +--> driver.start --"Started"--> RUNNING --exit--> "Terminated"
        |        | DriverError: "Driver Failure"           |
        |        v                                          v
        |    restart tracker <------------------------------+
        |        | restart: "Restarting", PENDING, wait delay
        +--------+
                 | batch success: DEAD
                 | give up: "Not Restarting", DEAD (failed)

    kill() at any point: "Killing" -> driver.stop -> "Terminated" ->
    "Killed" -> DEAD (not failed); a task not running goes straight to
    "Killed". A setup failure ("Setup Failure") is DEAD (failed).

    restart() while RUNNING: "Restart Signaled" -> driver.stop -> "Terminated"
    -> "Restarting" (no delay, not counted by the restart policy) -> start.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from controlplane.drivers.base import Driver, DriverError, ExitResult, TaskConfig, TaskHandle
from controlplane.structs import Allocation, Node, RestartPolicy, Task, TaskEvent, TaskState
from controlplane.structs.consts import TaskEventType, TaskStateValue

from .allocdir import AllocDir
from .restarts import RestartDecision, RestartTracker, go_duration, settings_for
from .task_hooks import TaskHook, TaskHookContext, default_hooks
from .taskenv import TaskDirs, alloc_ports, build_task_env, interpolate
from .wiretime import rfc3339, unix_nanos

log = logging.getLogger(__name__)

MAX_EVENTS = 10
DEFAULT_KILL_TIMEOUT_S = 5.0


def terminated_message(result: ExitResult) -> str:
    parts = [f"Exit Code: {result.exit_code}"]
    if result.signal:
        parts.append(f"Signal: {result.signal}")
    if result.oom_killed:
        parts.append("OOM Killed")
    if result.err:
        parts.append(f"Exit Message: {result.err!r}")
    return ", ".join(parts)


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
    ) -> None:
        self.alloc = alloc
        self.task = task
        self.name = task.name
        self.driver = driver
        self.alloc_dir = alloc_dir
        self.node = node
        self.region = region
        self.poll_s = poll_s
        self._on_change = on_change
        self._on_handle = on_handle
        self._clock = clock
        self._hooks = hooks if hooks is not None else default_hooks(self._now_ns)
        job_type = alloc.job.type if alloc.job is not None else "service"
        if restart_tracker is None:
            restart_tracker = RestartTracker(
                settings_for(self._restart_policy(), job_type), job_type
            )
        self.tracker = restart_tracker

        self._lock = threading.Lock()
        self._state = TaskState(state=TaskStateValue.PENDING)
        self._kill = threading.Event()
        self._restart = threading.Event()  # operator restart of the running task
        self._done = threading.Event()
        self._handle: TaskHandle | None = None
        self._thread: threading.Thread | None = None

    # ---- public API -------------------------------------------------

    @property
    def state(self) -> TaskState:
        with self._lock:
            return self._state

    @property
    def handle(self) -> TaskHandle | None:
        return self._handle

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"task-{self.alloc.id[:8]}-{self.name}", daemon=True
        )
        self._thread.start()

    def kill(self, event: TaskEvent | None = None) -> None:
        """Ask the task to stop; `event` (e.g. "Sibling Task Failed") is recorded first."""
        if self._done.is_set() or self._kill.is_set():
            return
        if event is not None:
            self._emit(event)
        self._kill.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the runner finished; True when it did."""
        return self._done.wait(timeout)

    def restart(self, event: TaskEvent) -> bool:
        """Stop the running task and start it again in place; False when it is
        not running (nothing to restart). `event` ("Restart Signaled") first."""
        with self._lock:
            running = self._state.state == TaskStateValue.RUNNING
        if not running or self._handle is None or self._kill.is_set() or self._done.is_set():
            return False
        self._emit(event)
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
        self._emit(event)
        send(handle, signal)
        return True

    def update(self, alloc: Allocation) -> None:
        """A newer version of the allocation (in-place update): keep it for env/hooks."""
        self.alloc = alloc

    def emit(self, event: TaskEvent) -> None:
        self._emit(event)

    # ---- state ------------------------------------------------------

    def _now_ns(self) -> int:
        return unix_nanos(self._clock())

    def _event(self, type_: str, message: str = "", **fields: Any) -> TaskEvent:
        return TaskEvent(
            type=type_,
            time=self._now_ns(),
            message=message,
            display_message=fields.pop("display_message", message),
            **fields,
        )

    def _emit(self, event: TaskEvent, **state_changes: Any) -> None:
        with self._lock:
            events = [*(self._state.events or []), event][-MAX_EVENTS:]
            self._state = self._state.replace(events=events, **state_changes)
        self._on_change(self.name)

    def _set_state(self, **state_changes: Any) -> None:
        with self._lock:
            self._state = self._state.replace(**state_changes)
        self._on_change(self.name)

    def _set_handle(self, handle: TaskHandle | None) -> None:
        self._handle = handle
        if self._on_handle is not None:
            try:
                self._on_handle(self.name, handle)
            except Exception:
                log.exception(
                    "persisting task handle failed alloc_id=%s task=%s", self.alloc.id, self.name
                )

    def _finish(self, failed: bool, event: TaskEvent | None = None) -> None:
        changes: dict[str, Any] = {
            "state": TaskStateValue.DEAD,
            "failed": failed,
            "finished_at": rfc3339(self._clock()),
        }
        if event is not None:
            self._emit(event, **changes)
        else:
            self._set_state(**changes)

    # ---- the runner thread -----------------------------------------

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
            emit=self._emit,
        )

    def _run(self) -> None:
        ctx = self._context()
        try:
            self._emit(self._event(TaskEventType.RECEIVED, "Task received by client"))
            self._loop(ctx)
        except Exception as exc:
            log.exception("task runner crashed alloc_id=%s task=%s", self.alloc.id, self.name)
            self._finish(
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
            self._on_change(self.name)

    def _loop(self, ctx: TaskHookContext) -> None:
        while True:
            if self._kill.is_set():
                self._finish(False, self._event(TaskEventType.KILLED, "Task successfully killed"))
                return
            if not self._prestart(ctx):
                return
            driver = self.driver
            if driver is None:
                msg = f'failed to start task: driver "{self.task.driver}" is not available'
                self._finish(
                    True,
                    self._event(
                        TaskEventType.DRIVER_FAILURE, msg, driver_error=msg, fails_task=True
                    ),
                )
                return
            cfg = self._task_config(ctx)
            try:
                handle = driver.start(cfg)
            except Exception as exc:
                err = exc if isinstance(exc, DriverError) else DriverError(str(exc))
                self._emit(
                    self._event(
                        TaskEventType.DRIVER_FAILURE,
                        str(err),
                        driver_error=str(err),
                        fails_task=not err.recoverable,
                    )
                )
                self.tracker.set_start_error(err)
            else:
                result = self._run_started(ctx, driver, handle)
                if result is None:  # killed while running
                    return
                if self._restart.is_set():
                    self._restart.clear()
                    self._restart_signaled()
                    continue
                self.tracker.set_exit_result(result)

            decision, delay_s = self.tracker.next_restart()
            if decision is RestartDecision.RESTART:
                reason = self.tracker.reason
                with self._lock:
                    restarts = self._state.restarts + 1
                self._emit(
                    self._event(
                        TaskEventType.RESTARTING,
                        f"Task restarting in {go_duration(delay_s)}",
                        restart_reason=reason,
                        start_delay=unix_nanos(delay_s),
                    ),
                    state=TaskStateValue.PENDING,
                    restarts=restarts,
                    last_restart=rfc3339(self._clock()),
                )
                self._kill.wait(delay_s)
                continue
            if decision is RestartDecision.TERMINATED:
                self._finish(False)
                return
            reason = self.tracker.reason
            self._finish(
                True,
                self._event(
                    TaskEventType.NOT_RESTARTING, reason, restart_reason=reason, fails_task=True
                ),
            )
            return

    def _restart_signaled(self) -> None:
        """An operator restart: start again now; the restart policy is not consulted."""
        with self._lock:
            restarts = self._state.restarts + 1
        self._emit(
            self._event(
                TaskEventType.RESTARTING,
                "Task restarting in 0s",
                restart_reason="User requested restart",
            ),
            state=TaskStateValue.PENDING,
            restarts=restarts,
            last_restart=rfc3339(self._clock()),
        )

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
                self._finish(
                    True,
                    self._event(TaskEventType.SETUP_FAILURE, msg, setup_error=msg, fails_task=True),
                )
                return False
        return True

    def _task_config(self, ctx: TaskHookContext) -> TaskConfig:
        alloc, task, ad = self.alloc, self.task, self.alloc_dir
        dirs = TaskDirs(
            alloc_dir=str(ad.shared_dir),
            task_dir=str(ad.local_dir(task.name)),
            secrets_dir=str(ad.secrets_dir(task.name)),
        )
        env = build_task_env(alloc, task, self.node, dirs, region=self.region)
        env.update(ctx.env)
        region = env.get("NOMAD_REGION", self.region)
        cpu = memory = memory_max = 0
        task_res = (
            alloc.allocated_resources.tasks.get(task.name) if alloc.allocated_resources else None
        )
        if task_res is not None:
            cpu, memory = task_res.cpu.cpu_shares, task_res.memory.memory_mb
            memory_max = task_res.memory.memory_max_mb
        elif task.resources is not None:
            cpu, memory = task.resources.cpu, task.resources.memory_mb
            memory_max = task.resources.memory_max_mb
        return TaskConfig(
            alloc_id=alloc.id,
            task_name=task.name,
            job_id=alloc.job_id,
            task_group=alloc.task_group,
            config=interpolate(dict(task.config or {}), env, self.node, region),
            env=env,
            user=task.user,
            alloc_dir=str(ad.shared_dir),
            task_dir=str(ad.task_dir(task.name)),
            stdout_path=str(ad.log_path(task.name, "stdout")),
            stderr_path=str(ad.log_path(task.name, "stderr")),
            cpu_mhz=cpu,
            memory_mb=memory,
            memory_max_mb=memory_max,
            ports=alloc_ports(alloc, task),
            kill_signal=task.kill_signal or "SIGTERM",
        )

    def _run_started(
        self, ctx: TaskHookContext, driver: Driver, handle: TaskHandle
    ) -> ExitResult | None:
        """Watch a started task until it exits (its result) or is killed (None)."""
        self._set_handle(handle)
        with self._lock:
            first_start = self._state.started_at is None
        changes: dict[str, Any] = {"state": TaskStateValue.RUNNING}
        if first_start:
            changes["started_at"] = rfc3339(self._clock())
        self._emit(self._event(TaskEventType.STARTED, "Task started by client"), **changes)
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
                result = self._stop_for_restart(driver, handle)
                break
            try:
                result = driver.wait(handle, timeout=self.poll_s)
            except DriverError as exc:
                result = ExitResult(exit_code=-1, err=str(exc))
        self._emit(
            self._event(
                TaskEventType.TERMINATED,
                terminated_message(result),
                exit_code=result.exit_code,
                signal=result.signal,
            )
        )
        self._exited(ctx, driver, handle, result)
        return result

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

    def _stop_for_restart(self, driver: Driver, handle: TaskHandle) -> ExitResult:
        timeout_s = (
            self.task.kill_timeout / 1e9 if self.task.kill_timeout else DEFAULT_KILL_TIMEOUT_S
        )
        try:
            driver.stop(handle, timeout_s, self.task.kill_signal or "SIGTERM")
            result = driver.wait(handle, timeout=timeout_s + 5.0)
        except Exception as exc:
            return ExitResult(exit_code=-1, err=str(exc))
        return result or ExitResult(exit_code=-1, err="task did not exit for its restart")

    def _kill_running(self, ctx: TaskHookContext, driver: Driver, handle: TaskHandle) -> None:
        timeout_s = (
            self.task.kill_timeout / 1e9 if self.task.kill_timeout else DEFAULT_KILL_TIMEOUT_S
        )
        signal = self.task.kill_signal or "SIGTERM"
        self._emit(
            self._event(
                TaskEventType.KILLING,
                f"Sent interrupt. Waiting {go_duration(timeout_s)} before force killing",
                kill_timeout=unix_nanos(timeout_s),
            )
        )
        kill_error = ""
        try:
            driver.stop(handle, timeout_s, signal)
        except Exception as exc:
            kill_error = str(exc)
        try:
            result = driver.wait(handle, timeout=timeout_s + 5.0)
        except DriverError as exc:
            result, kill_error = None, kill_error or str(exc)
        self.tracker.set_killed()
        if result is not None:
            self._emit(
                self._event(
                    TaskEventType.TERMINATED,
                    terminated_message(result),
                    exit_code=result.exit_code,
                    signal=result.signal,
                )
            )
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
        self._finish(False, event)
