"""Client node structs: Node, its resources, drivers and events."""

from __future__ import annotations

from typing import Any

import msgspec

from .base import Struct
from .job import NetworkResource


class NodeCpuResources(Struct, frozen=True):
    cpu_shares: int = msgspec.field(default=0, name="CpuShares")
    total_cpu_cores: int = msgspec.field(default=0, name="TotalCpuCores")
    reservable_cpu_cores: list[int] | None = msgspec.field(default=None, name="ReservableCpuCores")


class NodeMemoryResources(Struct, frozen=True):
    memory_mb: int = 0


class NodeDiskResources(Struct, frozen=True):
    disk_mb: int = 0


class NodeResources(Struct, frozen=True):
    cpu: NodeCpuResources = msgspec.field(default_factory=NodeCpuResources, name="Cpu")
    memory: NodeMemoryResources = msgspec.field(default_factory=NodeMemoryResources)
    disk: NodeDiskResources = msgspec.field(default_factory=NodeDiskResources)
    networks: list[NetworkResource] | None = None
    min_dynamic_port: int = 20000
    max_dynamic_port: int = 32000


class NodeReservedNetwork(Struct, frozen=True):
    reserved_host_ports: str = ""


class NodeReservedResources(Struct, frozen=True):
    cpu: NodeCpuResources = msgspec.field(default_factory=NodeCpuResources, name="Cpu")
    memory: NodeMemoryResources = msgspec.field(default_factory=NodeMemoryResources)
    disk: NodeDiskResources = msgspec.field(default_factory=NodeDiskResources)
    networks: NodeReservedNetwork = msgspec.field(default_factory=NodeReservedNetwork)


class DriverInfo(Struct, frozen=True):
    attributes: dict[str, str] | None = None
    detected: bool = False
    healthy: bool = False
    health_description: str = ""
    update_time: str | None = None


class NodeEvent(Struct, frozen=True):
    message: str = ""
    subsystem: str = ""
    details: dict[str, str] | None = None
    timestamp: str | None = None
    create_index: int = 0


class Node(Struct, frozen=True):
    id: str = ""
    secret_id: str = ""
    datacenter: str = "dc1"
    name: str = ""
    http_addr: str = ""
    tls_enabled: bool = False
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    node_resources: NodeResources = msgspec.field(default_factory=NodeResources)
    reserved_resources: NodeReservedResources = msgspec.field(default_factory=NodeReservedResources)
    links: dict[str, str] | None = None
    meta: dict[str, str] | None = None
    node_class: str = ""
    node_pool: str = "default"
    drain: bool = False
    drain_strategy: dict[str, Any] | None = None
    scheduling_eligibility: str = "eligible"
    status: str = "initializing"
    status_description: str = ""
    status_updated_at: int = 0
    events: list[NodeEvent] | None = None
    drivers: dict[str, DriverInfo] = msgspec.field(default_factory=dict)
    # DrainMetadata of the last drain: {StartedAt, UpdatedAt, Status, AccessorID, Meta}
    last_drain: dict[str, Any] | None = None
    computed_class: str = ""
    create_index: int = 0
    modify_index: int = 0


class NodeListStub(Struct, frozen=True):
    address: str = ""
    id: str = ""
    attributes: dict[str, str] | None = None
    datacenter: str = ""
    name: str = ""
    node_class: str = ""
    node_pool: str = "default"
    version: str = ""
    drain: bool = False
    scheduling_eligibility: str = ""
    status: str = ""
    status_description: str = ""
    drivers: dict[str, DriverInfo] | None = None
    create_index: int = 0
    modify_index: int = 0


class ServerMember(Struct, frozen=True):
    """A server of the region, as it announced itself (replicated)."""

    name: str = ""
    raft_addr: str = ""  # ip:port of its Raft / RPC listener
    http_addr: str = ""  # ip:port of its HTTP API
    region: str = "global"
    datacenter: str = "dc1"
    build: str = ""
    bootstrap_expect: int = 1
    status: str = "alive"  # "left" after force-leave
    create_index: int = 0
    modify_index: int = 0
