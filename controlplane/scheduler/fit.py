"""Resource fit: node capacity, what allocations use, and host-port offers.

Shared by the scheduler (does this group fit next to the proposed allocs?)
and the plan applier (`allocs_fit` re-checks a node against the newest
state). Decides nothing about which node is better; that is rank.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import msgspec

from controlplane.structs import (
    AllocatedCpu,
    AllocatedMemory,
    AllocatedPortMapping,
    AllocatedResources,
    AllocatedSharedResources,
    AllocatedTaskResources,
    Allocation,
    NetworkResource,
    Node,
    Port,
    TaskGroup,
)

CPU = "cpu"
MEMORY = "memory"
DISK = "disk"
PORT_COLLISION = "network: port collision"
DYNAMIC_PORTS_EXHAUSTED = "network: dynamic port selection failed"

# Random probes before falling back to a scan, as Nomad's network index does:
# random picks keep allocs on one node from clustering on the same ports.
_RANDOM_PORT_ATTEMPTS = 20
_DEFAULT_HOST_IP = "127.0.0.1"


# The value types below are built for every node a placement scores: frozen
# msgspec structs, which construct many times faster than frozen dataclasses.


class Usage(msgspec.Struct, frozen=True):
    """Comparable resources: CPU in MHz, memory and disk in MB."""

    cpu: int = 0
    memory_mb: int = 0
    disk_mb: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.cpu + other.cpu,
            self.memory_mb + other.memory_mb,
            self.disk_mb + other.disk_mb,
        )

    def exceeded(self, capacity: Usage) -> str:
        """The first dimension (cpu, memory, disk order) over `capacity`, or ""."""
        if self.cpu > capacity.cpu:
            return CPU
        if self.memory_mb > capacity.memory_mb:
            return MEMORY
        if self.disk_mb > capacity.disk_mb:
            return DISK
        return ""


def node_capacity(node: Node) -> Usage:
    """What allocations may use: the node's resources minus its reserved ones."""
    res, rsv = node.node_resources, node.reserved_resources
    return Usage(
        res.cpu.cpu_shares - rsv.cpu.cpu_shares,
        res.memory.memory_mb - rsv.memory.memory_mb,
        res.disk.disk_mb - rsv.disk.disk_mb,
    )


def node_host_ip(node: Node) -> str:
    return node.attributes.get("unique.network.ip-address") or _DEFAULT_HOST_IP


def reserved_host_ports(node: Node) -> set[int]:
    """Parse ReservedHostPorts ("22,80,8000-8010"); junk entries are skipped."""
    ports: set[int] = set()
    for part in node.reserved_resources.networks.reserved_host_ports.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            start, end = int(lo), int(hi or lo)
        except ValueError:
            continue
        ports.update(range(start, end + 1))
    return ports


def group_usage(tg: TaskGroup) -> Usage:
    """The group's ask: every task's CPU and memory plus the ephemeral disk."""
    cpu = mem = 0
    for task in tg.tasks:
        if task.resources is not None:
            cpu += task.resources.cpu
            mem += task.resources.memory_mb
    disk = tg.ephemeral_disk.size_mb if tg.ephemeral_disk is not None else 0
    return Usage(cpu, mem, disk)


def alloc_usage(alloc: Allocation) -> Usage:
    """What an allocation holds; falls back to its job's ask when unrecorded."""
    ar = alloc.allocated_resources
    if ar is not None:
        return Usage(
            sum(t.cpu.cpu_shares for t in ar.tasks.values()),
            sum(t.memory.memory_mb for t in ar.tasks.values()),
            ar.shared.disk_mb,
        )
    tg = alloc.job.group(alloc.task_group) if alloc.job is not None else None
    return group_usage(tg) if tg is not None else Usage()


def alloc_host_ports(alloc: Allocation) -> set[int]:
    """Host ports an allocation holds (modern shared ports and legacy task networks)."""
    ar = alloc.allocated_resources
    if ar is None:
        return set()
    ports = {p.value for p in ar.shared.ports or () if p.value}
    networks = list(ar.shared.networks or ())
    for task in ar.tasks.values():
        networks.extend(task.networks or ())
    for net in networks:
        for p in (*(net.reserved_ports or ()), *(net.dynamic_ports or ())):
            if p.value:
                ports.add(p.value)
    return ports


def allocs_fit(node: Node, allocs: Iterable[Allocation]) -> tuple[bool, str]:
    """Do these allocations fit on `node` together? Terminal ones are ignored.

    Returns (False, dimension) with dimension "cpu", "memory", "disk" or
    "network: port collision" (two allocs, or an alloc and the node's
    reserved ports, holding the same host port).
    """
    used = Usage()
    taken = reserved_host_ports(node)
    collision = False
    for alloc in allocs:
        if alloc.terminal():
            continue
        used += alloc_usage(alloc)
        ports = alloc_host_ports(alloc)
        collision = collision or not taken.isdisjoint(ports)
        taken |= ports
    dimension = used.exceeded(node_capacity(node))
    if dimension:
        return False, dimension
    if collision:
        return False, PORT_COLLISION
    return True, ""


# --- offers: building AllocatedResources for a group on one node -------------


def _port_maps(tg: TaskGroup) -> dict[str, dict[str, int]]:
    """Legacy docker `port_map` per task (HCL blocks arrive as lists of maps)."""
    maps: dict[str, dict[str, int]] = {}
    for task in tg.tasks:
        raw: Any = (task.config or {}).get("port_map")
        entries = raw if isinstance(raw, list) else [raw]
        merged: dict[str, int] = {}
        for entry in entries:
            if isinstance(entry, dict):
                for label, port in entry.items():
                    try:
                        merged[str(label)] = int(port)
                    except (TypeError, ValueError):
                        continue
        maps[task.name] = merged
    return maps


def _pick_dynamic(lo: int, hi: int, taken: set[int], rng: random.Random) -> int | None:
    if hi < lo:
        return None
    for _ in range(_RANDOM_PORT_ATTEMPTS):
        port = rng.randint(lo, hi)
        if port not in taken:
            return port
    for port in range(lo, hi + 1):
        if port not in taken:
            return port
    return None


def _mapped_to(port: Port, host_port: int, port_map: dict[str, int]) -> int:
    if port.label in port_map:
        return port_map[port.label]
    # -1 means "same as the host port" inside the task's namespace.
    return host_port if port.to == -1 else port.to


def offer_resources(
    node: Node, tg: TaskGroup, taken: Iterable[int], rng: random.Random
) -> AllocatedResources | str:
    """AllocatedResources for `tg` on `node`, or the exhausted dimension.

    `taken` holds the host ports already in use on the node; it is not
    modified. Static ports are claimed before any dynamic pick so that a
    dynamic port can never steal a port the same group asks for by number.
    """
    taken = set(taken)
    host_ip = node_host_ip(node)
    port_maps = _port_maps(tg)
    # (owner task or "" for the group, network) in a stable order
    requests: list[tuple[str, NetworkResource]] = [("", n) for n in tg.networks or ()]
    for task in tg.tasks:
        if task.resources is not None:
            requests.extend((task.name, n) for n in task.resources.networks or ())

    for _, net in requests:
        for port in net.reserved_ports or ():
            if port.value in taken:
                return PORT_COLLISION
            taken.add(port.value)

    lo = node.node_resources.min_dynamic_port
    hi = node.node_resources.max_dynamic_port
    mappings: list[AllocatedPortMapping] = []
    group_nets: list[NetworkResource] = []
    task_nets: dict[str, list[NetworkResource]] = {}
    for owner, net in requests:
        port_map = port_maps.get(owner, {}) if owner else {}
        dynamic: list[Port] = []
        for port in net.dynamic_ports or ():
            value = _pick_dynamic(lo, hi, taken, rng)
            if value is None:
                return DYNAMIC_PORTS_EXHAUSTED
            taken.add(value)
            dynamic.append(port.replace(value=value))
        for port in (*(net.reserved_ports or ()), *dynamic):
            mappings.append(
                AllocatedPortMapping(
                    label=port.label,
                    value=port.value,
                    to=_mapped_to(port, port.value, port_map),
                    host_ip=host_ip,
                )
            )
        assigned = net.replace(ip=host_ip, dynamic_ports=dynamic or None)
        if owner:
            task_nets.setdefault(owner, []).append(assigned)
        else:
            group_nets.append(assigned)

    tasks: dict[str, AllocatedTaskResources] = {}
    for task in tg.tasks:
        res = task.resources
        tasks[task.name] = AllocatedTaskResources(
            cpu=AllocatedCpu(cpu_shares=res.cpu if res else 0),
            memory=AllocatedMemory(
                memory_mb=res.memory_mb if res else 0,
                memory_max_mb=res.memory_max_mb if res else 0,
            ),
            networks=task_nets.get(task.name),
        )
    return AllocatedResources(
        tasks=tasks,
        shared=AllocatedSharedResources(
            disk_mb=group_usage(tg).disk_mb,
            networks=group_nets or None,
            ports=mappings or None,
        ),
    )


class NodeLoad(msgspec.Struct, frozen=True):
    """What the proposed allocs on a node hold: resources and host ports.

    `ports` includes the node's reserved host ports.
    """

    used: Usage
    ports: frozenset[int]

    def plus(self, alloc: Allocation) -> NodeLoad:
        """This load with `alloc` added (a terminal alloc holds nothing)."""
        if alloc.terminal():
            return self
        ports = alloc_host_ports(alloc)
        return NodeLoad(self.used + alloc_usage(alloc), self.ports | ports if ports else self.ports)


def node_load(node: Node, proposed: Iterable[Allocation]) -> NodeLoad:
    used = Usage()
    taken = reserved_host_ports(node)
    for alloc in proposed:
        if alloc.terminal():
            continue
        used += alloc_usage(alloc)
        taken |= alloc_host_ports(alloc)
    return NodeLoad(used, frozenset(taken))


class Fit(msgspec.Struct, frozen=True):
    """The node's total use once the group is added, against its capacity."""

    used: Usage
    capacity: Usage


class GroupAsk(msgspec.Struct, frozen=True):
    """What one alloc of a group needs, computed once per group per run."""

    usage: Usage
    static_ports: tuple[int, ...]
    dynamic_ports: int


def group_ask(tg: TaskGroup) -> GroupAsk:
    networks = list(tg.networks or ())
    for task in tg.tasks:
        if task.resources is not None:
            networks.extend(task.resources.networks or ())
    static = tuple(p.value for n in networks for p in n.reserved_ports or ())
    dynamic = sum(len(n.dynamic_ports or ()) for n in networks)
    return GroupAsk(group_usage(tg), static, dynamic)


def check_fit(node: Node, load: NodeLoad, ask: GroupAsk) -> Fit | str:
    """Would the ask fit next to `load`? A Fit or the exhausted dimension.

    Cheap: ports are checked by counting, not assigned; `offer_resources`
    assigns them for the chosen node only. Ports come first, as in Nomad's
    bin-pack iterator, then CPU / memory / disk.
    """
    static = ask.static_ports
    if static and (len(set(static)) != len(static) or not load.ports.isdisjoint(static)):
        return PORT_COLLISION
    if ask.dynamic_ports:
        lo = node.node_resources.min_dynamic_port
        hi = node.node_resources.max_dynamic_port
        free = max(hi - lo + 1, 0)
        taken = load.ports.union(static) if static else load.ports
        # Counting the taken ports in the range only matters when there are
        # too few free ones even if every taken port lay outside it.
        if free - len(taken) < ask.dynamic_ports:
            held = sum(1 for p in taken if lo <= p <= hi)
            if free - held < ask.dynamic_ports:
                return DYNAMIC_PORTS_EXHAUSTED
    capacity = node_capacity(node)
    used = load.used + ask.usage
    dimension = used.exceeded(capacity)
    if dimension:
        return dimension
    return Fit(used, capacity)


def fit_group(
    node: Node, proposed: Iterable[Allocation], tg: TaskGroup, rng: random.Random
) -> tuple[Fit, AllocatedResources] | str:
    """Check and offer in one go: (Fit, resources) or the exhausted dimension."""
    load = node_load(node, proposed)
    fit = check_fit(node, load, group_ask(tg))
    if isinstance(fit, str):
        return fit
    offer = offer_resources(node, tg, load.ports, rng)
    if isinstance(offer, str):
        return offer
    return fit, offer
