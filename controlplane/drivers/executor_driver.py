"""The client half of the task executor, shared by raw_exec, exec and java:
launches `executor.py` for a task, and waits for, signals, stops, recovers and
destroys the task through it. Subclasses say which command runs and whether
it is isolated; this module never builds a command line itself.

The executor (see controlplane.drivers.executor) runs in its own session and
outlives the client; it writes the task's exit status to a file, which is what
lets a *restarted* client, no longer the executor's parent, report the real
exit code. Signals go to the task's process group (never to the executor), so
they reach the command and its children directly.

Handle state (plain data, persisted by the client):
    {"pid", "create_time"}            the executor
    {"pgid", "pgid_create_time"}      the task's process group and its leader
    {"status_path"}                   where the executor writes the exit status
    {"cgroup"}                        isolated tasks: TaskCgroup.to_state()
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

from controlplane.drivers import executor
from controlplane.drivers.base import (
    DriverError,
    ExitResult,
    Fingerprint,
    TaskConfig,
    TaskHandle,
    TaskStatus,
)
from controlplane.drivers.cgroups import CgroupError, TaskCgroup
from controlplane.drivers.task_command import signal_number, task_env

EXECUTOR_PATH = os.path.abspath(executor.__file__)
_READY_TIMEOUT_S = 30.0
_POLL_S = 0.05
# psutil create_time is derived from boot time + start ticks; allow rounding.
_CREATE_TIME_SLACK_S = 0.05
_EXECUTOR_EXIT_TIMEOUT_S = 5.0


@dataclass
class _Task:
    pid: int  # the executor
    create_time: float
    pgid: int
    pgid_create_time: float
    status_path: str
    cgroup: TaskCgroup | None = None
    popen: subprocess.Popen[bytes] | None = None  # None when recovered
    # for exec_task (script checks); a recovered task has the client's env
    env: dict[str, str] | None = None
    cwd: str = ""


def _status_dir() -> str:
    path = os.path.join(tempfile.gettempdir(), "nomadtui-executor")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


class ExecutorDriver:
    """Tasks run under one executor process each. Thread-safe. Subclasses set
    `name`, `isolated`, and implement `command` and `fingerprint`."""

    name = "executor"
    isolated = False  # own cgroup + PID/mount namespaces

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, _Task] = {}  # key: handle key
        self._cpu_prev: dict[str, tuple[float, float]] = {}  # key -> (cpu_s, monotonic)

    # -- for subclasses -----------------------------------------------------

    def fingerprint(self) -> Fingerprint:
        raise NotImplementedError

    def command(self, cfg: TaskConfig, env: dict[str, str]) -> list[str]:
        """The task's argv, argv[0] an absolute path; DriverError when invalid."""
        raise NotImplementedError

    # -- protocol -----------------------------------------------------------

    def start(self, cfg: TaskConfig) -> TaskHandle:
        env = task_env(cfg)
        if cfg.task_dir and not os.path.isdir(cfg.task_dir):
            raise DriverError(f"task dir {cfg.task_dir} does not exist", recoverable=False)
        argv = self.command(cfg, env)
        spec: dict[str, Any] = {
            "argv": argv,
            "cwd": cfg.task_dir,
            "stdout_path": cfg.stdout_path,
            "stderr_path": cfg.stderr_path,
            "max_files": cfg.logs_max_files,
            "max_file_size_mb": cfg.logs_max_file_size_mb,
            "isolate": self.isolated,
        }
        if cfg.user:
            spec["user"] = _user(cfg.user)
        cgroup = self._create_cgroup(cfg) if self.isolated else None
        if cgroup is not None:
            spec["cgroup"] = cgroup.to_state()
        try:
            task = self._launch(cfg, spec, env, argv[0])
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        task.cgroup = cgroup
        task.env, task.cwd = env, cfg.task_dir
        state: dict[str, Any] = {
            "pid": task.pid,
            "create_time": task.create_time,
            "pgid": task.pgid,
            "pgid_create_time": task.pgid_create_time,
            "status_path": task.status_path,
        }
        if cgroup is not None:
            state["cgroup"] = cgroup.to_state()
        handle = TaskHandle(
            driver=self.name,
            alloc_id=cfg.alloc_id,
            task_name=cfg.task_name,
            started_at=time.time_ns(),
            state=state,
        )
        with self._lock:
            self._tasks[_key(handle)] = task
        return handle

    def wait(self, handle: TaskHandle, timeout: float | None = None) -> ExitResult | None:
        task = self._task(handle)
        if task.popen is not None:
            try:
                rc = task.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
            return _result(task, rc)
        deadline = None if timeout is None else time.monotonic() + timeout
        while _alive(task):
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(_POLL_S)
        return _result(task, None)

    def stop(self, handle: TaskHandle, timeout: float, signal: str = "SIGTERM") -> None:
        task = self._task(handle)
        signum = signal_number(signal)
        if not _alive(task):
            _kill_group(task, 9)  # leftovers of an exited command
            return
        _kill_group(task, signum)
        if self.wait(handle, timeout) is None:
            _kill_group(task, 9)
            self.wait(handle, 5.0)
        # Children that outlived the command die with the task.
        _kill_group(task, 9)

    def signal(self, handle: TaskHandle, signal: str) -> None:
        task = self._task(handle)
        if not _alive(task):
            raise DriverError("task is not running", recoverable=False)
        _kill_group(task, signal_number(signal))

    def destroy(self, handle: TaskHandle) -> None:
        try:
            task = self._task(handle)
        except DriverError:
            return
        _kill_group(task, 9)
        self._reap_executor(task)
        if task.cgroup is not None:
            try:
                task.cgroup.remove()
            except OSError as e:
                raise DriverError(f"failed to remove cgroup: {e}") from e
        for path in (task.status_path, _executor_log(task.status_path)):
            with contextlib.suppress(OSError):
                os.unlink(path)
        with self._lock:
            self._tasks.pop(_key(handle), None)
            self._cpu_prev.pop(_key(handle), None)

    def exec_task(self, handle: TaskHandle, argv: list[str], timeout: float) -> tuple[bytes, int]:
        """Run `argv` with the task's environment and working directory (script
        checks); (stdout+stderr, exit code). TimeoutError after `timeout`.
        Isolated (exec) tasks: the command runs on the host, not in the
        task's namespaces."""
        task = self._task(handle)
        if not argv or not argv[0]:
            raise DriverError("exec: no command", recoverable=False)
        try:
            done = subprocess.run(
                argv,
                env=task.env or dict(os.environ),
                cwd=task.cwd if task.cwd and os.path.isdir(task.cwd) else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise TimeoutError(f"exec timed out after {timeout:g}s") from e
        except OSError as e:
            raise DriverError(f"exec: {e}") from e
        return done.stdout, done.returncode

    def inspect(self, handle: TaskHandle) -> TaskStatus:
        task = self._task(handle)
        result = self.wait(handle, 0)
        details = {"pid": str(task.pid)}
        return TaskStatus(running=result is None, exit=result, details=details)

    def recover(self, handle: TaskHandle) -> bool:
        """Reattach when the executor is still the same process (pid and
        create_time match), or when it already exited and left its status."""
        state = handle.state
        try:
            create_time = float(state.get("create_time", 0.0))
            task = _Task(
                pid=int(state["pid"]),
                create_time=create_time,
                pgid=int(state.get("pgid", state["pid"])),
                # handles of the one-liner supervisor: it led the group itself
                pgid_create_time=float(state.get("pgid_create_time", create_time)),
                status_path=str(state.get("status_path", "")),
                cgroup=TaskCgroup.from_state(state["cgroup"]) if state.get("cgroup") else None,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            return False
        with self._lock:
            if _key(handle) in self._tasks:
                return True
        if not _alive(task) and not (task.status_path and os.path.exists(task.status_path)):
            return False
        with self._lock:
            self._tasks[_key(handle)] = task
        return True

    def stats(self, handle: TaskHandle) -> dict[str, Any]:
        """{"rss_bytes", "cpu_user_s", "cpu_system_s", "cpu_percent", "pids"} of
        the task's processes (from its cgroup when isolated, else the
        executor's descendants; the executor itself is not counted)."""
        task = self._task(handle)
        if task.cgroup is not None:
            usage = task.cgroup.usage()
            rss, user, system = usage["rss_bytes"], usage["cpu_user_s"], usage["cpu_system_s"]
            pids = len(task.cgroup.pids())
            extra = {"memory_bytes": usage["memory_bytes"]}
        else:
            rss, user, system, pids = _process_tree_usage(task.pid)
            extra = {}
        now = time.monotonic()
        key = _key(handle)
        with self._lock:
            prev = self._cpu_prev.get(key)
            self._cpu_prev[key] = (user + system, now)
        percent = 0.0
        if prev is not None and now > prev[1]:
            percent = max(0.0, (user + system - prev[0]) / (now - prev[1]) * 100.0)
        return {
            "rss_bytes": rss,
            "cpu_user_s": user,
            "cpu_system_s": system,
            "cpu_percent": percent,
            "pids": pids,
            **extra,
        }

    # -- internals ----------------------------------------------------------

    def _task(self, handle: TaskHandle) -> _Task:
        with self._lock:
            task = self._tasks.get(_key(handle))
        if task is None:
            raise DriverError(
                f"{self.name}: unknown task {handle.task_name} of alloc {handle.alloc_id}"
            )
        return task

    def _create_cgroup(self, cfg: TaskConfig) -> TaskCgroup:
        try:
            return TaskCgroup.create(
                f"{cfg.alloc_id}.{cfg.task_name}",
                memory_mb=cfg.memory_mb,
                memory_max_mb=cfg.memory_max_mb,
                cpu_shares=cfg.cpu_mhz,
            )
        except (CgroupError, OSError) as e:
            raise DriverError(f"{self.name}: {e}") from e

    def _launch(
        self, cfg: TaskConfig, spec: dict[str, Any], env: dict[str, str], command: str
    ) -> _Task:
        """Start the executor and wait until the command runs (or failed to)."""
        status_path = os.path.join(
            _status_dir(), f"{cfg.alloc_id}-{cfg.task_name}-{time.time_ns()}.exit"
        )
        ready_r, ready_w = os.pipe()
        spec = {**spec, "status_path": status_path, "ready_fd": ready_w}
        argv = [sys.executable, "-I", "-S", EXECUTOR_PATH, json.dumps(spec)]
        try:
            with open(_executor_log(status_path), "ab") as executor_log:
                try:
                    popen = subprocess.Popen(
                        argv,
                        cwd="/",
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=executor_log,
                        start_new_session=True,
                        close_fds=True,
                        pass_fds=(ready_w,),
                    )
                except OSError as e:
                    raise DriverError(f"failed to launch executor: {e}") from e
            os.close(ready_w)
            ready_w = -1
            reply = _read_ready(ready_r, _READY_TIMEOUT_S)
        finally:
            os.close(ready_r)
            if ready_w >= 0:
                os.close(ready_w)
        parts = reply.split()
        if len(parts) != 3 or parts[0] != "ok":
            popen.kill()
            popen.wait()
            detail = reply[4:] if reply.startswith("err:") else _executor_failure(status_path)
            with contextlib.suppress(OSError):
                os.unlink(_executor_log(status_path))
            if not detail.startswith("failed to"):
                detail = f"failed to launch command {command!r}: {detail}"
            raise DriverError(detail)
        try:
            create_time = psutil.Process(popen.pid).create_time()
        except psutil.Error:
            create_time = 0.0  # already gone: wait() reaps it through popen
        pgid = int(parts[1])
        pgid_create_time = psutil.boot_time() + int(parts[2]) / os.sysconf("SC_CLK_TCK")
        return _Task(popen.pid, create_time, pgid, pgid_create_time, status_path, popen=popen)

    def _reap_executor(self, task: _Task) -> None:
        """The executor exits on its own once the task is dead; make sure."""
        if task.popen is not None:
            try:
                task.popen.wait(_EXECUTOR_EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                task.popen.kill()
                task.popen.wait()
            return
        deadline = time.monotonic() + _EXECUTOR_EXIT_TIMEOUT_S
        while _alive(task) and time.monotonic() < deadline:
            time.sleep(_POLL_S)
        proc = _same_process(task)
        if proc is not None:
            with contextlib.suppress(psutil.Error):
                proc.kill()


def _key(handle: TaskHandle) -> str:
    return f"{handle.alloc_id}/{handle.task_name}/{handle.started_at}"


def _user(name: str) -> dict[str, Any]:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise DriverError(f"user {name!r} not found", recoverable=False) from None
    if os.geteuid() != 0 and entry.pw_uid != os.geteuid():
        raise DriverError(f"cannot run as user {name!r}: the client is not root", False)
    groups = os.getgrouplist(name, entry.pw_gid)
    return {"name": name, "uid": entry.pw_uid, "gid": entry.pw_gid, "groups": groups}


def _executor_log(status_path: str) -> str:
    return status_path + ".log"


def _executor_failure(status_path: str) -> str:
    """The last line the executor wrote to its own stderr, for error messages."""
    try:
        with open(_executor_log(status_path), errors="replace") as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        lines = []
    return f"executor failed: {lines[-1]}" if lines else "executor did not start"


def _result(task: _Task, returncode: int | None) -> ExitResult:
    try:
        with open(task.status_path) as f:
            status = json.load(f)
        return ExitResult(
            exit_code=int(status.get("exit_code", 0)),
            signal=int(status.get("signal", 0)),
            oom_killed=bool(status.get("oom_killed", False)),
            err=str(status.get("err", "")),
        )
    except (OSError, ValueError):
        pass
    # No status: the executor itself was killed or crashed.
    if returncode is not None and returncode > 0:
        return ExitResult(exit_code=returncode, err=_executor_failure(task.status_path))
    if returncode is not None and returncode < 0:
        return ExitResult(signal=-returncode)
    return ExitResult(signal=int(signal.SIGKILL))


def _read_ready(fd: int, timeout: float) -> str:
    """The executor's one message on the ready pipe ("" on EOF or timeout)."""
    deadline = time.monotonic() + timeout
    data = b""
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def _process_tree_usage(pid: int) -> tuple[int, float, float, int]:
    try:
        procs = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        procs = []
    rss, user, system, pids = 0, 0.0, 0.0, 0
    for proc in procs:
        try:
            with proc.oneshot():
                rss += proc.memory_info().rss
                times = proc.cpu_times()
        except psutil.Error:
            continue
        user += times.user
        system += times.system
        pids += 1
    return rss, user, system, pids


def _same_process(task: _Task) -> psutil.Process | None:
    try:
        proc = psutil.Process(task.pid)
        if task.create_time and abs(proc.create_time() - task.create_time) > _CREATE_TIME_SLACK_S:
            return None  # pid reused by another process
        return proc
    except psutil.Error:
        return None


def _alive(task: _Task) -> bool:
    if task.popen is not None:
        return task.popen.poll() is None
    proc = _same_process(task)
    if proc is None:
        return False
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _kill_group(task: _Task, signum: int) -> None:
    if not _group_is_ours(task):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(task.pgid, signum)


def _group_is_ours(task: _Task) -> bool:
    """A process group id stays allocated while any member lives, and a new
    group with this id needs a leader with pid == pgid; so the group is ours
    unless such a leader exists and is not the one the executor started."""
    try:
        leader = psutil.Process(task.pgid)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
    try:
        return abs(leader.create_time() - task.pgid_create_time) <= _CREATE_TIME_SLACK_S
    except psutil.Error:
        return False
