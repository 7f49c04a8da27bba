"""The client agent's view of the servers: the calls a node makes.

Nomad clients speak RPC to servers; ours speak HTTP (`HTTPServerRPC`, in
`rpc_http.py`) to the internal endpoints under `/v1/internal/`. The client
agent depends only on this protocol, so unit tests pass a fake.
"""

from __future__ import annotations

from typing import Protocol

from controlplane.structs import Allocation, AllocClientUpdate, Node, ServiceRegistration


class ServerRPC(Protocol):
    def register_node(self, node: Node) -> float:
        """Upsert the node; returns the heartbeat TTL in seconds."""
        ...

    def heartbeat(self, node_id: str, status: str) -> float:
        """Mark the node alive with `status` ("ready"); returns the next TTL."""
        ...

    def get_allocs(
        self, node_id: str, min_index: int, wait_s: float
    ) -> tuple[list[Allocation], int]:
        """Blocking query: the node's allocations (full, with Job) and the index.

        Returns once the index passes `min_index` or `wait_s` elapses.
        """
        ...

    def update_allocs(self, updates: list[AllocClientUpdate]) -> None:
        """Report client-side status (ClientStatus, TaskStates) of allocations."""
        ...

    def update_services(self, upserts: list[ServiceRegistration], delete_ids: list[str]) -> None:
        """Register/update (health included) and deregister service instances
        of this node's allocations in the servers' catalog."""
        ...
