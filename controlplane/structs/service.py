"""Native service catalog entries (Nomad's `provider = "nomad"`, API.md §2.9).

One ServiceRegistration per (allocation, task or group, service). The client
that runs the allocation registers and deregisters them through the servers;
the servers keep them in the replicated state. Beyond Nomad's fields, each
entry carries the health of its checks as the client last reported it, so a
load balancer can route to healthy instances from the catalog alone.
"""

from __future__ import annotations

import msgspec

from .base import Struct


class CheckStatus(Struct, frozen=True):
    """The last result of one check of a registration."""

    name: str
    status: str = "pending"  # pending | passing | warning | critical (Consul's words)
    output: str = ""
    timestamp: int = 0  # unix ns of the last run


class ServiceRegistration(Struct, frozen=True):
    # `_nomad-task-<allocID>-<task>-<service>-<portlabel>`; for group
    # services the task part is `group-<groupname>` (registration_id())
    id: str
    service_name: str
    namespace: str = "default"
    node_id: str = ""
    datacenter: str = ""
    job_id: str = ""
    alloc_id: str = ""
    tags: list[str] = msgspec.field(default_factory=list)
    address: str = ""
    port: int = 0
    # our extension: passing | warning | critical; "" = no checks (counts as healthy)
    health: str = ""
    checks: list[CheckStatus] = msgspec.field(default_factory=list)
    create_index: int = 0
    modify_index: int = 0

    def healthy(self) -> bool:
        return self.health in ("", "passing")


def registration_id(alloc_id: str, task: str, group: str, service: str, port_label: str) -> str:
    """Nomad's ID for a service registration (task "" means a group service)."""
    owner = task if task else f"group-{group}"
    return f"_nomad-task-{alloc_id}-{owner}-{service}-{port_label}"
