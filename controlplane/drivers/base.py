"""The Driver protocol every task driver implements, and the data it exchanges.

A driver turns a TaskConfig into a running task and reports on it. The
TaskHandle it returns is plain data (msgspec Struct) that the client persists,
so a restarted client can `recover` the task instead of restarting it.
Drivers never talk to the servers and never touch allocation state.

Lifecycle, as the task runner drives it:

    fingerprint() -> start(cfg) -> handle -> wait(handle) -> ExitResult
                                         \\-> stop(handle, timeout, signal)
                                         \\-> destroy(handle)      (always last)
    after a client restart:  recover(handle) -> True (reattached) | False
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import msgspec

from controlplane.structs import AllocatedPortMapping, Struct

_sink = threading.local()


@contextmanager
def driver_events(emit: Callable[[str], None]) -> Iterator[None]:
    """While a driver call runs in this thread, its `driver_message()`s go to
    `emit` (the task runner turns them into Nomad's `Driver` task events)."""
    previous = getattr(_sink, "emit", None)
    _sink.emit = emit
    try:
        yield
    finally:
        _sink.emit = previous


def driver_message(message: str) -> None:
    """Tell the operator what the driver is doing for the task it is
    starting (e.g. "Downloading image"); a no-op outside `driver_events`."""
    emit = getattr(_sink, "emit", None)
    if emit is not None:
        emit(message)


class DriverError(Exception):
    """A task could not be started or controlled; the message becomes the
    `Driver Failure` task event (e.g. `Failed to pull `127.0.0.1:1/x:1`: ...`).

    `recoverable` errors count against the restart policy; others fail the
    task at once.
    """

    def __init__(self, message: str, recoverable: bool = True) -> None:
        super().__init__(message)
        self.recoverable = recoverable


class Fingerprint(Struct, frozen=True):
    """What a driver reports about itself on this machine."""

    detected: bool = False
    healthy: bool = False
    health_description: str = ""
    # node attributes contributed, e.g. {"driver.docker": "1", "driver.docker.version": "28.2.2"}
    attributes: dict[str, str] = msgspec.field(default_factory=dict)


class TaskConfig(Struct, frozen=True):
    """Everything a driver needs to start one task (already interpolated)."""

    alloc_id: str
    task_name: str
    job_id: str = ""
    task_group: str = ""
    # driver-specific `config` block, with ${...} already resolved
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    env: dict[str, str] = msgspec.field(default_factory=dict)
    user: str = ""
    # host paths
    alloc_dir: str = ""
    task_dir: str = ""
    stdout_path: str = ""
    stderr_path: str = ""
    # limits
    cpu_mhz: int = 0
    memory_mb: int = 0
    memory_max_mb: int = 0
    # ports allocated to the task group: host port `value`, container port `to`
    ports: list[AllocatedPortMapping] = msgspec.field(default_factory=list)
    kill_signal: str = "SIGTERM"
    # `logs { max_files, max_file_size }`: drivers write stdout/stderr through
    # drivers.logrotate.RotatingLog(stdout_path, logs_max_files, logs_max_file_size_mb)
    logs_max_files: int = 10
    logs_max_file_size_mb: int = 10


class TaskHandle(Struct, frozen=True):
    """Opaque-to-the-client plain data identifying a started task."""

    driver: str
    alloc_id: str
    task_name: str
    started_at: int = 0  # unix ns
    # driver-specific: {"pid": 123, "pgid": 123} or {"container_id": "..."}
    state: dict[str, Any] = msgspec.field(default_factory=dict)


class ExitResult(Struct, frozen=True):
    exit_code: int = 0
    signal: int = 0
    oom_killed: bool = False
    err: str = ""

    def successful(self) -> bool:
        return self.exit_code == 0 and self.signal == 0 and not self.err and not self.oom_killed


class TaskStatus(Struct, frozen=True):
    running: bool
    exit: ExitResult | None = None
    details: dict[str, str] = msgspec.field(default_factory=dict)


class Driver(Protocol):
    """A task driver. Methods may block; callers run them off the event loop."""

    name: str

    def fingerprint(self) -> Fingerprint: ...

    def start(self, cfg: TaskConfig) -> TaskHandle:
        """Start the task; raise DriverError when it cannot be started."""
        ...

    def wait(self, handle: TaskHandle, timeout: float | None = None) -> ExitResult | None:
        """Block until the task exits (its result) or `timeout` passes (None)."""
        ...

    def stop(self, handle: TaskHandle, timeout: float, signal: str = "SIGTERM") -> None:
        """Send `signal`, then kill after `timeout` seconds if still running."""
        ...

    def destroy(self, handle: TaskHandle) -> None:
        """Release everything the task held (container, process group). Idempotent."""
        ...

    def signal(self, handle: TaskHandle, signal: str) -> None:
        """Send `signal` (e.g. "SIGHUP") to the running task; DriverError if it cannot."""
        ...

    def inspect(self, handle: TaskHandle) -> TaskStatus: ...

    def recover(self, handle: TaskHandle) -> bool:
        """Reattach to a task started by an earlier client process."""
        ...

    def stats(self, handle: TaskHandle) -> dict[str, Any]: ...


class ExecCapable(Protocol):
    """Optional driver extras for service checks: `exec_task` runs a command
    inside the task (script checks: (output, exit code), TimeoutError after
    `timeout`); `task_ip` is the task's own address (`address_mode = "driver"`)."""

    def exec_task(
        self, handle: TaskHandle, argv: list[str], timeout: float
    ) -> tuple[bytes, int]: ...

    def task_ip(self, handle: TaskHandle) -> str: ...
