"""Plan: what a scheduler run wants to change, and what the applier committed."""

from __future__ import annotations

import msgspec

from .alloc import Allocation, AllocMetric
from .base import Struct
from .evaluation import Deployment


class Plan(Struct, frozen=True):
    eval_id: str = ""
    priority: int = 50
    job_id: str = ""
    namespace: str = "default"
    all_at_once: bool = False
    # node id -> allocations to stop (DesiredStatus stop/evict set by the scheduler)
    node_update: dict[str, list[Allocation]] = msgspec.field(default_factory=dict)
    # node id -> new or in-place updated allocations
    node_allocation: dict[str, list[Allocation]] = msgspec.field(default_factory=dict)
    deployment: Deployment | None = None

    def is_noop(self) -> bool:
        return not self.node_update and not self.node_allocation and self.deployment is None


class PlanResult(Struct, frozen=True):
    node_update: dict[str, list[Allocation]] = msgspec.field(default_factory=dict)
    node_allocation: dict[str, list[Allocation]] = msgspec.field(default_factory=dict)
    refresh_index: int = 0
    alloc_index: int = 0
    rejected_nodes: list[str] = msgspec.field(default_factory=list)


class SchedulerResult(Struct, frozen=True):
    """The output of one scheduler run: a plan plus what could not be placed."""

    plan: Plan
    failed_tg_allocs: dict[str, AllocMetric] = msgspec.field(default_factory=dict)
    queued_allocations: dict[str, int] = msgspec.field(default_factory=dict)
