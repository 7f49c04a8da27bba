"""The task executor: one long-lived supervisor process per task, started by
the raw_exec/exec/java drivers. Owns the task's process from fork to exit
status: it starts the command, pumps its stdout/stderr into rotating log
files, applies isolation (cgroup, PID and mount namespaces) when asked, and
records how the command ended. Never talks to the client or the servers.

Run by path, with the spec as one JSON argument:

    python -I -S .../controlplane/drivers/executor.py '{"argv": [...], ...}'

`-I -S` and stdlib-only imports keep start-up to a few milliseconds (task
start latency). The environment of the executor is the task's environment.

Process tree (the executor runs in its own session, so it outlives a client
that is SIGKILLed, and is never in the task's process group):

    raw_exec:  executor ── command                (setsid: pgid = command)
    exec/java: executor ── init (pid 1) ── command (setsid in init: pgid = init)

For isolated tasks the executor calls unshare(CLONE_NEWPID) through ctypes
(Python 3.11 has no os.unshare) so its next fork is pid 1 of a new PID
namespace. That init unshares a mount namespace, makes every mount private
(so nothing it mounts propagates back to the host) and mounts a fresh /proc,
which then lists only the task's processes. The init is a tiny reaper rather
than the command itself because a namespace's pid 1 drops every signal it has
no handler for: with the command as pid 1 a plain `sleep` would ignore the
driver's SIGTERM. The init leaves all signals at their default, so it ignores
them and the command (same process group) gets them; when the command exits
the init reports its status and exits, and the kernel kills whatever is left
in the namespace. util-linux `unshare --fork --pid --mount-proc` would do the
mounts too, but makes the command pid 1, with the problem above.

The command joins the task's cgroup itself, between fork and exec, so its
first allocation is already limited and the executor is never charged.

Protocol with the driver:
- ready fd: the executor writes `ok <pgid> <leader start ticks>` once the
  command has exec'd, or `err:<message>` when it could not be started;
- status file: written atomically (tmp + rename) after the command exited and
  its output was drained: {"exit_code", "signal", "oom_killed", "err"}.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any, NoReturn

if __name__ == "__main__" and not __package__:
    # Run by path with -I: make the package importable without site-packages.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from controlplane.drivers.cgroups import TaskCgroup  # noqa: E402
from controlplane.drivers.logrotate import RotatingLog  # noqa: E402

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_REC, MS_PRIVATE = 16384, 1 << 18

# After the command exits, keep reading its pipes while output still flows
# (grandchildren may hold them open): stop at EOF, after this much silence,
# or at the cap.
_DRAIN_QUIET_S = 0.1
_DRAIN_MAX_S = 1.0
_READ_SIZE = 65536


class _Discard:
    """Stand-in log for a stream without a path."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def main(argv: list[str]) -> int:
    spec: dict[str, Any] = json.loads(argv[1])
    ready = int(spec["ready_fd"])
    try:
        # before the command runs, so a log that cannot be written fails the start
        out_log = _open_log(spec.get("stdout_path", ""), spec)
        err_log = _open_log(spec.get("stderr_path", ""), spec)
    except (OSError, ValueError) as e:
        _report(ready, f"err:failed to open task log: {e}")
        return 127
    try:
        child, exec_r, out_r, err_r, status_r = _launch(spec)
    except OSError as e:
        _report(ready, f"err:{e}")
        return 127
    error = _read_all(exec_r)  # EOF: the command exec'd (the pipe is close-on-exec)
    if error:
        _report(ready, "err:" + error.decode(errors="replace"))
        os.waitpid(child, 0)
        return 127
    # the child leads the task's process group (raw: the command; isolated: the init)
    _report(ready, f"ok {child} {_start_ticks(child)}")

    try:
        wait_status = _pump(child, {out_r: out_log, err_r: err_log})
    finally:
        out_log.close()
        err_log.close()
    status = _decode(wait_status)
    if status_r >= 0:
        reported = _read_all(status_r).split()
        if len(reported) == 2:  # the init's report of the command (else the init was killed)
            status = {"exit_code": int(reported[0]), "signal": int(reported[1])}
    oom = bool(spec.get("cgroup")) and TaskCgroup.from_state(spec["cgroup"]).oom_kills() > 0
    _write_status(spec["status_path"], {**status, "oom_killed": oom, "err": ""})
    return int(status["exit_code"]) or (128 + int(status["signal"]) if status["signal"] else 0)


def _launch(spec: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """Fork the command (or the namespace init); returns (child pid, exec
    pipe, stdout pipe, stderr pipe, status pipe or -1)."""
    isolated = bool(spec.get("isolate"))
    exec_r, exec_w = os.pipe()  # os.pipe() fds are close-on-exec
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    status_r, status_w = os.pipe() if isolated else (-1, -1)
    if isolated:
        _unshare(CLONE_NEWPID)
    child = os.fork()
    if child == 0:
        try:
            os.close(int(spec["ready_fd"]))  # the driver waits for its EOF
            for fd in (exec_r, out_r, err_r, status_r):
                if fd >= 0:
                    os.close(fd)
            if isolated:
                _init(spec, exec_w, out_w, err_w, status_w)
            else:
                _exec_command(spec, exec_w, out_w, err_w, new_session=True)
        finally:
            os._exit(127)  # never return into the executor's code as a second executor
    for fd in (exec_w, out_w, err_w, status_w):
        if fd >= 0:
            os.close(fd)
    return child, exec_r, out_r, err_r, status_r


def _init(spec: dict[str, Any], exec_w: int, out_w: int, err_w: int, status_w: int) -> NoReturn:
    """pid 1 of the task's PID namespace: private mounts, a fresh /proc, then
    fork the command and reap until it exits; report its status. Never returns."""
    try:
        _reset_signals()  # default on a namespace init = ignored
        os.setsid()
        _unshare(CLONE_NEWNS)
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        command = os.fork()
    except BaseException as e:
        _fail(exec_w, f"failed to isolate the task: {e}")
    if command == 0:
        _exec_command(spec, exec_w, out_w, err_w, new_session=False)
    for fd in (exec_w, out_w, err_w):
        os.close(fd)
    code, sig = 127, 0
    while True:
        try:
            pid, wait_status = os.wait()  # also reaps orphans re-parented to us
        except ChildProcessError:
            break
        if pid == command:
            decoded = _decode(wait_status)
            code, sig = decoded["exit_code"], decoded["signal"]
            break
    os.write(status_w, f"{code} {sig}".encode())
    os._exit(0)


def _exec_command(
    spec: dict[str, Any], exec_w: int, out_w: int, err_w: int, new_session: bool
) -> NoReturn:
    """In the forked child: join the cgroup, wire stdio, drop privileges, exec.
    Reports failures on `exec_w` and exits 127. Never returns."""
    stage = "prepare"
    try:
        if new_session:
            os.setsid()
        if spec.get("cgroup"):
            stage = "join cgroup"
            TaskCgroup.from_state(spec["cgroup"]).join()
        stage = "redirect stdio"
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        for fd in (devnull, out_w, err_w):
            if fd > 2:
                os.close(fd)
        stage = f"change to task dir {spec.get('cwd')!r}"
        if spec.get("cwd"):
            os.chdir(spec["cwd"])
        user = spec.get("user")
        if user:
            stage = f"switch to user {user['name']!r}"
            os.setgroups(user["groups"])
            os.setgid(user["gid"])
            os.setuid(user["uid"])
        _reset_signals()
        stage = "launch command"
        argv = spec["argv"]
        os.execve(argv[0], argv, os.environ)
    except BaseException as e:
        _fail(exec_w, f"failed to {stage}: {e}")


def _pump(child: int, logs: dict[int, Any]) -> int:
    """Copy pipe output into the logs until the child exits and its output is
    drained; returns the child's wait status."""
    try:
        exited_fd = os.pidfd_open(child)
    except OSError:
        exited_fd = -1  # kernel without pidfds: poll waitpid between reads
    wait_status: int | None = None
    drain_until = 0.0
    open_fds = set(logs)
    while open_fds:
        if wait_status is None:
            watched = [*open_fds, exited_fd] if exited_fd >= 0 else list(open_fds)
            readable, _, _ = select.select(watched, [], [], None if exited_fd >= 0 else 0.05)
            if exited_fd in readable or exited_fd < 0:
                pid, status = os.waitpid(child, 0 if exited_fd >= 0 else os.WNOHANG)
                if pid == child:
                    wait_status = status
                    drain_until = time.monotonic() + _DRAIN_MAX_S
        else:
            remaining = drain_until - time.monotonic()
            if remaining <= 0:
                break
            readable, _, _ = select.select(list(open_fds), [], [], min(remaining, _DRAIN_QUIET_S))
            if not readable:
                break  # quiet: whatever still holds the pipes is not the command
        for fd in readable:
            if fd == exited_fd:
                continue
            data = os.read(fd, _READ_SIZE)
            if data:
                logs[fd].write(data)
            else:
                open_fds.discard(fd)
    for fd in logs:
        os.close(fd)
    if wait_status is None:  # both pipes closed before the command exited
        _, wait_status = os.waitpid(child, 0)
    if exited_fd >= 0:
        os.close(exited_fd)
    return wait_status


def _open_log(path: str, spec: dict[str, Any]) -> Any:
    if not path:
        return _Discard()
    return RotatingLog(path, int(spec.get("max_files", 10)), int(spec.get("max_file_size_mb", 10)))


def _decode(wait_status: int) -> dict[str, int]:
    code = os.waitstatus_to_exitcode(wait_status)
    return {"exit_code": code, "signal": 0} if code >= 0 else {"exit_code": 0, "signal": -code}


def _write_status(path: str, status: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(status, f)
    os.replace(tmp, path)


def _start_ticks(pid: int) -> int:
    """Start time (clock ticks after boot) of `pid`, as psutil's create_time
    uses it; the child is not reaped yet, so its /proc entry exists."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0


def _reset_signals() -> None:
    """Default dispositions: Python ignores SIGPIPE and SIG_IGN survives exec."""
    for signum in signal.valid_signals():
        if signum in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:  # noqa: SIM105 (contextlib costs start-up time)
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass  # signals the C library reserves


_LIBC: Any = None


def _libc() -> Any:
    global _LIBC
    if _LIBC is None:
        import ctypes  # only isolated tasks pay for it

        _LIBC = (ctypes.CDLL(None, use_errno=True), ctypes)
    return _LIBC


def _unshare(flags: int) -> None:
    libc, ctypes = _libc()
    if libc.unshare(flags) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int) -> None:
    libc, ctypes = _libc()

    def enc(s: str | None) -> bytes | None:
        return s.encode() if s is not None else None

    if libc.mount(enc(source), enc(target), enc(fstype), flags, None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target}: {os.strerror(errno)}")


def _fail(exec_w: int, message: str) -> NoReturn:
    try:
        os.write(exec_w, message.encode())
    finally:
        os._exit(127)


def _report(fd: int, message: str) -> None:
    try:  # noqa: SIM105 (contextlib costs start-up time)
        os.write(fd, message.encode())
    except OSError:
        pass  # the driver gave up waiting; it reads no reply as a failure
    os.close(fd)


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, _READ_SIZE):
        data += chunk
    os.close(fd)
    return data


if __name__ == "__main__":
    # _exit: the status is on disk; interpreter teardown would only delay wait()
    os._exit(main(sys.argv))
