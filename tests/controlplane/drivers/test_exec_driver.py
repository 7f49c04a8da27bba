"""exec driver against real processes: cgroup limits and OOM kills, PID
namespace and private /proc, rotation and recovery after the client died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from controlplane.drivers.base import Driver, TaskConfig, TaskHandle
from controlplane.drivers.cgroups import MIB, TaskCgroup
from controlplane.drivers.exec import ExecDriver
from controlplane.drivers.logrotate import log_indexes
from tests.executor_support import (
    StartedTasks,
    read,
    require_isolation,
    require_tool,
    sh,
    start_in_killed_client,
)
from tests.waiting import wait_for

MakeConfig = Callable[..., TaskConfig]


@pytest.fixture
def driver() -> Iterator[ExecDriver]:
    require_isolation()
    drv = ExecDriver()
    yield drv
    _started.destroy_all(drv)


_started = StartedTasks()
start = _started.start


def cgroup_of(handle: TaskHandle) -> TaskCgroup:
    return TaskCgroup.from_state(handle.state["cgroup"])


def test_fingerprint_needs_root_and_cgroups(monkeypatch: pytest.MonkeyPatch) -> None:
    require_isolation()
    drv: Driver = ExecDriver()
    fp = drv.fingerprint()
    assert fp.detected and fp.healthy
    assert fp.attributes == {"driver.exec": "1"}

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    fp = drv.fingerprint()
    assert not fp.detected and not fp.healthy
    assert fp.health_description == "exec driver must run as root"


def test_exceeding_memory_is_an_oom_kill(driver: ExecDriver, task_config: MakeConfig) -> None:
    grow = "print('allocating', flush=True); b = b'x' * (200 * 1024 * 1024); print('survived')"
    cfg = task_config({"command": sys.executable, "args": ["-c", grow]}, memory_mb=32)
    result = driver.wait(start(driver, cfg), timeout=30)
    assert result is not None
    assert result.oom_killed and result.signal == signal.SIGKILL
    assert not result.successful()
    assert read(cfg.stdout_path) == "allocating\n"


def test_memory_max_is_the_hard_limit(driver: ExecDriver, task_config: MakeConfig) -> None:
    grow = "b = b'x' * (100 * 1024 * 1024); print('survived')"
    cfg = task_config(
        {"command": sys.executable, "args": ["-c", grow]}, memory_mb=32, memory_max_mb=300
    )
    handle = start(driver, cfg)
    result = driver.wait(handle, timeout=30)
    assert result is not None and result.successful() and not result.oom_killed
    assert read(cfg.stdout_path) == "survived\n"
    group = cgroup_of(handle)
    if group.version == 1:
        memory = group.dirs["memory"]
        assert Path(memory, "memory.limit_in_bytes").read_text().strip() == str(300 * MIB)
        assert Path(memory, "memory.soft_limit_in_bytes").read_text().strip() == str(32 * MIB)


def test_task_sees_only_its_own_processes(driver: ExecDriver, task_config: MakeConfig) -> None:
    host_pid = os.getpid()
    mounts_before = Path("/proc/self/mountinfo").read_text()
    script = f"echo pid=$$; kill -0 {host_pid} 2>/dev/null; echo kill=$?; ls /proc | grep '^[0-9]'"
    cfg = task_config(sh(script))
    result = driver.wait(start(driver, cfg), timeout=10)
    assert result is not None and result.successful()
    lines = read(cfg.stdout_path).split()
    assert lines[0] == "pid=2", "the command runs right under the namespace's init"
    assert lines[1] == "kill=1", "a host process must be invisible to the task"
    pids = {int(p) for p in lines[2:]}
    assert host_pid not in pids and pids <= set(range(1, 10))
    # the task's /proc mount did not propagate to the host
    assert Path("/proc/self/mountinfo").read_text() == mounts_before
    assert Path(f"/proc/{host_pid}").exists()


# Runs in a mount namespace whose mounts are *shared* (as on systemd hosts,
# unlike this test machine's private ones): there a task that mounted its
# /proc without first making its mounts private would replace the caller's.
_SHARED_MOUNTS_CHECK = """
import os, sys, tempfile
from controlplane.drivers.base import TaskConfig
from controlplane.drivers.exec import ExecDriver
before = open("/proc/self/mountinfo").read()
root = tempfile.mkdtemp()
os.makedirs(root + "/t")
driver = ExecDriver()
cfg = TaskConfig(alloc_id="shared-mounts", task_name="t", task_dir=root + "/t",
                 config={"command": "/bin/ls", "args": ["/proc"]})
handle = driver.start(cfg)
result = driver.wait(handle, 10)
driver.destroy(handle)
assert result is not None and result.successful(), result
assert open("/proc/self/mountinfo").read() == before, "a task mount leaked out"
assert os.path.exists(f"/proc/{os.getpid()}"), "the caller lost its /proc"
print("ok")
"""


def test_task_mounts_stay_private_even_under_shared_propagation(
    driver: ExecDriver, tmp_path: Path
) -> None:
    unshare = require_tool("unshare")  # util-linux
    shared = [unshare, "--mount", "sh", "-c", 'mount --make-rshared / && exec "$@"', "-"]
    out = subprocess.run(
        [*shared, sys.executable, "-c", _SHARED_MOUNTS_CHECK],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.getcwd(),
    )
    assert out.returncode == 0 and out.stdout == "ok\n", out.stderr


def test_cgroup_limits_stats_and_removal_on_destroy(
    driver: ExecDriver, task_config: MakeConfig
) -> None:
    cfg = task_config({"command": "sleep", "args": ["300"]}, cpu_mhz=250, memory_mb=64)
    handle = start(driver, cfg)
    group = cgroup_of(handle)
    assert group.exists()
    if group.version == 1:
        assert Path(group.dirs["cpu"], "cpu.shares").read_text().strip() == "250"
        memory = Path(group.dirs["memory"], "memory.limit_in_bytes").read_text().strip()
        assert memory == str(64 * MIB)
    else:
        assert Path(group.dirs["unified"], "memory.max").read_text().strip() == str(64 * MIB)
    stats = driver.stats(handle)
    assert stats["pids"] == 1 and stats["memory_bytes"] > 0
    (task_pid,) = group.pids()
    assert Path(f"/proc/{task_pid}/cmdline").read_bytes().endswith(b"sleep\x00300\x00")

    driver.destroy(handle)
    assert not group.exists()
    assert not Path(f"/proc/{task_pid}").exists()
    assert driver.recover(handle) is False


def test_stop_reaches_a_command_without_signal_handlers(
    driver: ExecDriver, task_config: MakeConfig
) -> None:
    # a namespace's pid 1 would ignore SIGTERM: the command must not be pid 1
    handle = start(driver, task_config({"command": "sleep", "args": ["300"]}))
    begun = time.monotonic()
    driver.stop(handle, timeout=10)
    assert time.monotonic() - begun < 5, "SIGTERM should have been enough"
    result = driver.wait(handle, timeout=5)
    assert result is not None and result.signal == signal.SIGTERM


def test_signal_reaches_the_task(driver: ExecDriver, task_config: MakeConfig) -> None:
    cfg = task_config(
        sh("trap 'echo got-usr1; exit 4' USR1; echo ready; while :; do sleep 0.05; done")
    )
    handle = start(driver, cfg)
    wait_for(lambda: "ready" in read(cfg.stdout_path), timeout=10, what="the trap installed")
    driver.signal(handle, "SIGUSR1")
    result = driver.wait(handle, timeout=10)
    assert result is not None and result.exit_code == 4
    assert "got-usr1" in read(cfg.stdout_path)


def test_logs_rotate_after_the_client_died_and_recover_gets_the_exit_code(
    driver: ExecDriver, task_config: MakeConfig
) -> None:
    script = "echo started; until [ -e go ]; do sleep 0.05; done; head -c 3200000 /dev/zero; exit 7"
    cfg = task_config(sh(script), memory_mb=64, logs_max_files=2, logs_max_file_size_mb=1)
    handle = start_in_killed_client("controlplane.drivers.exec:ExecDriver", cfg)
    _started.append(handle)
    logs = os.path.dirname(cfg.stdout_path)
    wait_for(lambda: "started" in read(cfg.stdout_path), timeout=10, what="the task to start")

    # no driver holds the task now: its executor alone keeps writing and rotating
    (Path(cfg.task_dir) / "go").touch()
    wait_for(lambda: log_indexes(logs, "web.stdout") == [2, 3], timeout=10, what="rotation to .3")
    assert os.path.getsize(os.path.join(logs, "web.stdout.2")) == 1024 * 1024

    assert driver.recover(handle)
    result = driver.wait(handle, timeout=10)
    assert result is not None and (result.exit_code, result.signal) == (7, 0)
    assert not result.oom_killed
    driver.destroy(handle)
    assert not cgroup_of(handle).exists()


def test_runs_as_the_task_user(driver: ExecDriver, task_config: MakeConfig) -> None:
    cfg = task_config(sh("id -u"), user="nobody", task_dir="")
    result = driver.wait(start(driver, cfg), timeout=10)
    assert result is not None and result.successful()
    assert read(cfg.stdout_path).strip() == "65534"
