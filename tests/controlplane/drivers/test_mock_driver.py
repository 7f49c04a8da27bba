"""mock driver: the scripted behaviour client tests rely on."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from controlplane.drivers.base import Driver, DriverError, ExitResult, TaskConfig
from controlplane.drivers.mock import MockDriver, parse_seconds

MakeConfig = Callable[..., TaskConfig]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_is_a_driver() -> None:
    drv: Driver = MockDriver()
    assert drv.fingerprint().attributes == {"driver.mock": "1"}


def test_exits_with_the_configured_code_after_run_for(task_config: MakeConfig) -> None:
    clock = FakeClock()
    drv = MockDriver(clock=clock)
    handle = drv.start(task_config({"run_for": "2s", "exit_code": 3}))
    assert drv.wait(handle, 0) is None
    assert drv.inspect(handle).running
    clock.now += 2
    assert drv.wait(handle, 0) == ExitResult(exit_code=3)
    assert drv.inspect(handle).exit == ExitResult(exit_code=3)


def test_start_error_and_stdout_string(task_config: MakeConfig) -> None:
    drv = MockDriver()
    with pytest.raises(DriverError, match="boom") as err:
        drv.start(task_config({"start_error": "boom", "start_error_recoverable": False}))
    assert not err.value.recoverable
    cfg = task_config({"stdout_string": "hello\n"})
    assert drv.wait(drv.start(cfg), 1) == ExitResult()
    assert Path(cfg.stdout_path).read_text() == "hello\n"
    assert [c.alloc_id for c in drv.started] == [cfg.alloc_id]


def test_stop_wakes_a_blocked_waiter(task_config: MakeConfig) -> None:
    drv = MockDriver()
    handle = drv.start(task_config({"run_for": 60}))
    results: list[ExitResult | None] = []
    waiter = threading.Thread(target=lambda: results.append(drv.wait(handle)))
    waiter.start()
    drv.stop(handle, timeout=5, signal="SIGINT")
    waiter.join(5)
    assert results == [ExitResult(signal=2)]


def test_recover_in_a_new_instance(task_config: MakeConfig) -> None:
    clock = FakeClock()
    handle = MockDriver(clock=clock).start(task_config({"run_for": 10, "exit_code": 1}))
    other = MockDriver(clock=clock)
    assert other.recover(handle)
    assert other.wait(handle, 0) is None
    clock.now += 10
    assert other.wait(handle, 0) == ExitResult(exit_code=1)


def test_parse_seconds() -> None:
    assert [parse_seconds(v) for v in (1, "1.5", "250ms", "2m", "1s")] == [1, 1.5, 0.25, 120, 1]
