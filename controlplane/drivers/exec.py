"""exec driver: runs a task's `command` and `args` isolated, Nomad's `exec`:
its own cgroup (memory limit = `memory`, or `memory_max` when oversubscribed;
cpu shares = `cpu` MHz), its own PID namespace and a private /proc, so it can
neither see nor signal host processes. Owns the fingerprint (root + usable
cgroups) and its config; the isolation itself is applied by the executor
(controlplane.drivers.executor) and the cgroup by controlplane.drivers.cgroups.

Unlike Nomad there is no chroot: the task sees the host filesystem, with the
task dir as its working directory.
"""

from __future__ import annotations

import os
import sys

from controlplane.drivers import cgroups
from controlplane.drivers.base import Fingerprint, TaskConfig
from controlplane.drivers.executor_driver import ExecutorDriver
from controlplane.drivers.task_command import resolve_command, string_list


def isolation_unavailable() -> str:
    """Why isolated tasks cannot run here ("" when they can)."""
    if sys.platform != "linux":
        return "requires Linux"
    if os.geteuid() != 0:
        return "must run as root"
    reason = cgroups.unusable_reason()
    return f"cannot use cgroups: {reason}" if reason else ""


class ExecDriver(ExecutorDriver):
    """Isolated host processes: one executor, cgroup and PID namespace per task."""

    name = "exec"
    isolated = True

    def fingerprint(self) -> Fingerprint:
        reason = isolation_unavailable()
        if reason:
            return Fingerprint(health_description=f"exec driver {reason}")
        return Fingerprint(
            detected=True,
            healthy=True,
            health_description="Healthy",
            attributes={"driver.exec": "1"},
        )

    def command(self, cfg: TaskConfig, env: dict[str, str]) -> list[str]:
        command = resolve_command(str(cfg.config.get("command", "")), cfg.task_dir, env)
        return [command, *string_list(cfg, "args")]
