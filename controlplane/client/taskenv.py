"""The task's runtime environment: the NOMAD_* variables, the task's `env`
block, and `${...}` interpolation of task config, args and env values.

Pure functions over (allocation, task, node, directories); reads no files
and starts nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controlplane.structs import AllocatedPortMapping, Allocation, Node, Task

_REF = re.compile(r"\$\{([^{}]+)\}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class TaskDirs:
    """Host paths a task sees."""

    alloc_dir: str  # the shared `<alloc>/alloc` directory
    task_dir: str  # `<alloc>/<task>/local`
    secrets_dir: str  # `<alloc>/<task>/secrets`


def sanitize(name: str) -> str:
    """Port labels and task names as env var fragments: [A-Za-z0-9_] only."""
    return _UNSAFE.sub("_", name)


def merged_meta(alloc: Allocation, task: Task) -> dict[str, str]:
    """job meta < group meta < task meta."""
    meta: dict[str, str] = {}
    job = alloc.job
    if job is not None:
        meta.update(job.meta or {})
        group = job.group(alloc.task_group)
        if group is not None:
            meta.update(group.meta or {})
    meta.update(task.meta or {})
    return meta


def alloc_ports(alloc: Allocation, task: Task) -> list[AllocatedPortMapping]:
    """Ports the task can use: group-level shared ports, then legacy
    task-level network ports (whose docker `port_map` supplies `To`)."""
    ports: list[AllocatedPortMapping] = []
    res = alloc.allocated_resources
    if res is None:
        return ports
    ports.extend(res.shared.ports or [])
    task_res = res.tasks.get(task.name)
    if task_res is not None and task_res.networks:
        port_map = _legacy_port_map(task.config or {})
        for net in task_res.networks:
            for p in [*(net.reserved_ports or []), *(net.dynamic_ports or [])]:
                to = port_map.get(p.label, p.to)
                ports.append(
                    AllocatedPortMapping(label=p.label, value=p.value, to=to, host_ip=net.ip)
                )
    return ports


def _legacy_port_map(config: Mapping[str, Any]) -> dict[str, int]:
    """Docker's legacy `port_map { db = 6379 }` (a list of maps in JSON)."""
    raw = config.get("port_map")
    items: list[Any] = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else []
    out: dict[str, int] = {}
    for item in items:
        if isinstance(item, dict):
            for label, value in item.items():
                try:
                    out[str(label)] = int(value)
                except (TypeError, ValueError):
                    continue
    return out


def build_task_env(
    alloc: Allocation,
    task: Task,
    node: Node,
    dirs: TaskDirs,
    region: str = "global",
) -> dict[str, str]:
    """NOMAD_* variables plus the task's own `env` block (interpolated)."""
    job = alloc.job
    env: dict[str, str] = {
        "NOMAD_ALLOC_DIR": dirs.alloc_dir,
        "NOMAD_TASK_DIR": dirs.task_dir,
        "NOMAD_SECRETS_DIR": dirs.secrets_dir,
        "NOMAD_ALLOC_ID": alloc.id,
        "NOMAD_SHORT_ALLOC_ID": alloc.id[:8],
        "NOMAD_ALLOC_NAME": alloc.name,
        "NOMAD_ALLOC_INDEX": str(alloc.index),
        "NOMAD_TASK_NAME": task.name,
        "NOMAD_GROUP_NAME": alloc.task_group,
        "NOMAD_JOB_ID": alloc.job_id,
        "NOMAD_JOB_NAME": (job.name or job.id) if job is not None else alloc.job_id,
        "NOMAD_JOB_PARENT_ID": job.parent_id if job is not None else "",
        "NOMAD_DC": node.datacenter,
        "NOMAD_NAMESPACE": alloc.namespace,
        "NOMAD_REGION": (job.region if job is not None and job.region else region),
    }
    env.update(_resource_env(alloc, task))

    for key, value in merged_meta(alloc, task).items():
        env[f"NOMAD_META_{key}"] = value
        env[f"NOMAD_META_{key.upper()}"] = value

    default_ip = node.attributes.get("unique.network.ip-address", "127.0.0.1")
    for port in alloc_ports(alloc, task):
        label = sanitize(port.label)
        ip = port.host_ip or default_ip
        env[f"NOMAD_PORT_{label}"] = str(port.to if port.to > 0 else port.value)
        env[f"NOMAD_HOST_PORT_{label}"] = str(port.value)
        env[f"NOMAD_IP_{label}"] = ip
        env[f"NOMAD_ADDR_{label}"] = f"{ip}:{port.value}"

    # the task's env block may use (and override) everything above
    base = dict(env)
    for key, value in (task.env or {}).items():
        env[key] = str(interpolate(value, base, node, region=env["NOMAD_REGION"]))
    return env


def _resource_env(alloc: Allocation, task: Task) -> dict[str, str]:
    cpu = memory = memory_max = 0
    cores: list[int] = []
    res = alloc.allocated_resources
    task_res = res.tasks.get(task.name) if res is not None else None
    if task_res is not None:
        cpu = task_res.cpu.cpu_shares
        cores = list(task_res.cpu.reserved_cores or [])
        memory = task_res.memory.memory_mb
        memory_max = task_res.memory.memory_max_mb
    elif task.resources is not None:
        cpu = task.resources.cpu
        memory = task.resources.memory_mb
        memory_max = task.resources.memory_max_mb
    env = {"NOMAD_CPU_LIMIT": str(cpu), "NOMAD_MEMORY_LIMIT": str(memory)}
    if memory_max:
        env["NOMAD_MEMORY_MAX_LIMIT"] = str(memory_max)
    if cores:
        env["NOMAD_CPU_CORES"] = ",".join(str(c) for c in cores)
    return env


def _lookup(ref: str, env: Mapping[str, str], node: Node, region: str) -> str | None:
    if ref.startswith("env."):
        return env.get(ref[4:])
    if ref.startswith("attr."):
        return node.attributes.get(ref[5:])
    if ref.startswith("meta."):
        return (node.meta or {}).get(ref[5:])
    if ref.startswith("node."):
        return {
            "node.unique.id": node.id,
            "node.unique.name": node.name,
            "node.datacenter": node.datacenter,
            "node.class": node.node_class,
            "node.region": region,
            "node.pool": node.node_pool,
        }.get(ref)
    return env.get(ref)


def interpolate(value: Any, env: Mapping[str, str], node: Node, region: str = "global") -> Any:
    """Replace `${...}` references in strings, recursively through dicts and
    lists. Unknown references stay as written; substituted text is not
    re-scanned."""
    if isinstance(value, str):
        if "${" not in value:
            return value

        def sub(m: re.Match[str]) -> str:
            found = _lookup(m.group(1).strip(), env, node, region)
            return m.group(0) if found is None else found

        return _REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env, node, region) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, node, region) for v in value]
    return value
