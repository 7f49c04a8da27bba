"""Allocation structs: placements of a task group on a node, and task states."""

from __future__ import annotations

import msgspec

from .base import Struct
from .job import Job, NetworkResource


class TaskEvent(Struct, frozen=True):
    type: str = ""
    time: int = 0
    message: str = ""
    display_message: str = ""
    details: dict[str, str] | None = None
    fails_task: bool = False
    restart_reason: str = ""
    setup_error: str = ""
    driver_error: str = ""
    driver_message: str = ""
    exit_code: int = 0
    signal: int = 0
    kill_timeout: int = 0
    kill_error: str = ""
    kill_reason: str = ""
    start_delay: int = 0


class TaskState(Struct, frozen=True):
    state: str = "pending"
    failed: bool = False
    restarts: int = 0
    last_restart: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    events: list[TaskEvent] | None = None


class AllocatedCpu(Struct, frozen=True):
    cpu_shares: int = msgspec.field(default=0, name="CpuShares")
    reserved_cores: list[int] | None = None


class AllocatedMemory(Struct, frozen=True):
    memory_mb: int = 0
    memory_max_mb: int = 0


class AllocatedTaskResources(Struct, frozen=True):
    cpu: AllocatedCpu = msgspec.field(default_factory=AllocatedCpu, name="Cpu")
    memory: AllocatedMemory = msgspec.field(default_factory=AllocatedMemory)
    networks: list[NetworkResource] | None = None


class AllocatedPortMapping(Struct, frozen=True):
    label: str = ""
    value: int = 0
    to: int = 0
    host_ip: str = ""


class AllocatedSharedResources(Struct, frozen=True):
    disk_mb: int = 0
    networks: list[NetworkResource] | None = None
    ports: list[AllocatedPortMapping] | None = None


class AllocatedResources(Struct, frozen=True):
    tasks: dict[str, AllocatedTaskResources] = msgspec.field(default_factory=dict)
    shared: AllocatedSharedResources = msgspec.field(default_factory=AllocatedSharedResources)


class AllocMetric(Struct, frozen=True):
    nodes_evaluated: int = 0
    nodes_filtered: int = 0
    nodes_in_pool: int = 0
    nodes_available: dict[str, int] | None = None
    class_filtered: dict[str, int] | None = None
    constraint_filtered: dict[str, int] | None = None
    nodes_exhausted: int = 0
    class_exhausted: dict[str, int] | None = None
    dimension_exhausted: dict[str, int] | None = None
    quota_exhausted: list[str] | None = None
    scores: dict[str, float] | None = None
    allocation_time: int = 0
    coalesced_failures: int = 0


class DesiredTransition(Struct, frozen=True):
    migrate: bool | None = None
    reschedule: bool | None = None
    force_reschedule: bool | None = None
    no_shutdown_delay: bool | None = None


class AllocDeploymentStatus(Struct, frozen=True):
    healthy: bool | None = None
    timestamp: str | None = None
    canary: bool = False
    modify_index: int = 0


class RescheduleEvent(Struct, frozen=True):
    reschedule_time: int = 0  # unix ns
    prev_alloc_id: str = ""
    prev_node_id: str = ""
    delay: int = 0  # ns


class RescheduleTracker(Struct, frozen=True):
    events: list[RescheduleEvent] | None = None


class Allocation(Struct, frozen=True):
    id: str = ""
    namespace: str = "default"
    eval_id: str = ""
    name: str = ""
    node_id: str = ""
    node_name: str = ""
    job_id: str = ""
    job: Job | None = None
    task_group: str = ""
    allocated_resources: AllocatedResources | None = None
    metrics: AllocMetric | None = None
    desired_status: str = "run"
    desired_description: str = ""
    desired_transition: DesiredTransition = msgspec.field(default_factory=DesiredTransition)
    client_status: str = "pending"
    client_description: str = ""
    task_states: dict[str, TaskState] | None = None
    previous_allocation: str = ""
    next_allocation: str = ""
    deployment_id: str = ""
    deployment_status: AllocDeploymentStatus | None = None
    reschedule_tracker: RescheduleTracker | None = None
    followup_eval_id: str = ""
    create_index: int = 0
    modify_index: int = 0
    alloc_modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0

    @property
    def index(self) -> int:
        """The `[i]` of `job.group[i]`."""
        start = self.name.rfind("[")
        try:
            return int(self.name[start + 1 : -1])
        except ValueError:
            return 0

    def terminal(self) -> bool:
        return self.desired_status != "run" or self.client_status in (
            "complete",
            "failed",
            "lost",
        )

    def client_terminal(self) -> bool:
        return self.client_status in ("complete", "failed", "lost")


class AllocListStub(Struct, frozen=True):
    id: str = ""
    eval_id: str = ""
    name: str = ""
    namespace: str = "default"
    node_id: str = ""
    node_name: str = ""
    job_id: str = ""
    job_type: str = ""
    job_version: int = 0
    task_group: str = ""
    allocated_resources: AllocatedResources | None = None
    desired_status: str = ""
    desired_description: str = ""
    client_status: str = ""
    client_description: str = ""
    desired_transition: DesiredTransition = msgspec.field(default_factory=DesiredTransition)
    task_states: dict[str, TaskState] | None = None
    deployment_status: AllocDeploymentStatus | None = None
    reschedule_tracker: RescheduleTracker | None = None
    followup_eval_id: str = ""
    next_allocation: str = ""
    create_index: int = 0
    modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0


class AllocClientUpdate(Struct, frozen=True):
    """What a client reports about one of its allocations."""

    id: str = ""
    client_status: str = ""
    client_description: str = ""
    task_states: dict[str, TaskState] | None = None
    deployment_status: AllocDeploymentStatus | None = None
    modify_time: int = 0
