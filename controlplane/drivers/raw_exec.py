"""raw_exec driver: runs a task's `command` and `args` as a plain host process,
without isolation. Owns only its config and fingerprint; launching, signals,
exit status, log rotation and recovery are the shared executor's
(controlplane.drivers.executor_driver). Never touches cgroups or namespaces
(that is the exec driver's job).
"""

from __future__ import annotations

from controlplane.drivers.base import Fingerprint, TaskConfig
from controlplane.drivers.executor_driver import ExecutorDriver
from controlplane.drivers.task_command import (
    resolve_command,
    signal_number,
    string_list,
    task_env,
)

__all__ = ["RawExecDriver", "resolve_command", "signal_number", "task_env"]


class RawExecDriver(ExecutorDriver):
    """Host processes, one executor and one process group per task. Thread-safe."""

    name = "raw_exec"
    isolated = False

    def fingerprint(self) -> Fingerprint:
        return Fingerprint(
            detected=True,
            healthy=True,
            health_description="Healthy",
            attributes={"driver.raw_exec": "1"},
        )

    def command(self, cfg: TaskConfig, env: dict[str, str]) -> list[str]:
        command = resolve_command(str(cfg.config.get("command", "")), cfg.task_dir, env)
        return [command, *string_list(cfg, "args")]
