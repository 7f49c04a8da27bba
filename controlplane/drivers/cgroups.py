"""Per-task cgroups for the isolated drivers (exec, java): create one with the
task's memory and cpu limits, let a process join it, read its OOM count and
usage, and remove it. Never starts or signals tasks (except killing leftovers
when removing a cgroup).

cgroup v1 (one hierarchy per controller under /sys/fs/cgroup/<controller>)
and v2 (one unified hierarchy, detected by /sys/fs/cgroup/cgroup.controllers).

- v1: the task's cgroup is `<client's own cgroup>/nomad/<alloc>.<task>` in the
  memory, cpu and cpuacct hierarchies. Nesting under the client's own cgroup
  (Nomad uses the root) keeps tasks inside whatever confines the agent, e.g.
  a systemd unit, so stopping that also accounts for its tasks.
- v2: `/sys/fs/cgroup/nomad.slice/<alloc>.<task>.scope`, as Nomad names it: the
  "no internal processes" rule forbids enabling controllers below a cgroup that
  holds the agent itself, so v2 cgroups hang off the root.

Memory follows Nomad's oversubscription: the hard limit is `memory_max` when
set (above `memory`), and `memory` becomes the soft limit / protection.

Imports only cheap standard modules (no typing, dataclasses or contextlib at
run time): the executor process imports this module at start-up, and a task's
start latency depends on it.
"""

from __future__ import annotations

import os
import signal
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING:
    from typing import Any

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "cpu", "cpuacct")
V1_PARENT = "nomad"
V2_PARENT = "nomad.slice"
MIB = 1024 * 1024
_REMOVE_TIMEOUT_S = 5.0


class CgroupError(Exception):
    """A cgroup could not be created or configured."""


def version(root: str = ROOT) -> int:
    """2 for a unified hierarchy, 1 when the v1 memory and cpu controllers are
    mounted, 0 when neither is usable."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return 2
    if all(os.path.exists(os.path.join(root, c, "cgroup.procs")) for c in ("memory", "cpu")):
        return 1
    return 0


def unusable_reason(root: str = ROOT) -> str:
    """Why per-task cgroups cannot be made here ("" when they can)."""
    found = version(root)
    if found == 0:
        return f"no cgroup v1 memory/cpu controllers or cgroup v2 hierarchy under {root}"
    if found == 2:
        controllers = _read(os.path.join(root, "cgroup.controllers")).split()
        missing = [c for c in ("memory", "cpu") if c not in controllers]
        if missing:
            return f"cgroup v2 controllers not available: {', '.join(missing)}"
        parent = root
    else:
        parent = os.path.join(root, "memory")
    if not os.access(parent, os.W_OK):
        return f"cgroup hierarchy {parent} is not writable"
    return ""


def own_cgroups(proc_self_cgroup: str = "/proc/self/cgroup") -> dict[str, str]:
    """This process's cgroup path per v1 controller ({"memory": "/a/b", ...})
    and, under "", its v2 path."""
    paths: dict[str, str] = {}
    try:
        lines = _read(proc_self_cgroup).splitlines()
    except OSError:
        return paths
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            paths[controller] = path
    return paths


def cpu_weight(shares: int) -> int:
    """cgroup v2 cpu.weight for v1 cpu.shares (the conversion runc and Nomad use)."""
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


class TaskCgroup:
    """One task's cgroup: its directory per v1 controller, or {"unified": dir} on v2."""

    __slots__ = ("dirs", "version")

    def __init__(self, version: int, dirs: dict[str, str]) -> None:
        self.version = version
        self.dirs = dirs

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskCgroup):
            return NotImplemented
        return (self.version, self.dirs) == (other.version, other.dirs)

    __hash__ = None  # type: ignore[assignment]  # mutable dict inside

    def __repr__(self) -> str:
        return f"TaskCgroup({self.version!r}, {self.dirs!r})"

    # -- plain data (persisted in the task handle) --------------------------

    def to_state(self) -> dict[str, Any]:
        return {"version": self.version, "dirs": dict(self.dirs)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TaskCgroup:
        return cls(int(state["version"]), {str(k): str(v) for k, v in state["dirs"].items()})

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        memory_mb: int = 0,
        memory_max_mb: int = 0,
        cpu_shares: int = 0,
        root: str = ROOT,
        self_cgroup: str = "/proc/self/cgroup",
    ) -> TaskCgroup:
        """Make (or reset a stale) cgroup `name` with the given limits."""
        found = version(root)
        if found == 0:
            raise CgroupError(unusable_reason(root))
        hard = max(memory_mb, memory_max_mb)
        soft = memory_mb if memory_max_mb > memory_mb else 0
        own = own_cgroups(self_cgroup)
        if found == 2:
            parent = os.path.join(root, V2_PARENT)
            group = cls(2, {"unified": os.path.join(parent, f"{name}.scope")})
        else:
            dirs = {}
            for controller in V1_CONTROLLERS:
                mount = os.path.join(root, controller)
                if not os.path.isdir(mount):
                    continue  # e.g. cpuacct not mounted: stats fall back to memory only
                base = own.get(controller, "/").lstrip("/")
                dirs[controller] = os.path.join(mount, base, V1_PARENT, name)
            group = cls(1, dirs)
        group.remove()  # leftovers of a task whose client never destroyed it
        try:
            if found == 2:
                group._create_v2(root, hard, soft, cpu_shares)
            else:
                group._create_v1(hard, soft, cpu_shares)
        except OSError as e:
            group.remove()
            raise CgroupError(f"failed to create cgroup {name}: {e}") from e
        return group

    def _create_v1(self, hard_mb: int, soft_mb: int, cpu_shares: int) -> None:
        for path in self.dirs.values():
            os.makedirs(path, exist_ok=True)
        memory = self.dirs["memory"]
        if hard_mb:
            _write(os.path.join(memory, "memory.limit_in_bytes"), hard_mb * MIB)
            # without this the task would swap instead of being OOM killed
            memsw = os.path.join(memory, "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):
                _write(memsw, hard_mb * MIB)
        if soft_mb:
            _write(os.path.join(memory, "memory.soft_limit_in_bytes"), soft_mb * MIB)
        if cpu_shares and "cpu" in self.dirs:
            _write(os.path.join(self.dirs["cpu"], "cpu.shares"), max(2, cpu_shares))

    def _create_v2(self, root: str, hard_mb: int, soft_mb: int, cpu_shares: int) -> None:
        parent = os.path.dirname(self.dirs["unified"])
        os.makedirs(parent, exist_ok=True)
        for level in (root, parent):
            _write(os.path.join(level, "cgroup.subtree_control"), "+memory +cpu")
        path = self.dirs["unified"]
        os.makedirs(path, exist_ok=True)
        if hard_mb:
            _write(os.path.join(path, "memory.max"), hard_mb * MIB)
            swap = os.path.join(path, "memory.swap.max")
            if os.path.exists(swap):
                _write(swap, 0)
        if soft_mb:
            _write(os.path.join(path, "memory.low"), soft_mb * MIB)
        if cpu_shares:
            _write(os.path.join(path, "cpu.weight"), cpu_weight(cpu_shares))

    def join(self) -> None:
        """Move the calling process into the cgroup ("0" is the writer itself)."""
        for path in self.dirs.values():
            _write(os.path.join(path, "cgroup.procs"), 0)

    def exists(self) -> bool:
        return any(os.path.isdir(p) for p in self.dirs.values())

    def remove(self, timeout: float = _REMOVE_TIMEOUT_S) -> None:
        """SIGKILL what is still inside, then remove the directories. Idempotent."""
        deadline = time.monotonic() + timeout
        for path in self.dirs.values():
            while os.path.isdir(path):
                for pid in _pids(path):
                    try:  # noqa: SIM105 (contextlib costs the executor's start-up 4 ms)
                        os.kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                try:
                    os.rmdir(path)
                except FileNotFoundError:
                    break
                except OSError:
                    # EBUSY until the killed processes are reaped
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)

    # -- observations ------------------------------------------------------

    def pids(self) -> list[int]:
        path = self.dirs.get("memory") or self.dirs.get("unified") or ""
        return _pids(path) if path else []

    def oom_kills(self) -> int:
        """How many processes the kernel OOM-killed in this cgroup."""
        if self.version == 2:
            events = _keyed(os.path.join(self.dirs["unified"], "memory.events"))
            return events.get("oom_kill", 0)
        memory = self.dirs.get("memory", "")
        control = _keyed(os.path.join(memory, "memory.oom_control"))
        if "oom_kill" in control:
            return control["oom_kill"]
        # kernels before 4.13 have no oom_kill counter: hitting the limit is the best hint
        return 1 if _int(os.path.join(memory, "memory.failcnt")) else 0

    def usage(self) -> dict[str, float]:
        """{"memory_bytes", "rss_bytes", "cpu_user_s", "cpu_system_s", "cpu_total_s"}."""
        if self.version == 2:
            path = self.dirs["unified"]
            stat = _keyed(os.path.join(path, "memory.stat"))
            cpu = _keyed(os.path.join(path, "cpu.stat"))
            return {
                "memory_bytes": _int(os.path.join(path, "memory.current")),
                "rss_bytes": stat.get("anon", 0),
                "cpu_user_s": cpu.get("user_usec", 0) / 1e6,
                "cpu_system_s": cpu.get("system_usec", 0) / 1e6,
                "cpu_total_s": cpu.get("usage_usec", 0) / 1e6,
            }
        memory = self.dirs.get("memory", "")
        stat = _keyed(os.path.join(memory, "memory.stat"))
        cpuacct = self.dirs.get("cpuacct", "")
        ticks = _keyed(os.path.join(cpuacct, "cpuacct.stat")) if cpuacct else {}
        hz = os.sysconf("SC_CLK_TCK")
        return {
            "memory_bytes": _int(os.path.join(memory, "memory.usage_in_bytes")),
            "rss_bytes": stat.get("total_rss", stat.get("rss", 0)),
            "cpu_user_s": ticks.get("user", 0) / hz,
            "cpu_system_s": ticks.get("system", 0) / hz,
            "cpu_total_s": _int(os.path.join(cpuacct, "cpuacct.usage")) / 1e9 if cpuacct else 0,
        }


def _write(path: str, value: object) -> None:
    with open(path, "w") as f:
        f.write(str(value))


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _int(path: str) -> int:
    try:
        return int(_read(path).split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _keyed(path: str) -> dict[str, int]:
    """A `key value` per line file (memory.stat, memory.events, cpu.stat)."""
    values: dict[str, int] = {}
    try:
        lines = _read(path).splitlines()
    except OSError:
        return values
    for line in lines:
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    return values


def _pids(path: str) -> list[int]:
    try:
        return [int(p) for p in _read(os.path.join(path, "cgroup.procs")).split()]
    except (OSError, ValueError):
        return []
