"""`node status`: the client node list and one node's details.

Read-only: GET /v1/nodes, /v1/node/:id, /v1/node/:id/allocations.
"""

from __future__ import annotations

from typing import Any

from nomadtui.client import resolve_node

from . import format as fmt
from .alloc_table import alloc_table
from .context import Context, reporting

_TERMINAL_CLIENT = {"complete", "failed", "lost"}


def run_node_status(ctx: Context) -> int:
    if getattr(ctx.args, "node", None):
        return show_node(ctx, ctx.args.node)
    return list_nodes(ctx)


def list_nodes(ctx: Context) -> int:
    with reporting("Error querying node status"):
        nodes: list[dict[str, Any]] = ctx.client.nodes().data or []
    if not nodes:
        ctx.out("No nodes registered")
        return 0
    verbose = ctx.verbose
    header: list[object] = ["ID", "Node Pool", "DC", "Name", "Class"]
    header += ["Address", "Version"] if verbose else []
    header += ["Drain", "Eligibility", "Status"]
    rows: list[list[object]] = [header]
    for n in nodes:
        row: list[object] = [
            ctx.short(n.get("ID", "")),
            n.get("NodePool", ""),
            n.get("Datacenter", ""),
            n.get("Name", ""),
            n.get("NodeClass", ""),
        ]
        row += [n.get("Address", ""), n.get("Version", "")] if verbose else []
        row += [
            str(bool(n.get("Drain"))).lower(),
            n.get("SchedulingEligibility", ""),
            n.get("Status", ""),
        ]
        rows.append(row)
    ctx.out(fmt.columnize(rows))
    return 0


def _driver_status(node: dict[str, Any]) -> str:
    names = []
    for name, info in sorted((node.get("Drivers") or {}).items()):
        if not (info or {}).get("Detected"):
            continue
        names.append(name if info.get("Healthy") else f"{name} (unhealthy)")
    return ",".join(names)


def _allocated(node: dict[str, Any], allocs: list[dict[str, Any]]) -> list[list[object]]:
    cpu = mem = disk = 0
    live = [
        a
        for a in allocs
        if a.get("DesiredStatus") == "run" and a.get("ClientStatus") not in _TERMINAL_CLIENT
    ]
    for a in live:
        res = a.get("AllocatedResources") or {}
        for task in (res.get("Tasks") or {}).values():
            cpu += int((task.get("Cpu") or {}).get("CpuShares") or 0)
            mem += int((task.get("Memory") or {}).get("MemoryMB") or 0)
        disk += int((res.get("Shared") or {}).get("DiskMB") or 0)
    total = node.get("NodeResources") or {}
    reserved = node.get("ReservedResources") or {}
    total_cpu = int((total.get("Cpu") or {}).get("CpuShares") or 0) - int(
        (reserved.get("Cpu") or {}).get("CpuShares") or 0
    )
    total_mem = int((total.get("Memory") or {}).get("MemoryMB") or 0) - int(
        (reserved.get("Memory") or {}).get("MemoryMB") or 0
    )
    total_disk = int((total.get("Disk") or {}).get("DiskMB") or 0) - int(
        (reserved.get("Disk") or {}).get("DiskMB") or 0
    )
    return [
        ["CPU", "Memory", "Disk", "Alloc Count"],
        [
            f"{cpu}/{total_cpu} MHz",
            f"{fmt.megabytes(mem)}/{fmt.megabytes(total_mem)}",
            f"{fmt.megabytes(disk)}/{fmt.megabytes(total_disk)}",
            len(live),
        ],
    ]


def show_node(ctx: Context, prefix: str) -> int:
    client = ctx.client
    with reporting("Error querying node info"):
        stub = resolve_node(client, prefix)
        node: dict[str, Any] = client.node(stub["ID"]).data or {}
        allocs: list[dict[str, Any]] = client.node_allocations(stub["ID"]).data or []
    host_volumes = ",".join(sorted((node.get("HostVolumes") or {}).keys()))
    host_networks = ",".join(sorted((node.get("HostNetworks") or {}).keys()))
    ctx.out(
        fmt.kv(
            [
                ("ID", ctx.short(node.get("ID", ""))),
                ("Name", node.get("Name", "")),
                ("Node Pool", node.get("NodePool", "")),
                ("Class", node.get("NodeClass", "")),
                ("DC", node.get("Datacenter", "")),
                ("Drain", str(bool(node.get("Drain"))).lower()),
                ("Eligibility", node.get("SchedulingEligibility", "")),
                ("Status", node.get("Status", "")),
                ("CSI Controllers", ""),
                ("CSI Drivers", ""),
                ("Host Volumes", host_volumes),
                ("Host Networks", host_networks),
                ("CSI Volumes", ""),
                ("Driver Status", _driver_status(node)),
            ]
        )
    )
    events = sorted(
        node.get("Events") or [], key=lambda e: int(e.get("CreateIndex") or 0), reverse=True
    )
    ctx.title("Node Events")
    rows: list[list[object]] = [["Time", "Subsystem", "Message"]]
    for ev in events:
        rows.append(
            [
                fmt.format_datetime(fmt.from_rfc3339(ev.get("Timestamp"))),
                ev.get("Subsystem", ""),
                ev.get("Message", ""),
            ]
        )
    ctx.out(fmt.columnize(rows))
    ctx.title("Allocated Resources")
    ctx.out(fmt.columnize(_allocated(node, allocs)))
    if ctx.verbose:
        _verbose_sections(ctx, node)
    ctx.title("Allocations")
    ctx.out(alloc_table(ctx, allocs) if allocs else "No allocations placed")
    return 0


def _verbose_sections(ctx: Context, node: dict[str, Any]) -> None:
    ctx.title("Drivers")
    rows: list[list[object]] = [["Driver", "Detected", "Healthy", "Message", "Time"]]
    for name, info in sorted((node.get("Drivers") or {}).items()):
        info = info or {}
        rows.append(
            [
                name,
                str(bool(info.get("Detected"))).lower(),
                str(bool(info.get("Healthy"))).lower(),
                info.get("HealthDescription", ""),
                fmt.format_datetime(fmt.from_rfc3339(info.get("UpdateTime"))),
            ]
        )
    ctx.out(fmt.columnize(rows))
    ctx.title("Attributes")
    ctx.out(fmt.kv(sorted((node.get("Attributes") or {}).items())))
    meta = node.get("Meta") or {}
    ctx.title("Meta")
    ctx.out(fmt.kv(sorted(meta.items())) if meta else "No metadata")
