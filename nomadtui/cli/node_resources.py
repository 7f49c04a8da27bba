"""The resource sections of `node status NODE`, laid out as Nomad's:
Allocated Resources (what running allocs reserve), Allocation Resource
Utilization and Host Resource Utilization (what the node's client measured,
GET /v1/client/allocation/:id/stats and /v1/client/stats), and the -stats
detail (CPU, memory and disk).

Pure formatting over API JSON; fetching is node.py's job.
"""

from __future__ import annotations

import math
from typing import Any

from . import format as fmt


def _mb(res: dict[str, Any] | None, key: str, field: str) -> int:
    return int(((res or {}).get(key) or {}).get(field) or 0)


def node_total(node: dict[str, Any]) -> tuple[int, int, int]:
    """(CPU MHz, memory MB, disk MB) the node offers: its resources minus reserved."""
    total, reserved = node.get("NodeResources"), node.get("ReservedResources")
    return (
        _mb(total, "Cpu", "CpuShares") - _mb(reserved, "Cpu", "CpuShares"),
        _mb(total, "Memory", "MemoryMB") - _mb(reserved, "Memory", "MemoryMB"),
        _mb(total, "Disk", "DiskMB") - _mb(reserved, "Disk", "DiskMB"),
    )


def allocated(node: dict[str, Any], running: list[dict[str, Any]]) -> list[list[object]]:
    cpu = mem = disk = 0
    for a in running:
        res = a.get("AllocatedResources") or {}
        for task in (res.get("Tasks") or {}).values():
            cpu += int((task.get("Cpu") or {}).get("CpuShares") or 0)
            mem += int((task.get("Memory") or {}).get("MemoryMB") or 0)
        disk += int((res.get("Shared") or {}).get("DiskMB") or 0)
    total_cpu, total_mem, total_disk = node_total(node)
    return [
        ["CPU", "Memory", "Disk"],
        [
            f"{cpu}/{total_cpu} MHz",
            f"{fmt.megabytes(mem)}/{fmt.megabytes(total_mem)}",
            f"{fmt.megabytes(disk)}/{fmt.megabytes(total_disk)}",
        ],
    ]


def alloc_utilization(node: dict[str, Any], usages: list[dict[str, Any]]) -> list[list[object]]:
    """Summed AllocResourceUsage of the running allocs against what the node offers."""
    ticks = 0.0
    mem = 0
    for usage in usages:
        ru = usage.get("ResourceUsage") or {}
        ticks += float((ru.get("CpuStats") or {}).get("TotalTicks") or 0.0)
        memory = ru.get("MemoryStats") or {}
        mem += int(memory.get("Usage") or 0) or int(memory.get("RSS") or 0)
    total_cpu, total_mem, _ = node_total(node)
    return [
        ["CPU", "Memory"],
        [f"{math.floor(ticks)}/{total_cpu} MHz", f"{fmt.ibytes(mem)}/{fmt.megabytes(total_mem)}"],
    ]


def host_utilization(node: dict[str, Any], host: dict[str, Any]) -> list[list[object]]:
    """HostStats against the node's full resources; disk of the data dir's device."""
    cpu_total = _mb(node.get("NodeResources"), "Cpu", "CpuShares")
    memory = host.get("Memory") or {}
    device = (node.get("Attributes") or {}).get("unique.storage.volume", "")
    disk = next((d for d in host.get("DiskStats") or [] if d.get("Device") == device), None)
    disk_cell = (
        f"{fmt.ibytes(int(disk.get('Used') or 0))}/{fmt.ibytes(int(disk.get('Size') or 0))}"
        if disk is not None
        else f"({device})"
    )
    used, total = int(memory.get("Used") or 0), int(memory.get("Total") or 0)
    return [
        ["CPU", "Memory", "Disk"],
        [
            f"{math.floor(float(host.get('CPUTicksConsumed') or 0.0))}/{cpu_total} MHz",
            f"{fmt.ibytes(used)}/{fmt.ibytes(total)}",
            disk_cell,
        ],
    ]


def _pct(value: Any) -> str:
    """humanize.FormatFloat("#,###.##", v) + "%"."""
    return f"{float(value or 0.0):,.2f}%"


def cpu_stats(host: dict[str, Any]) -> str:
    blocks = [
        fmt.kv(
            [
                ("CPU", cpu.get("CPU", "")),
                ("User", _pct(cpu.get("User"))),
                ("System", _pct(cpu.get("System"))),
                ("Idle", _pct(cpu.get("Idle"))),
            ]
        )
        for cpu in host.get("CPU") or []
    ]
    return "\n\n".join(blocks)


def memory_stats(host: dict[str, Any]) -> str:
    memory = host.get("Memory") or {}
    return fmt.kv(
        [(k, fmt.ibytes(int(memory.get(k) or 0))) for k in ("Total", "Available", "Used", "Free")]
    )


def disk_stats(host: dict[str, Any]) -> str:
    blocks = [
        fmt.kv(
            [
                ("Device", d.get("Device", "")),
                ("MountPoint", d.get("Mountpoint", "")),
                ("Size", fmt.ibytes(int(d.get("Size") or 0))),
                ("Used", fmt.ibytes(int(d.get("Used") or 0))),
                ("Available", fmt.ibytes(int(d.get("Available") or 0))),
                ("Used Percent", _pct(d.get("UsedPercent"))),
                ("Inodes Percent", _pct(d.get("InodesUsedPercent"))),
            ]
        )
        for d in host.get("DiskStats") or []
    ]
    return "\n\n".join(blocks)
