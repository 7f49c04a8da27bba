"""Plan: what a scheduler run wants to change, and what the applier committed."""

from __future__ import annotations

import msgspec

from .alloc import Allocation, AllocMetric
from .base import Struct
from .evaluation import Deployment, Evaluation


class DeploymentStatusUpdate(Struct, frozen=True):
    """A scheduler decision about an existing deployment (e.g. cancelled by a newer job)."""

    deployment_id: str = ""
    status: str = ""
    status_description: str = ""


class DesiredUpdates(Struct, frozen=True):
    """Per task group counts of what a plan does (Nomad's DesiredTGUpdates)."""

    ignore: int = 0
    place: int = 0
    migrate: int = 0
    stop: int = 0
    in_place_update: int = 0
    destructive_update: int = 0
    canary: int = 0
    preemptions: int = 0


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
    # a new deployment the plan creates (or the current one, updated)
    deployment: Deployment | None = None
    deployment_updates: list[DeploymentStatusUpdate] = msgspec.field(default_factory=list)

    def is_noop(self) -> bool:
        return (
            not self.node_update
            and not self.node_allocation
            and self.deployment is None
            and not self.deployment_updates
        )


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
    # what the plan does per task group (job plan's annotations)
    desired_tg_updates: dict[str, DesiredUpdates] = msgspec.field(default_factory=dict)
    # evaluations to create with the plan: delayed reschedules (WaitUntil set,
    # TriggeredBy "alloc-failure"), rolling-update follow-ups
    followup_evals: list[Evaluation] = msgspec.field(default_factory=list)
    # name of the quota that refused placements ("" = none): the blocked
    # evaluation's QuotaLimitReached
    quota_limit_reached: str = ""
