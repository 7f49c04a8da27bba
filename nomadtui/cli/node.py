"""`node status`: the client node list and one node's details, laid out as
Nomad's (key = value block, Node Events, Allocated Resources, measured
Allocation / Host Resource Utilization, Allocations).

Read-only: GET /v1/nodes, /v1/node/:id, /v1/node/:id/allocations, and the
node client's /v1/client/stats and /v1/client/allocation/:id/stats (a
client that cannot be reached only drops the measured sections).
"""

from __future__ import annotations

from typing import Any

from controlplane.errors import NomadError
from nomadtui.client import one_line, resolve_node

from . import format as fmt
from . import node_resources as res
from .alloc_table import alloc_table
from .context import Context, reporting


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


def _drain(node: dict[str, Any]) -> str:
    """Nomad's formatDrain: `true; 2020-06-21T19:40:00Z deadline; ignoring system jobs`."""
    strategy = node.get("DrainStrategy")
    if not strategy:
        return str(bool(node.get("Drain"))).lower()
    parts = ["true"]
    force_at = fmt.from_rfc3339(strategy.get("ForceDeadline"))
    if int(strategy.get("Deadline") or 0) < 0:
        parts.append("force drain")
    elif force_at is None:
        parts.append("no deadline")
    else:
        parts.append(f"{fmt.format_datetime(force_at)} deadline")
    if strategy.get("IgnoreSystemJobs"):
        parts.append("ignoring system jobs")
    return "; ".join(parts)


def _drivers_from_attributes(node: dict[str, Any]) -> str:
    names = [
        key.split(".", 1)[1]
        for key, value in (node.get("Attributes") or {}).items()
        if key.startswith("driver.") and key.count(".") == 1 and value == "1"
    ]
    return ",".join(sorted(names))


def _error(ctx: Context, message: str) -> None:
    ctx.out()
    ctx.runtime.stderr.write(f"Error: {message}\n")
    ctx.runtime.stderr.flush()


def show_node(ctx: Context, prefix: str) -> int:
    client = ctx.client
    args = ctx.args
    with reporting("Error querying node info"):
        stub = resolve_node(client, prefix)
        node: dict[str, Any] = client.node(stub["ID"]).data or {}
        allocs: list[dict[str, Any]] = client.node_allocations(stub["ID"]).data or []
    running = [a for a in allocs if a.get("ClientStatus") == "running"]
    basic: list[tuple[str, object]] = [
        ("ID", ctx.short(node.get("ID", ""))),
        ("Name", node.get("Name", "")),
        ("Node Pool", node.get("NodePool", "")),
        ("Class", node.get("NodeClass", "")),
        ("DC", node.get("Datacenter", "")),
        ("Drain", _drain(node)),
        ("Eligibility", node.get("SchedulingEligibility", "")),
        ("Status", node.get("Status", "")),
        ("CSI Controllers", ""),
        ("CSI Drivers", ""),
    ]
    host_volumes = ",".join(sorted((node.get("HostVolumes") or {}).keys()))
    host_networks = ",".join(sorted((node.get("HostNetworks") or {}).keys()))
    if getattr(args, "short", False):
        basic += [
            ("Host Volumes", host_volumes),
            ("Host Networks", host_networks),
            ("CSI Volumes", ""),
            ("Drivers", _drivers_from_attributes(node)),
        ]
        ctx.out(fmt.kv(basic))
        _allocations(ctx, node, allocs)
        return 0

    host: dict[str, Any] | None = None
    try:
        host = client.node_stats(node.get("ID", "")).data or None
    except NomadError as err:
        _error(ctx, f"error fetching node stats: {one_line(str(err))}")
    if host is not None:
        basic.append(("Uptime", fmt.go_duration(int(host.get("Uptime") or 0) * 1_000_000_000)))
    if not ctx.verbose:
        basic += [
            ("Host Volumes", host_volumes),
            ("Host Networks", host_networks),
            ("CSI Volumes", ""),
            ("Driver Status", _driver_status(node)),
        ]
    ctx.out(fmt.kv(basic))
    if ctx.verbose:
        _drivers_table(ctx, node)
    _events(ctx, node)
    ctx.title("Allocated Resources")
    ctx.out(fmt.columnize(res.allocated(node, running)))
    usages = _alloc_usages(ctx, running)
    if usages is not None:
        ctx.title("Allocation Resource Utilization")
        ctx.out(fmt.columnize(res.alloc_utilization(node, usages)))
    if host is None:
        _error(ctx, "error fetching node stats: actual resource usage not present")
    else:
        ctx.title("Host Resource Utilization")
        ctx.out(fmt.columnize(res.host_utilization(node, host)))
        if getattr(args, "stats", False):
            ctx.title("CPU Stats")
            ctx.out(res.cpu_stats(host))
            ctx.title("Memory Stats")
            ctx.out(res.memory_stats(host))
            ctx.title("Disk Stats")
            ctx.out(res.disk_stats(host))
    _allocations(ctx, node, allocs)
    return 0


def _alloc_usages(ctx: Context, running: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Each running alloc's measured usage; None (no section) if any is unavailable."""
    usages = []
    for alloc in running:
        try:
            usages.append(ctx.client.allocation_stats(alloc.get("ID", "")).data or {})
        except NomadError:
            return None
    return usages


def _events(ctx: Context, node: dict[str, Any]) -> None:
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


def _allocations(ctx: Context, node: dict[str, Any], allocs: list[dict[str, Any]]) -> None:
    ctx.title("Allocations")
    ctx.out(alloc_table(ctx, allocs) if allocs else "No allocations placed")
    if ctx.verbose:
        _verbose_sections(ctx, node)


def _drivers_table(ctx: Context, node: dict[str, Any]) -> None:
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


def _verbose_sections(ctx: Context, node: dict[str, Any]) -> None:
    ctx.title("Attributes")
    ctx.out(fmt.kv(sorted((node.get("Attributes") or {}).items())))
    meta = node.get("Meta") or {}
    ctx.title("Meta")
    ctx.out(fmt.kv(sorted(meta.items())) if meta else "No metadata")
