"""Stopping a running task, as Nomad does: wait out its `shutdown_delay`
(unless the allocation asks for `no_shutdown_delay`), then send its
`kill_signal` and force-kill after `kill_timeout` (capped at the client's
max_kill_timeout). Functions over a driver and a handle; the task runner
decides when to call them and records the outcome.
"""

from __future__ import annotations

import threading
import time

from controlplane.drivers.base import Driver, DriverError, ExitResult, TaskHandle
from controlplane.structs import Allocation, Task
from controlplane.structs.consts import TaskStateValue

from .restarts import go_duration
from .task_events import SKIPPING_SHUTDOWN_DELAY, WAITING_SHUTDOWN_DELAY
from .task_state import TaskStateKeeper

DEFAULT_KILL_TIMEOUT_S = 5.0
# Nomad's client `max_kill_timeout`: no task may ask for a longer grace period
MAX_KILL_TIMEOUT_S = 30.0


def kill_timeout_s(task: Task) -> float:
    timeout_s = task.kill_timeout / 1e9 if task.kill_timeout else 0.0
    return min(timeout_s or DEFAULT_KILL_TIMEOUT_S, MAX_KILL_TIMEOUT_S)


def no_shutdown_delay(alloc: Allocation) -> bool:
    dt = alloc.desired_transition
    return bool(dt is not None and dt.no_shutdown_delay)


def wait_shutdown_delay(
    ts: TaskStateKeeper,
    task: Task,
    driver: Driver,
    handle: TaskHandle,
    skip: threading.Event,
    poll_s: float,
) -> ExitResult | None:
    """Before a kill: wait `shutdown_delay` ("Waiting for shutdown delay", task
    PENDING as in Nomad) or announce that it is skipped; `skip` set meanwhile
    cuts the wait short. The task's result when it exited on its own meanwhile."""
    delay_s = task.shutdown_delay / 1e9
    if delay_s <= 0:
        return None
    if skip.is_set():
        kind, verb = SKIPPING_SHUTDOWN_DELAY, "Skipping"
    else:
        kind, verb = WAITING_SHUTDOWN_DELAY, "Waiting for"
    msg = f"{verb} shutdown_delay of {go_duration(delay_s)} before killing the task."
    ts.emit(ts.event(kind, display_message=msg), state=TaskStateValue.PENDING)
    deadline = time.monotonic() + delay_s
    while not skip.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            result = driver.wait(handle, timeout=min(left, poll_s))
        except DriverError:
            return None
        if result is not None:
            return result
    return None


def stop_task(
    driver: Driver, handle: TaskHandle, timeout_s: float, signal: str
) -> tuple[ExitResult | None, str]:
    """Signal, wait up to `timeout_s`, force-kill; (result or None, error text)."""
    error = ""
    try:
        driver.stop(handle, timeout_s, signal)
    except Exception as exc:
        error = str(exc)
    try:
        result = driver.wait(handle, timeout=timeout_s + 5.0)
    except DriverError as exc:
        return None, error or str(exc)
    return result, error
