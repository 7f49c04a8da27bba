"""raw_exec driver against real processes: logs, exit codes, signals, recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import psutil
import pytest

from controlplane.drivers.base import Driver, DriverError, TaskConfig, TaskHandle
from controlplane.drivers.logrotate import MIB, log_indexes
from controlplane.drivers.raw_exec import RawExecDriver
from tests.executor_support import StartedTasks, read, sh, start_in_killed_client
from tests.waiting import wait_for

MakeConfig = Callable[..., TaskConfig]

# Starts one task in a separate Python process that then exits, as a client
# that crashes or restarts would: the test process is not the task's parent.
_START_IN_OTHER_CLIENT = """
import sys, msgspec
from controlplane.drivers.base import TaskConfig
from controlplane.drivers.raw_exec import RawExecDriver
cfg = msgspec.json.decode(sys.stdin.buffer.read(), type=TaskConfig)
sys.stdout.buffer.write(msgspec.json.encode(RawExecDriver().start(cfg)))
"""


@pytest.fixture
def driver() -> Iterator[RawExecDriver]:
    drv = RawExecDriver()
    yield drv
    _started.destroy_all(drv)


_started = StartedTasks()
start = _started.start


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def start_in_other_client(cfg: TaskConfig) -> TaskHandle:
    out = subprocess.run(
        [sys.executable, "-c", _START_IN_OTHER_CLIENT],
        input=msgspec.json.encode(cfg),
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    handle = msgspec.json.decode(out, type=TaskHandle)
    _started.append(handle)
    return handle


def test_implements_the_driver_protocol_and_fingerprints() -> None:
    drv: Driver = RawExecDriver()
    fp = drv.fingerprint()
    assert fp.detected and fp.healthy
    assert fp.attributes == {"driver.raw_exec": "1"}


def test_output_lands_in_log_files_and_exit_code_is_reported(
    driver: RawExecDriver, task_config: MakeConfig
) -> None:
    cfg = task_config(sh("echo to-out; echo to-err >&2; exit 3"))
    handle = start(driver, cfg)
    result = driver.wait(handle, timeout=10)
    assert result is not None
    assert (result.exit_code, result.signal) == (3, 0)
    assert not result.successful()
    assert read(cfg.stdout_path) == "to-out\n"
    assert read(cfg.stderr_path) == "to-err\n"


def test_logs_are_appended_across_restarts(driver: RawExecDriver, task_config: MakeConfig) -> None:
    cfg = task_config(sh("echo run"))
    for _ in range(2):
        result = driver.wait(start(driver, cfg), timeout=10)
        assert result is not None and result.successful()
    assert read(cfg.stdout_path) == "run\nrun\n"


def test_runs_in_task_dir_with_task_env(driver: RawExecDriver, task_config: MakeConfig) -> None:
    cfg = task_config(
        {"command": "sh", "args": ["-c", 'pwd; echo "$GREETING"']},
        env={"GREETING": "hello world"},
    )
    result = driver.wait(start(driver, cfg), timeout=10)
    assert result is not None and result.successful()
    assert read(cfg.stdout_path) == f"{cfg.task_dir}\nhello world\n"


def test_missing_command_is_a_clear_driver_error(
    driver: RawExecDriver, task_config: MakeConfig
) -> None:
    with pytest.raises(DriverError, match='"no-such-binary-xyz": executable file not found'):
        driver.start(task_config({"command": "no-such-binary-xyz"}))
    with pytest.raises(DriverError, match="no such file"):
        driver.start(task_config({"command": "./missing.sh"}))


def test_stop_signals_the_whole_process_group(
    driver: RawExecDriver, task_config: MakeConfig, eventually: Callable[..., Any]
) -> None:
    cfg = task_config(sh("sleep 300 & echo $! > child.pid; wait"))
    handle = start(driver, cfg)
    pid_file = Path(cfg.task_dir) / "child.pid"
    child = int(eventually(lambda: pid_file.exists() and pid_file.read_text().strip()))
    assert not gone(child)

    started = time.monotonic()
    driver.stop(handle, timeout=10)
    assert time.monotonic() - started < 5, "SIGTERM should have been enough"
    result = driver.wait(handle, timeout=5)
    assert result is not None and result.signal == signal.SIGTERM
    eventually(lambda: gone(child), timeout=5, what="the grandchild to die")


def test_stop_escalates_to_sigkill_after_timeout(
    driver: RawExecDriver, task_config: MakeConfig, eventually: Callable[..., Any]
) -> None:
    cfg = task_config(sh("trap '' TERM; echo ready > ready; while :; do sleep 0.05; done"))
    handle = start(driver, cfg)
    eventually(lambda: (Path(cfg.task_dir) / "ready").exists(), what="the task to trap TERM")

    started = time.monotonic()
    driver.stop(handle, timeout=0.5)
    elapsed = time.monotonic() - started
    result = driver.wait(handle, timeout=5)
    assert result is not None and result.signal == signal.SIGKILL
    assert 0.5 <= elapsed < 5
    assert driver.inspect(handle).running is False


def test_stop_with_a_custom_signal(driver: RawExecDriver, task_config: MakeConfig) -> None:
    cfg = task_config(
        sh("trap 'echo got-int; exit 0' INT; echo ready; while :; do sleep 0.05; done")
    )
    handle = start(driver, cfg)
    wait_for(lambda: "ready" in read(cfg.stdout_path), timeout=10, what="the trap installed")
    driver.stop(handle, timeout=5, signal="SIGINT")
    result = driver.wait(handle, timeout=5)
    assert result is not None and result.successful()
    assert "got-int" in read(cfg.stdout_path)


def test_inspect_and_stats_of_a_running_task(
    driver: RawExecDriver, task_config: MakeConfig
) -> None:
    handle = start(driver, task_config({"command": "sleep", "args": ["300"]}))
    status = driver.inspect(handle)
    assert status.running and status.exit is None
    assert driver.wait(handle, timeout=0.05) is None
    stats = driver.stats(handle)
    assert stats["pids"] == 1 and stats["rss_bytes"] > 0


def test_recover_after_client_restart_reports_the_real_exit_code(
    driver: RawExecDriver, task_config: MakeConfig, eventually: Callable[..., Any]
) -> None:
    cfg = task_config(sh("echo started; while [ ! -e go ]; do sleep 0.05; done; exit 7"))
    handle = start_in_other_client(cfg)
    eventually(lambda: "started" in read(cfg.stdout_path), what="the task to start")

    assert driver.recover(handle)
    assert driver.inspect(handle).running
    assert driver.wait(handle, timeout=0.1) is None
    (Path(cfg.task_dir) / "go").touch()
    result = driver.wait(handle, timeout=10)
    assert result is not None and (result.exit_code, result.signal) == (7, 0)


def test_recovered_task_can_be_stopped(driver: RawExecDriver, task_config: MakeConfig) -> None:
    handle = start_in_other_client(task_config({"command": "sleep", "args": ["300"]}))
    assert driver.recover(handle)
    driver.stop(handle, timeout=5)
    result = driver.wait(handle, timeout=5)
    assert result is not None and result.signal == signal.SIGTERM
    assert gone(int(handle.state["pid"]))


def test_recover_refuses_a_reused_or_dead_pid(
    driver: RawExecDriver, task_config: MakeConfig
) -> None:
    handle = start_in_other_client(task_config({"command": "sleep", "args": ["300"]}))
    reused = handle.replace(
        state={**handle.state, "create_time": 1.0, "status_path": "/nonexistent"}
    )
    assert not RawExecDriver().recover(reused)
    dead = handle.replace(state={"pid": 2**22 + 17, "create_time": 1.0})
    assert not RawExecDriver().recover(dead)


def test_signal_reaches_the_task_and_it_keeps_running(
    driver: RawExecDriver, task_config: MakeConfig
) -> None:
    cfg = task_config(sh("trap 'echo got-usr1' USR1; echo ready; while :; do sleep 0.05; done"))
    handle = start(driver, cfg)
    wait_for(lambda: "ready" in read(cfg.stdout_path), timeout=10, what="the trap installed")
    driver.signal(handle, "SIGUSR1")
    wait_for(lambda: "got-usr1" in read(cfg.stdout_path), timeout=10, what="SIGUSR1 handled")
    assert driver.inspect(handle).running
    driver.stop(handle, timeout=5)
    with pytest.raises(DriverError):
        driver.signal(handle, "SIGUSR1")


def test_logs_rotate_per_max_files_and_size(driver: RawExecDriver, task_config: MakeConfig) -> None:
    cfg = task_config(
        sh("head -c 3500000 /dev/zero; echo done >&2"), logs_max_files=2, logs_max_file_size_mb=1
    )
    result = driver.wait(start(driver, cfg), timeout=10)
    assert result is not None and result.successful()
    logs = os.path.dirname(cfg.stdout_path)
    assert log_indexes(logs, "web.stdout") == [2, 3]
    assert os.path.getsize(os.path.join(logs, "web.stdout.3")) == 3500000 - 3 * MIB
    assert read(cfg.stderr_path) == "done\n"


def test_logs_rotate_after_the_client_was_killed_and_recover_gets_the_exit_code(
    driver: RawExecDriver, task_config: MakeConfig
) -> None:
    script = "echo started; until [ -e go ]; do sleep 0.05; done; head -c 3200000 /dev/zero; exit 7"
    cfg = task_config(sh(script), logs_max_files=2, logs_max_file_size_mb=1)
    handle = start_in_killed_client("controlplane.drivers.raw_exec:RawExecDriver", cfg)
    _started.append(handle)
    logs = os.path.dirname(cfg.stdout_path)
    wait_for(lambda: "started" in read(cfg.stdout_path), timeout=10, what="the task to start")

    # no driver holds the task now: its executor alone keeps writing and rotating
    (Path(cfg.task_dir) / "go").touch()
    wait_for(lambda: log_indexes(logs, "web.stdout") == [2, 3], timeout=10, what="rotation to .3")

    fresh = RawExecDriver()
    assert fresh.recover(handle)
    result = fresh.wait(handle, timeout=10)
    assert result is not None and (result.exit_code, result.signal) == (7, 0)


def test_a_log_that_cannot_be_opened_fails_the_start(
    driver: RawExecDriver, task_config: MakeConfig, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    cfg = task_config(sh("touch ran"), stdout_path=str(tmp_path / "file" / "web.stdout.0"))
    with pytest.raises(DriverError, match=r"^failed to open task log: "):
        driver.start(cfg)
    assert not (Path(cfg.task_dir) / "ran").exists()
