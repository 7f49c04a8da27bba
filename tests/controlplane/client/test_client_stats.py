"""StatsCollector: Nomad's AllocResourceUsage from the drivers' stats, and
HostStats from psutil."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psutil

from controlplane.client.stats import StatsCollector
from controlplane.drivers.base import DriverError, TaskHandle


class _Driver:
    """Cumulative CPU seconds and RSS per task, as a driver's stats() reports them."""

    name = "fake"

    def __init__(self) -> None:
        self.usage: dict[str, dict[str, Any]] = {}

    def stats(self, handle: TaskHandle) -> dict[str, Any]:
        if handle.task_name not in self.usage:
            raise DriverError("task exited")
        return self.usage[handle.task_name]


@dataclass
class _Task:
    handle: TaskHandle | None


@dataclass
class _Runner:
    tasks: dict[str, _Task]


def _handle(task: str) -> TaskHandle:
    return TaskHandle(driver="fake", alloc_id="a1", task_name=task, started_at=1)


def test_alloc_usage_per_task_and_summed() -> None:
    driver = _Driver()
    now = [100.0]
    collector = StatsCollector(4000, {"fake": driver}, clock=lambda: now[0])  # type: ignore[dict-item]
    cores = psutil.cpu_count() or 1
    runner = _Runner(
        {
            "web": _Task(_handle("web")),
            "side": _Task(_handle("side")),
            "gone": _Task(_handle("gone")),  # exited: no stats, no error
            "new": _Task(None),  # not started yet
        }
    )
    driver.usage = {
        "web": {"rss_bytes": 10 << 20, "cpu_user_s": 1.0, "cpu_system_s": 0.5, "cpu_percent": 0.0},
        "side": {"rss_bytes": 2 << 20, "cpu_user_s": 0.0, "cpu_system_s": 0.0, "cpu_percent": 0.0},
    }
    first = collector.alloc_stats(runner)  # type: ignore[arg-type]
    assert sorted(first["Tasks"]) == ["side", "web"]
    assert first["ResourceUsage"]["MemoryStats"]["RSS"] == 12 << 20
    assert first["ResourceUsage"]["CpuStats"]["Percent"] == 0.0  # one sample: no rate yet

    now[0] = 102.0
    driver.usage["web"] = {
        "rss_bytes": 10 << 20,
        "cpu_user_s": 2.0,  # +1 s user and +0.5 s system over 2 s
        "cpu_system_s": 1.0,
        "cpu_percent": 0.0,
    }
    second = collector.alloc_stats(runner)  # type: ignore[arg-type]
    web = second["Tasks"]["web"]["ResourceUsage"]["CpuStats"]
    assert (web["UserMode"], web["SystemMode"], web["Percent"]) == (50.0, 25.0, 75.0)
    assert web["TotalTicks"] == 0.75 * 4000 / cores
    total = second["ResourceUsage"]["CpuStats"]
    assert total["Percent"] == 75.0 and total["TotalTicks"] == web["TotalTicks"]


def test_driver_percent_wins_and_cgroup_usage_is_reported() -> None:
    driver = _Driver()
    collector = StatsCollector(2000, {"fake": driver})  # type: ignore[dict-item]
    driver.usage = {
        "t": {
            "rss_bytes": 1 << 20,
            "memory_bytes": 3 << 20,
            "cpu_user_s": 0.0,
            "cpu_system_s": 0.0,
            "cpu_percent": 20.0,
        }
    }
    usage = collector.alloc_stats(_Runner({"t": _Task(_handle("t"))}))  # type: ignore[arg-type]
    memory = usage["ResourceUsage"]["MemoryStats"]
    assert (memory["RSS"], memory["Usage"], memory["Measured"]) == (
        1 << 20,
        3 << 20,
        ["RSS", "Usage"],
    )
    assert usage["ResourceUsage"]["CpuStats"]["Percent"] == 20.0


def test_host_stats_are_real_measurements() -> None:
    collector = StatsCollector(4000, {})
    host = collector.host_stats()
    assert host["Memory"]["Total"] == psutil.virtual_memory().total
    assert len(host["CPU"]) == psutil.cpu_count()
    for i, cpu in enumerate(host["CPU"]):
        assert cpu["CPU"] == f"cpu{i}"
        assert all(0.0 <= cpu[k] <= 100.0 for k in ("User", "System", "Idle"))
        assert cpu["Total"] == 100.0 - cpu["Idle"]
    assert host["Uptime"] > 0
    assert host["DiskStats"] and all(d["Size"] > 0 for d in host["DiskStats"])
    again = collector.host_stats()  # the second call rates against the first sample
    assert again["Timestamp"] >= host["Timestamp"]
