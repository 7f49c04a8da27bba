"""raw_exec driver: runs a task as a plain host process, without isolation.

Owns the task's process group: launch, signals, exit status, recovery after a
client restart, and psutil stats. Never touches cgroups or namespaces (that is
the exec driver's job).

Each task runs under a tiny supervisor (a Python one-liner, in the task's own
session and process group) that waits for the command and records its exit
status in a file. The supervisor is what lets a *restarted* client, which is
not the task's parent and so cannot reap it, still report the real exit code
-- the role Nomad's executor plays. Signals are always sent to the whole
process group, so they reach the command and its children directly.

Handle state: {"pid", "pgid", "create_time", "status_path"} (pid = supervisor).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

from controlplane.drivers.base import (
    DriverError,
    ExitResult,
    Fingerprint,
    TaskConfig,
    TaskHandle,
    TaskStatus,
)

# Runs as `python -I -S -c _SUPERVISOR <ready_fd> <status_path> <argv...>`
# with the task's cwd, env and stdio. Catching (not ignoring) the stop
# signals keeps the supervisor alive to record the status, while the command
# starts with default dispositions (handlers reset on exec; SIG_IGN would be
# inherited). It reports "ok" (or the exec error) on the ready pipe once the
# command runs, so no signal can reach a half-started task.
_SUPERVISOR = """
import json, os, signal, subprocess, sys
ready, status_path, argv = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
          signal.SIGUSR2):
    signal.signal(s, lambda *_: None)
try:
    child = subprocess.Popen(argv)
except OSError as e:
    os.write(ready, ("err:" + str(e)).encode())
    os._exit(127)
os.write(ready, b"ok")
os.close(ready)
rc = child.wait()
status = {"exit_code": rc, "signal": 0} if rc >= 0 else {"exit_code": 0, "signal": -rc}
tmp = status_path + ".tmp"
with open(tmp, "w") as f:
    json.dump(status, f)
os.replace(tmp, status_path)
os._exit(status["exit_code"] or (128 + status["signal"] if status["signal"] else 0))
"""
_READY_TIMEOUT_S = 30.0

_POLL_S = 0.05
# psutil create_time is derived from boot time + start ticks; allow rounding.
_CREATE_TIME_SLACK_S = 0.05


def signal_number(name: str) -> int:
    """`"SIGTERM"`, `"TERM"` or `"15"` -> 15; DriverError for unknown names."""
    text = (name or "SIGTERM").strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith("SIG"):
        text = "SIG" + text
    try:
        return int(signal.Signals[text])
    except KeyError:
        raise DriverError(f"unknown signal {name!r}", recoverable=False) from None


@dataclass
class _Task:
    pid: int
    pgid: int
    create_time: float
    status_path: str
    popen: subprocess.Popen[bytes] | None = None  # None when recovered
    killed: bool = False  # we escalated to SIGKILL


def _status_dir() -> str:
    path = os.path.join(tempfile.gettempdir(), "nomadtui-raw_exec")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def resolve_command(command: str, cwd: str, env: dict[str, str]) -> str:
    """Absolute path of `command`: relative paths are taken from the task dir,
    bare names are looked up on the task's PATH."""
    if not command:
        raise DriverError("missing command: the task config has no `command`", False)
    if os.sep in command:
        path = command if os.path.isabs(command) else os.path.join(cwd or os.getcwd(), command)
        if not os.path.isfile(path):
            raise DriverError(f'failed to launch command: "{command}": no such file', False)
        if not os.access(path, os.X_OK):
            raise DriverError(f'failed to launch command: "{command}": permission denied', False)
        return path
    found = shutil.which(command, path=env.get("PATH"))
    if found is None:
        raise DriverError(
            f'failed to launch command: "{command}": executable file not found in $PATH', False
        )
    return os.path.abspath(found)


def task_env(cfg: TaskConfig) -> dict[str, str]:
    """The task's environment: cfg.env, plus the client's PATH when it sets none."""
    env = dict(cfg.env)
    env.setdefault("PATH", os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"))
    return env


class RawExecDriver:
    """Host processes, one process group per task. Thread-safe."""

    name = "raw_exec"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[str, _Task] = {}  # key: handle key
        self._cpu_prev: dict[str, tuple[float, float]] = {}  # key -> (cpu_s, monotonic)

    # -- protocol -----------------------------------------------------------

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(
            detected=True,
            healthy=True,
            health_description="Healthy",
            attributes={"driver.raw_exec": "1"},
        )

    def start(self, cfg: TaskConfig) -> TaskHandle:
        env = task_env(cfg)
        cwd = cfg.task_dir or None
        if cwd is not None and not os.path.isdir(cwd):
            raise DriverError(f"task dir {cwd} does not exist", recoverable=False)
        command = resolve_command(str(cfg.config.get("command", "")), cfg.task_dir, env)
        args = cfg.config.get("args") or []
        if not isinstance(args, list):
            raise DriverError("`args` must be a list of strings", recoverable=False)
        status_path = os.path.join(
            _status_dir(), f"{cfg.alloc_id}-{cfg.task_name}-{time.time_ns()}.exit"
        )
        ready_r, ready_w = os.pipe()
        argv = [sys.executable, "-I", "-S", "-c", _SUPERVISOR, str(ready_w), status_path]
        argv += [command, *(str(a) for a in args)]
        try:
            with contextlib.ExitStack() as files:
                stdout = files.enter_context(_log_file(cfg.stdout_path))
                stderr = files.enter_context(_log_file(cfg.stderr_path))
                try:
                    popen = subprocess.Popen(
                        argv,
                        cwd=cwd,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=stdout,
                        stderr=stderr,
                        start_new_session=True,
                        close_fds=True,
                        pass_fds=(ready_w,),
                    )
                except OSError as e:
                    raise DriverError(f"failed to launch command: {e}") from e
            os.close(ready_w)
            ready_w = -1
            reply = _read_ready(ready_r, _READY_TIMEOUT_S)
        finally:
            os.close(ready_r)
            if ready_w >= 0:
                os.close(ready_w)
        if reply != "ok":
            popen.kill()
            popen.wait()
            detail = reply[4:] if reply.startswith("err:") else "supervisor did not start"
            raise DriverError(f"failed to launch command {command!r}: {detail}")
        try:
            create_time = psutil.Process(popen.pid).create_time()
        except psutil.Error:
            create_time = 0.0  # already gone: wait() reaps it through popen
        task = _Task(popen.pid, popen.pid, create_time, status_path, popen)
        handle = TaskHandle(
            driver=self.name,
            alloc_id=cfg.alloc_id,
            task_name=cfg.task_name,
            started_at=time.time_ns(),
            state={
                "pid": task.pid,
                "pgid": task.pgid,
                "create_time": task.create_time,
                "status_path": status_path,
            },
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
            return self._result(task, rc)
        deadline = None if timeout is None else time.monotonic() + timeout
        while _alive(task):
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(_POLL_S)
        return self._result(task, None)

    def stop(self, handle: TaskHandle, timeout: float, signal: str = "SIGTERM") -> None:
        task = self._task(handle)
        signum = signal_number(signal)
        if not _alive(task):
            self._kill_group(task, 9)  # leftovers of an exited command
            return
        self._kill_group(task, signum)
        if self.wait(handle, timeout) is None:
            task.killed = True
            self._kill_group(task, 9)
            self.wait(handle, 5.0)
        # Children that outlived the command die with the task.
        self._kill_group(task, 9)

    def signal(self, handle: TaskHandle, signal: str) -> None:
        # the whole group: what the command started hears it too (the
        # supervisor ignores the catchable signals)
        task = self._task(handle)
        if not _alive(task):
            raise DriverError("task is not running", recoverable=False)
        self._kill_group(task, signal_number(signal))

    def destroy(self, handle: TaskHandle) -> None:
        try:
            task = self._task(handle)
        except DriverError:
            return
        self._kill_group(task, 9)
        if task.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                task.popen.wait(5.0)
        with contextlib.suppress(OSError):
            os.unlink(task.status_path)
        with self._lock:
            self._tasks.pop(_key(handle), None)
            self._cpu_prev.pop(_key(handle), None)

    def inspect(self, handle: TaskHandle) -> TaskStatus:
        task = self._task(handle)
        result = self.wait(handle, 0)
        details = {"pid": str(task.pid)}
        return TaskStatus(running=result is None, exit=result, details=details)

    def recover(self, handle: TaskHandle) -> bool:
        """Reattach when the supervisor is still the same process (pid and
        create_time match), or when it already exited and left its status."""
        state = handle.state
        try:
            task = _Task(
                pid=int(state["pid"]),
                pgid=int(state.get("pgid", state["pid"])),
                create_time=float(state.get("create_time", 0.0)),
                status_path=str(state.get("status_path", "")),
            )
        except (KeyError, TypeError, ValueError):
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
        the command and its descendants (the supervisor is not counted)."""
        task = self._task(handle)
        try:
            procs = psutil.Process(task.pid).children(recursive=True)
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
        }

    # -- internals ----------------------------------------------------------

    def _task(self, handle: TaskHandle) -> _Task:
        with self._lock:
            task = self._tasks.get(_key(handle))
        if task is None:
            raise DriverError(
                f"raw_exec: unknown task {handle.task_name} of alloc {handle.alloc_id}"
            )
        return task

    def _result(self, task: _Task, returncode: int | None) -> ExitResult:
        try:
            with open(task.status_path) as f:
                status = json.load(f)
            return ExitResult(
                exit_code=int(status.get("exit_code", 0)),
                signal=int(status.get("signal", 0)),
                err=str(status.get("err", "")),
            )
        except (OSError, ValueError):
            pass
        # No status: the supervisor itself was killed (normally by our SIGKILL).
        if returncode is not None and returncode < 0:
            return ExitResult(signal=-returncode)
        if task.killed or returncode is None:
            return ExitResult(signal=int(signal.SIGKILL))
        return ExitResult(exit_code=returncode)

    def _kill_group(self, task: _Task, signum: int) -> None:
        if not _group_is_ours(task):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(task.pgid, signum)


def _key(handle: TaskHandle) -> str:
    return f"{handle.alloc_id}/{handle.task_name}/{handle.started_at}"


@contextlib.contextmanager
def _log_file(path: str) -> Any:
    if not path:
        yield subprocess.DEVNULL
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "ab") as f:
        yield f


def _read_ready(fd: int, timeout: float) -> str:
    """The supervisor's one message on the ready pipe ("" on EOF or timeout)."""
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


def _group_is_ours(task: _Task) -> bool:
    """A process group id stays allocated while any member lives, and a new
    group with this id needs a leader with pid == pgid; so the group is ours
    unless such a leader exists and is not our supervisor."""
    try:
        leader = psutil.Process(task.pgid)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
    if task.popen is not None and task.popen.returncode is None:
        return True
    try:
        return abs(leader.create_time() - task.create_time) <= _CREATE_TIME_SLACK_S
    except psutil.Error:
        return False
