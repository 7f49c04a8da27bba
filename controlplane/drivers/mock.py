"""mock driver: a task double for unit tests of the client's task logic.

Owns nothing real: no processes, no containers. A task "runs" for
`run_for` seconds and exits with `exit_code` (or `exit_signal`), unless
stopped first. Config keys:

    run_for                 seconds (number, or "250ms" / "1.5s" / "2m"); default 0
    exit_code               int, default 0
    exit_signal             int, default 0
    start_error             string: start() raises DriverError(start_error)
    start_error_recoverable bool, default True
    stdout_string           written to the task's stdout file at start
    stderr_string           written to the task's stderr file at start

Thread-safe. The handle carries everything needed to `recover` in a new
driver instance (as after a client restart).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controlplane.drivers.base import (
    DriverError,
    ExitResult,
    Fingerprint,
    TaskConfig,
    TaskHandle,
    TaskStatus,
)
from controlplane.drivers.raw_exec import signal_number

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_seconds(value: Any) -> float:
    """`1.5`, `"1.5"`, `"250ms"`, `"2m"` -> seconds."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * _UNITS[suffix]
    return float(text)


@dataclass
class _MockTask:
    started_at: float  # clock() at start
    run_for: float
    result: ExitResult
    stopped: ExitResult | None = None
    done: threading.Event = field(default_factory=threading.Event)


class MockDriver:
    """Fake tasks timed by `clock` (wall time by default, so a handle can be
    recovered by another instance). A test may inject a clock and call
    `wait(handle, 0)`; blocking waits sleep in real time."""

    name = "mock"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tasks: dict[str, _MockTask] = {}
        self.started: list[TaskConfig] = []  # every successful start, in order
        self.signals: list[tuple[str, int]] = []  # (task, signal number) sent

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(
            detected=True,
            healthy=True,
            health_description="Healthy",
            attributes={"driver.mock": "1"},
        )

    def start(self, cfg: TaskConfig) -> TaskHandle:
        conf = cfg.config
        if conf.get("start_error"):
            raise DriverError(
                str(conf["start_error"]),
                recoverable=bool(conf.get("start_error_recoverable", True)),
            )
        run_for = parse_seconds(conf.get("run_for", 0))
        exit_code = int(conf.get("exit_code", 0))
        exit_signal = int(conf.get("exit_signal", 0))
        for path, key in ((cfg.stdout_path, "stdout_string"), (cfg.stderr_path, "stderr_string")):
            if path and conf.get(key):
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                with open(path, "a") as f:
                    f.write(str(conf[key]))
        started_at = self._clock()
        handle = TaskHandle(
            driver=self.name,
            alloc_id=cfg.alloc_id,
            task_name=cfg.task_name,
            started_at=int(started_at * 1e9),
            state={"run_for": run_for, "exit_code": exit_code, "exit_signal": exit_signal},
        )
        with self._lock:
            self._tasks[_key(handle)] = _MockTask(
                started_at, run_for, ExitResult(exit_code=exit_code, signal=exit_signal)
            )
            self.started.append(cfg)
        return handle

    def wait(self, handle: TaskHandle, timeout: float | None = None) -> ExitResult | None:
        task = self._task(handle)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = task.started_at + task.run_for - self._clock()
            if task.stopped is not None:
                return task.stopped
            if remaining <= 0:
                return task.result
            if deadline is not None:
                remaining = min(remaining, deadline - time.monotonic())
                if remaining <= 0:
                    return None
            task.done.wait(remaining)

    def stop(self, handle: TaskHandle, timeout: float, signal: str = "SIGTERM") -> None:
        task = self._task(handle)
        with self._lock:
            if task.stopped is None and task.started_at + task.run_for > self._clock():
                task.stopped = ExitResult(signal=signal_number(signal))
        task.done.set()

    def signal(self, handle: TaskHandle, signal: str) -> None:
        """Records the signal; the mock task carries on."""
        self._task(handle)
        with self._lock:
            self.signals.append((handle.task_name, signal_number(signal)))

    def destroy(self, handle: TaskHandle) -> None:
        with self._lock:
            task = self._tasks.pop(_key(handle), None)
        if task is not None:
            if task.stopped is None and task.started_at + task.run_for > self._clock():
                task.stopped = ExitResult(signal=9)
            task.done.set()

    def exec_task(self, handle: TaskHandle, argv: list[str], timeout: float) -> tuple[bytes, int]:
        """Runs `argv` on the host (mock tasks have no process to enter), so
        tests drive script checks with real commands."""
        self._task(handle)
        try:
            done = subprocess.run(
                argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as e:
            raise TimeoutError(f"exec timed out after {timeout:g}s") from e
        return done.stdout + done.stderr, done.returncode

    def inspect(self, handle: TaskHandle) -> TaskStatus:
        result = self.wait(handle, 0)
        return TaskStatus(running=result is None, exit=result)

    def recover(self, handle: TaskHandle) -> bool:
        state = handle.state
        if handle.driver != self.name or "run_for" not in state:
            return False
        with self._lock:
            self._tasks.setdefault(
                _key(handle),
                _MockTask(
                    handle.started_at / 1e9,
                    float(state["run_for"]),
                    ExitResult(
                        exit_code=int(state.get("exit_code", 0)),
                        signal=int(state.get("exit_signal", 0)),
                    ),
                ),
            )
        return True

    def stats(self, handle: TaskHandle) -> dict[str, Any]:
        self._task(handle)
        return {
            "rss_bytes": 0,
            "cpu_user_s": 0.0,
            "cpu_system_s": 0.0,
            "cpu_percent": 0.0,
            "pids": 0,
        }

    def _task(self, handle: TaskHandle) -> _MockTask:
        with self._lock:
            task = self._tasks.get(_key(handle))
        if task is None:
            raise DriverError(f"mock: unknown task {handle.task_name} of alloc {handle.alloc_id}")
        return task


def _key(handle: TaskHandle) -> str:
    return f"{handle.alloc_id}/{handle.task_name}/{handle.started_at}"
