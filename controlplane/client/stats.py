"""Resource usage as a Nomad client reports it: HostStats (psutil) for
/v1/client/stats and AllocResourceUsage (the drivers' `stats(handle)`) for
/v1/client/allocation/:id/stats, in Nomad's wire shape.

Percentages need two samples, so a StatsCollector keeps the previous CPU
sample of the host and of each task and reports the change since then (the
very first host call samples over SAMPLE_S). It only reads: it never
starts, stops or signals tasks, and it never talks to servers.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import psutil

from controlplane.drivers.base import Driver, DriverError, TaskHandle

log = logging.getLogger(__name__)

SAMPLE_S = 0.1  # first host CPU sample window


class TaskHandles(Protocol):
    """What the collector needs of an alloc runner: its tasks' handles."""

    @property
    def tasks(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class _CpuSample:
    user_s: float
    system_s: float
    at: float


class StatsCollector:
    """Host and allocation stats of one client node.

    `total_mhz` is the node's fingerprinted compute (cpu.totalcompute): CPU
    ticks are Nomad's MHz-equivalents, percent of one core times MHz per core.
    """

    def __init__(
        self,
        total_mhz: int,
        drivers: Mapping[str, Driver],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total_mhz = total_mhz
        self._drivers = drivers
        self._clock = clock
        self._cores = psutil.cpu_count() or 1
        self._lock = threading.Lock()
        self._host_prev: list[Any] | None = None
        self._task_prev: dict[tuple[str, str, int], _CpuSample] = {}

    @property
    def mhz_per_core(self) -> float:
        return self.total_mhz / self._cores

    # ---- host --------------------------------------------------------

    def host_stats(self) -> dict[str, Any]:
        """Nomad's HostStats."""
        cpus = self._host_cpu()
        mem = psutil.virtual_memory()
        ticks = sum(c["Total"] for c in cpus) / 100.0 * self.mhz_per_core
        return {
            "Memory": {
                "Total": mem.total,
                "Available": mem.available,
                "Used": mem.used,
                "Free": mem.free,
            },
            "CPU": cpus,
            "DiskStats": _disks(),
            "DeviceStats": [],
            "AllocDirStats": None,
            "Uptime": max(0, int(time.time() - psutil.boot_time())),
            "Timestamp": time.time_ns(),
            "CPUTicksConsumed": ticks,
        }

    def _host_cpu(self) -> list[dict[str, Any]]:
        with self._lock:
            prev = self._host_prev
            if prev is None:
                prev = psutil.cpu_times(percpu=True)
                time.sleep(SAMPLE_S)
            now = psutil.cpu_times(percpu=True)
            self._host_prev = now
        out = []
        for i, (a, b) in enumerate(zip(prev, now, strict=False)):
            busy = {f: max(0.0, getattr(b, f) - getattr(a, f)) for f in b._fields}
            total = sum(busy.values()) or 1.0
            user = 100.0 * (busy.get("user", 0.0) + busy.get("nice", 0.0)) / total
            system = 100.0 * busy.get("system", 0.0) / total
            idle = 100.0 * (busy.get("idle", 0.0) + busy.get("iowait", 0.0)) / total
            out.append(
                {
                    "CPU": f"cpu{i}",
                    "User": user,
                    "System": system,
                    "Idle": idle,
                    "Total": max(0.0, 100.0 - idle),
                }
            )
        return out

    # ---- allocations -------------------------------------------------

    def alloc_stats(self, runner: TaskHandles) -> dict[str, Any]:
        """Nomad's AllocResourceUsage: per task, and summed for the alloc."""
        tasks: dict[str, dict[str, Any]] = {}
        for name, task_runner in sorted(runner.tasks.items()):
            handle: TaskHandle | None = task_runner.handle
            if handle is None:
                continue
            usage = self._task_usage(handle)
            if usage is not None:
                tasks[name] = usage
        total = _sum_usage([t["ResourceUsage"] for t in tasks.values()])
        return {"ResourceUsage": total, "Tasks": tasks, "Timestamp": time.time_ns()}

    def _task_usage(self, handle: TaskHandle) -> dict[str, Any] | None:
        driver = self._drivers.get(handle.driver)
        if driver is None:
            return None
        try:
            raw = driver.stats(handle)
        except DriverError as exc:
            # the task exited between listing and sampling
            log.debug("no stats alloc_id=%s task=%s: %s", handle.alloc_id, handle.task_name, exc)
            return None
        now = self._clock()
        sample = _CpuSample(
            float(raw.get("cpu_user_s", 0.0)), float(raw.get("cpu_system_s", 0.0)), now
        )
        key = (handle.alloc_id, handle.task_name, handle.started_at)
        with self._lock:
            prev = self._task_prev.get(key)
            self._task_prev[key] = sample
        user_pct = system_pct = 0.0
        if prev is not None and now > prev.at:
            span = now - prev.at
            user_pct = max(0.0, (sample.user_s - prev.user_s) / span * 100.0)
            system_pct = max(0.0, (sample.system_s - prev.system_s) / span * 100.0)
        percent = float(raw.get("cpu_percent", 0.0)) or user_pct + system_pct
        rss = int(raw.get("rss_bytes", 0))
        # a cgroup (exec, docker) also knows the task's whole memory usage
        usage = int(raw.get("memory_bytes", 0))
        return {
            "ResourceUsage": {
                "MemoryStats": {
                    "RSS": rss,
                    "Cache": 0,
                    "Swap": 0,
                    "Usage": usage,
                    "MaxUsage": 0,
                    "KernelUsage": 0,
                    "KernelMaxUsage": 0,
                    "Measured": ["RSS", "Usage"] if usage else ["RSS"],
                },
                "CpuStats": {
                    "SystemMode": system_pct,
                    "UserMode": user_pct,
                    "TotalTicks": percent / 100.0 * self.mhz_per_core,
                    "ThrottledPeriods": 0,
                    "ThrottledTime": 0,
                    "Percent": percent,
                    "Measured": ["System Mode", "User Mode", "Percent"],
                },
                "DeviceStats": [],
            },
            "Timestamp": time.time_ns(),
            "Pids": None,
        }


def _sum_usage(usages: list[dict[str, Any]]) -> dict[str, Any]:
    mem_keys = ("RSS", "Cache", "Swap", "Usage", "MaxUsage", "KernelUsage", "KernelMaxUsage")
    cpu_keys = (
        "SystemMode",
        "UserMode",
        "TotalTicks",
        "ThrottledPeriods",
        "ThrottledTime",
        "Percent",
    )
    memory: dict[str, Any] = {k: sum(u["MemoryStats"][k] for u in usages) for k in mem_keys}
    cpu: dict[str, Any] = {k: sum(u["CpuStats"][k] for u in usages) for k in cpu_keys}
    memory["Measured"] = usages[0]["MemoryStats"]["Measured"] if usages else None
    cpu["Measured"] = usages[0]["CpuStats"]["Measured"] if usages else None
    return {"MemoryStats": memory, "CpuStats": cpu, "DeviceStats": []}


def _disks() -> list[dict[str, Any]]:
    out = []
    seen: set[str] = set()
    for part in psutil.disk_partitions(all=False):
        if part.mountpoint in seen:
            continue
        seen.add(part.mountpoint)
        try:
            usage = psutil.disk_usage(part.mountpoint)
            st = os.statvfs(part.mountpoint)
        except OSError:
            continue
        inodes = 0.0
        if st.f_files:
            inodes = 100.0 * (st.f_files - st.f_ffree) / st.f_files
        out.append(
            {
                "Device": part.device,
                "Mountpoint": part.mountpoint,
                "Size": usage.total,
                "Used": usage.used,
                "Available": usage.free,
                "UsedPercent": usage.percent,
                "InodesUsedPercent": inodes,
            }
        )
    return out
