"""Node capacity and allocated resources: what the Nodes view draws as bars.

Allocated = the sum of non-terminal allocations' AllocatedResources on a node;
capacity = NodeResources minus ReservedResources (API.md §3.9, §3.10). Pure
functions over API dicts, plus `fetch_usage`, the one cheap read behind the
bars (a single `/v1/allocations?resources=true` for the whole cluster).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text

from nomadtui.cli.format import megabytes
from nomadtui.client import NomadClient, Response
from nomadtui.tui.widgets.bars import level_bar

TERMINAL_CLIENT = frozenset({"complete", "failed", "lost"})


@dataclass
class Usage:
    """Resources allocated on one node by its live allocations."""

    cpu: int = 0
    memory_mb: int = 0
    allocs: int = 0


@dataclass(frozen=True)
class Capacity:
    cpu: int = 0
    memory_mb: int = 0


@dataclass
class NodeUsage:
    """Per-node usage, keyed by node ID (nodes without live allocs are absent)."""

    by_node: dict[str, Usage] = field(default_factory=dict)

    def of(self, node_id: str) -> Usage:
        return self.by_node.get(node_id) or Usage()


def is_live(alloc: dict[str, Any]) -> bool:
    """Not terminal: desired to run and not finished on the client."""
    return alloc.get("DesiredStatus", "run") == "run" and (
        alloc.get("ClientStatus") not in TERMINAL_CLIENT
    )


def alloc_resources(alloc: dict[str, Any]) -> tuple[int, int]:
    """(CPU MHz, memory MB) an allocation holds, summed over its tasks."""
    res = alloc.get("AllocatedResources") or {}
    cpu = mem = 0
    for task in (res.get("Tasks") or {}).values():
        cpu += int((task.get("Cpu") or {}).get("CpuShares") or 0)
        mem += int((task.get("Memory") or {}).get("MemoryMB") or 0)
    return cpu, mem


def aggregate(allocs: Iterable[dict[str, Any]]) -> NodeUsage:
    usage = NodeUsage()
    for a in allocs:
        if not is_live(a) or not a.get("NodeID"):
            continue
        u = usage.by_node.setdefault(str(a["NodeID"]), Usage())
        cpu, mem = alloc_resources(a)
        u.cpu += cpu
        u.memory_mb += mem
        u.allocs += 1
    return usage


def capacity(node: dict[str, Any]) -> Capacity:
    total = node.get("NodeResources") or {}
    reserved = node.get("ReservedResources") or {}

    def get(block: dict[str, Any], part: str, key: str) -> int:
        return int((block.get(part) or {}).get(key) or 0)

    return Capacity(
        cpu=get(total, "Cpu", "CpuShares") - get(reserved, "Cpu", "CpuShares"),
        memory_mb=get(total, "Memory", "MemoryMB") - get(reserved, "Memory", "MemoryMB"),
    )


def usage_bar(used: int, total: int, width: int = 6) -> Text:
    """`██░░░░  33%`: green below 70 %, yellow below 90 %, red above."""
    if total <= 0:
        return Text("·" * width + "    ?", style="dim")
    ratio = used / total
    bar = level_bar(used, ratio, width)
    bar.append(f" {min(round(ratio * 100), 999):>3}%")
    return bar


def cpu_text(used: int, total: int) -> str:
    return f"{used}/{total} MHz"


def memory_text(used_mb: int, total_mb: int) -> str:
    return f"{megabytes(used_mb)}/{megabytes(total_mb)}"


def fetch_usage(client: NomadClient, index: int, wait: float) -> Response:
    """Live allocations in every namespace with their resources, aggregated."""
    resp = client.get(
        "/v1/allocations",
        {"resources": True, "task_states": False, "namespace": "*"},
        index=index or None,
        wait=wait,
    )
    return Response(data=aggregate(resp.data or []), index=resp.index)
