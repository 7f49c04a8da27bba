"""Evaluation and Deployment structs."""

from __future__ import annotations

import msgspec

from .alloc import AllocMetric
from .base import Struct


class Evaluation(Struct, frozen=True):
    id: str = ""
    namespace: str = "default"
    priority: int = 50
    type: str = "service"
    triggered_by: str = ""
    job_id: str = ""
    job_modify_index: int = 0
    node_id: str = ""
    node_modify_index: int = 0
    deployment_id: str = ""
    status: str = "pending"
    status_description: str = ""
    wait: int = 0
    wait_until: str | None = None
    next_eval: str = ""
    previous_eval: str = ""
    blocked_eval: str = ""
    failed_tg_allocs: dict[str, AllocMetric] | None = msgspec.field(
        default=None, name="FailedTGAllocs"
    )
    class_eligibility: dict[str, bool] | None = None
    escaped_computed_class: bool = False
    queued_allocations: dict[str, int] | None = None
    snapshot_index: int = 0
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0
    # the quota whose limit blocked this (blocked) evaluation ("" = capacity);
    # last so pickled snapshots of older evaluations still line up
    quota_limit_reached: str = ""

    def terminal(self) -> bool:
        return self.status in ("complete", "failed", "canceled")


class DeploymentState(Struct, frozen=True):
    auto_revert: bool = False
    auto_promote: bool = False
    progress_deadline: int = 0
    require_progress_by: str | None = None
    promoted: bool = False
    placed_canaries: list[str] | None = None
    desired_canaries: int = 0
    desired_total: int = 0
    placed_allocs: int = 0
    healthy_allocs: int = 0
    unhealthy_allocs: int = 0


class Deployment(Struct, frozen=True):
    id: str = ""
    namespace: str = "default"
    job_id: str = ""
    job_version: int = 0
    job_modify_index: int = 0
    job_spec_modify_index: int = 0
    job_create_index: int = 0
    is_multiregion: bool = False
    task_groups: dict[str, DeploymentState] = msgspec.field(default_factory=dict)
    status: str = "running"
    status_description: str = ""
    eval_priority: int = 0
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0

    def active(self) -> bool:
        return self.status in ("running", "paused")
