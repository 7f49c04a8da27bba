"""Builds the TaskConfig a driver starts a task from: interpolated config and
environment, host paths, resource limits, ports, kill signal and log
rotation limits. Pure over its inputs; never starts anything.
"""

from __future__ import annotations

from controlplane.drivers.base import TaskConfig
from controlplane.drivers.docker_mounts import (
    CONTAINER_ALLOC_DIR,
    CONTAINER_LOCAL_DIR,
    CONTAINER_SECRETS_DIR,
)
from controlplane.structs import Allocation, Node, Task

from .allocdir import AllocDir
from .taskenv import TaskDirs, alloc_ports, build_task_env, interpolate

# Nomad's `logs` defaults, for tasks whose job carries no `logs` block
DEFAULT_LOG_MAX_FILES = 10
DEFAULT_LOG_MAX_FILE_SIZE_MB = 10

# Drivers whose tasks see the allocation through mounts at fixed paths
# (Nomad's "image" filesystem isolation): their NOMAD_*_DIR variables, and
# `${NOMAD_TASK_DIR}` in their config, name the paths inside the container.
IMAGE_ISOLATION_DIRS = {
    "docker": TaskDirs(
        alloc_dir=CONTAINER_ALLOC_DIR,
        task_dir=CONTAINER_LOCAL_DIR,
        secrets_dir=CONTAINER_SECRETS_DIR,
    ),
}


def log_limits(task: Task) -> tuple[int, int]:
    """(max_files, max_file_size_mb) of the task's `logs` block, defaults filled in."""
    lc = task.log_config
    if lc is None:
        return DEFAULT_LOG_MAX_FILES, DEFAULT_LOG_MAX_FILE_SIZE_MB
    return (
        lc.max_files or DEFAULT_LOG_MAX_FILES,
        lc.max_file_size_mb or DEFAULT_LOG_MAX_FILE_SIZE_MB,
    )


def build_task_config(
    alloc: Allocation,
    task: Task,
    node: Node,
    alloc_dir: AllocDir,
    region: str = "global",
    extra_env: dict[str, str] | None = None,
) -> TaskConfig:
    """The driver's view of one start of `task` (hooks may add `extra_env`)."""
    ad = alloc_dir
    dirs = IMAGE_ISOLATION_DIRS.get(task.driver) or TaskDirs(
        alloc_dir=str(ad.shared_dir),
        task_dir=str(ad.local_dir(task.name)),
        secrets_dir=str(ad.secrets_dir(task.name)),
    )
    env = build_task_env(alloc, task, node, dirs, region=region)
    env.update(extra_env or {})
    region = env.get("NOMAD_REGION", region)
    cpu = memory = memory_max = 0
    task_res = alloc.allocated_resources.tasks.get(task.name) if alloc.allocated_resources else None
    if task_res is not None:
        cpu, memory = task_res.cpu.cpu_shares, task_res.memory.memory_mb
        memory_max = task_res.memory.memory_max_mb
    elif task.resources is not None:
        cpu, memory = task.resources.cpu, task.resources.memory_mb
        memory_max = task.resources.memory_max_mb
    max_files, max_file_size_mb = log_limits(task)
    return TaskConfig(
        alloc_id=alloc.id,
        task_name=task.name,
        job_id=alloc.job_id,
        task_group=alloc.task_group,
        config=interpolate(dict(task.config or {}), env, node, region),
        env=env,
        user=task.user,
        alloc_dir=str(ad.shared_dir),
        task_dir=str(ad.task_dir(task.name)),
        stdout_path=str(ad.log_path(task.name, "stdout")),
        stderr_path=str(ad.log_path(task.name, "stderr")),
        cpu_mhz=cpu,
        memory_mb=memory,
        memory_max_mb=memory_max,
        ports=alloc_ports(alloc, task),
        kill_signal=task.kill_signal or "SIGTERM",
        logs_max_files=max_files,
        logs_max_file_size_mb=max_file_size_mb,
    )
