"""The executor process on its own: the ready handshake, log pumping with
rotation, the status file, draining, and a clean signal state for the command."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from controlplane.drivers.executor_driver import EXECUTOR_PATH
from controlplane.drivers.logrotate import MIB, log_indexes


class Run:
    """One executor started on `spec`; `ready` is its handshake message."""

    def __init__(self, tmp: Path, argv: list[str], **spec: Any) -> None:
        self.status_path = tmp / "task.exit"
        self.logs = tmp / "logs"
        ready_r, ready_w = os.pipe()
        full = {
            "argv": argv,
            "cwd": str(tmp),
            "stdout_path": str(self.logs / "t.stdout.0"),
            "stderr_path": str(self.logs / "t.stderr.0"),
            "status_path": str(self.status_path),
            "ready_fd": ready_w,
            **spec,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", EXECUTOR_PATH, json.dumps(full)],
            pass_fds=(ready_w,),
            start_new_session=True,
            stderr=subprocess.PIPE,
        )
        os.close(ready_w)
        with os.fdopen(ready_r, "rb") as ready:
            self.ready = ready.read().decode()

    @property
    def pgid(self) -> int:
        return int(self.ready.split()[1])

    def status(self, timeout: float = 10) -> dict[str, Any]:
        self.proc.wait(timeout)
        result: dict[str, Any] = json.loads(self.status_path.read_text())
        return result

    def out(self) -> str:
        return (self.logs / "t.stdout.0").read_text()


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        if run.ready.startswith("ok"):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pgid, signal.SIGKILL)
        run.proc.kill()
        run.proc.wait()
        assert run.proc.stderr is not None
        run.proc.stderr.close()


@pytest.fixture
def run(tmp_path: Path, runs: list[Run]) -> Any:
    def start(argv: list[str], **spec: Any) -> Run:
        started = Run(tmp_path, argv, **spec)
        runs.append(started)
        return started

    return start


def test_reports_the_task_process_group_and_its_exit_status(run: Any) -> None:
    started = run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
    assert started.ready.startswith("ok ")
    assert started.status() == {"exit_code": 3, "signal": 0, "oom_killed": False, "err": ""}
    assert started.out() == "out\n"
    assert (started.logs / "t.stderr.0").read_text() == "err\n"


def test_command_killed_by_a_signal(run: Any) -> None:
    started = run(["/bin/sh", "-c", "kill -TERM $$"])
    status = started.status()
    assert (status["exit_code"], status["signal"]) == (0, signal.SIGTERM)


def test_command_leads_its_own_group_and_the_executor_is_not_in_it(run: Any) -> None:
    started = run(["/bin/sleep", "30"])
    _, pgid, _ = started.ready.split()
    assert os.getpgid(int(pgid)) == int(pgid)
    assert os.getpgid(started.proc.pid) != int(pgid)
    assert psutil.Process(int(pgid)).cmdline() == ["/bin/sleep", "30"]
    # a group SIGKILL (the driver's stop escalation) still leaves a status
    os.killpg(int(pgid), signal.SIGKILL)
    assert started.status()["signal"] == signal.SIGKILL


def test_launch_failure_is_reported_on_the_ready_pipe(run: Any, tmp_path: Path) -> None:
    not_executable = tmp_path / "script.sh"
    not_executable.write_text("echo hi\n")
    started = run([str(not_executable)])
    assert started.ready.startswith("err:failed to launch command:")
    assert "Permission denied" in started.ready
    assert started.proc.wait(10) == 127
    assert not started.status_path.exists()


def test_an_unwritable_log_fails_the_start_before_the_command_runs(
    run: Any, tmp_path: Path
) -> None:
    (tmp_path / "not-a-dir").write_text("")
    marker = tmp_path / "ran"
    started = run(["/bin/touch", str(marker)], stdout_path=str(tmp_path / "not-a-dir/t.stdout.0"))
    assert started.ready.startswith("err:failed to open task log: ")
    assert started.proc.wait(10) == 127
    assert not marker.exists()


def test_output_rotates_per_max_files_and_size(run: Any) -> None:
    size = 3 * MIB + 1000  # three full 1 MiB files and a bit
    started = run(["/usr/bin/head", "-c", str(size), "/dev/zero"], max_files=2, max_file_size_mb=1)
    assert started.status()["exit_code"] == 0
    assert log_indexes(str(started.logs), "t.stdout") == [2, 3]
    assert (started.logs / "t.stdout.2").stat().st_size == MIB
    assert (started.logs / "t.stdout.3").stat().st_size == 1000


def test_does_not_wait_for_a_background_child_holding_the_pipes(run: Any) -> None:
    started = run(["/bin/sh", "-c", "sleep 30 & echo parent-done"])
    begun = time.monotonic()
    assert started.status()["exit_code"] == 0
    assert time.monotonic() - begun < 3
    assert started.out() == "parent-done\n"


def test_command_starts_with_default_signal_dispositions_and_no_stdin(run: Any) -> None:
    # Python ignores SIGPIPE; an ignored signal would survive exec
    started = run(["/bin/sh", "-c", "grep SigIgn /proc/self/status; cat"])
    assert started.status()["exit_code"] == 0
    label, _, mask = started.out().strip().partition("\t")
    assert label == "SigIgn:"
    # signals 1-31 (bits 0-30); glibc's internal realtime ones (32, 33) are
    # inherited from whoever started the test run and cannot be reset
    assert int(mask, 16) & 0x7FFFFFFF == 0, mask
