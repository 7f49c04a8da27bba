"""StateView: the read-only interface the scheduler sees.

A view is a point-in-time snapshot; nothing read from it changes underneath
the caller. The StateStore and its snapshots implement it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from controlplane.structs import Allocation, Deployment, Evaluation, Job, Node


class StateView(Protocol):
    @property
    def index(self) -> int:
        """Latest applied Raft index this view reflects."""
        ...

    def job_by_id(self, namespace: str, job_id: str) -> Job | None: ...

    def job_version(self, namespace: str, job_id: str, version: int) -> Job | None: ...

    def nodes(self) -> Iterable[Node]: ...

    def node_by_id(self, node_id: str) -> Node | None: ...

    def allocs_by_job(self, namespace: str, job_id: str) -> list[Allocation]: ...

    def allocs_by_node(self, node_id: str) -> list[Allocation]: ...

    def alloc_by_id(self, alloc_id: str) -> Allocation | None: ...

    def eval_by_id(self, eval_id: str) -> Evaluation | None: ...

    def latest_deployment(self, namespace: str, job_id: str) -> Deployment | None: ...

    def deployment_by_id(self, dep_id: str) -> Deployment | None: ...
