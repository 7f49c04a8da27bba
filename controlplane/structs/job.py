"""Job specification structs: Job, TaskGroup, Task and their blocks.

Field names and units follow Nomad's API (durations in nanoseconds). Defaults
here are the zero values; Nomad's documented defaults are filled in by
`controlplane.jobspec.defaults` (canonicalisation) before a job is stored.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .base import Struct


class Constraint(Struct, frozen=True):
    l_target: str = msgspec.field(default="", name="LTarget")
    r_target: str = msgspec.field(default="", name="RTarget")
    operand: str = "="


class Affinity(Struct, frozen=True):
    l_target: str = msgspec.field(default="", name="LTarget")
    r_target: str = msgspec.field(default="", name="RTarget")
    operand: str = "="
    weight: int = 50


class SpreadTarget(Struct, frozen=True):
    value: str = ""
    percent: int = 0


class Spread(Struct, frozen=True):
    attribute: str = ""
    weight: int = 50
    spread_target: list[SpreadTarget] | None = None


class Port(Struct, frozen=True):
    label: str = ""
    value: int = 0
    to: int = 0
    host_network: str = "default"


class NetworkResource(Struct, frozen=True):
    mode: str = ""
    device: str = ""
    cidr: str = ""
    ip: str = ""
    hostname: str = ""
    dns: dict[str, Any] | None = None
    reserved_ports: list[Port] | None = None
    dynamic_ports: list[Port] | None = None
    mbits: int = 0


class Resources(Struct, frozen=True):
    cpu: int = 0
    cores: int = 0
    memory_mb: int = 0
    memory_max_mb: int = 0
    disk_mb: int = 0
    iops: int = 0
    networks: list[NetworkResource] | None = None
    devices: list[dict[str, Any]] | None = None


class CheckRestart(Struct, frozen=True):
    limit: int = 0
    grace: int = 0
    ignore_warnings: bool = False


class ServiceCheck(Struct, frozen=True):
    name: str = ""
    type: str = ""
    command: str = ""
    args: list[str] | None = None
    path: str = ""
    protocol: str = ""
    port_label: str = ""
    address_mode: str = ""
    interval: int = 0
    timeout: int = 0
    initial_status: str = ""
    method: str = ""
    header: dict[str, list[str]] | None = None
    body: str = ""
    task_name: str = ""
    check_restart: CheckRestart | None = None
    success_before_passing: int = 0
    failures_before_critical: int = 0
    on_update: str = ""


class Service(Struct, frozen=True):
    name: str = ""
    tags: list[str] | None = None
    canary_tags: list[str] | None = None
    port_label: str = ""
    address_mode: str = ""
    address: str = ""
    checks: list[ServiceCheck] | None = None
    check_restart: CheckRestart | None = None
    meta: dict[str, str] | None = None
    task_name: str = ""
    provider: str = ""
    on_update: str = ""


class RestartPolicy(Struct, frozen=True):
    attempts: int = 0
    interval: int = 0
    delay: int = 0
    mode: str = ""
    render_templates: bool = False


class ReschedulePolicy(Struct, frozen=True):
    attempts: int = 0
    interval: int = 0
    delay: int = 0
    delay_function: str = ""
    max_delay: int = 0
    unlimited: bool = False


class UpdateStrategy(Struct, frozen=True):
    stagger: int = 0
    max_parallel: int = 0
    health_check: str = ""
    min_healthy_time: int = 0
    healthy_deadline: int = 0
    progress_deadline: int = 0
    auto_revert: bool = False
    auto_promote: bool = False
    canary: int = 0


class MigrateStrategy(Struct, frozen=True):
    max_parallel: int = 0
    health_check: str = ""
    min_healthy_time: int = 0
    healthy_deadline: int = 0


class EphemeralDisk(Struct, frozen=True):
    sticky: bool = False
    size_mb: int = 0
    migrate: bool = False


class LogConfig(Struct, frozen=True):
    max_files: int = 0
    max_file_size_mb: int = 0
    disabled: bool = False


class TaskLifecycle(Struct, frozen=True):
    hook: str = ""
    sidecar: bool = False


class PeriodicConfig(Struct, frozen=True):
    enabled: bool = True
    spec: str = ""
    specs: list[str] | None = None
    spec_type: str = "cron"
    prohibit_overlap: bool = False
    time_zone: str = "UTC"


class ParameterizedJobConfig(Struct, frozen=True):
    payload: str = "optional"
    meta_required: list[str] | None = None
    meta_optional: list[str] | None = None


class Task(Struct, frozen=True):
    name: str = ""
    driver: str = ""
    user: str = ""
    config: dict[str, Any] | None = None
    env: dict[str, str] | None = None
    meta: dict[str, str] | None = None
    resources: Resources | None = None
    services: list[Service] | None = None
    kill_timeout: int = 0
    kill_signal: str = ""
    log_config: LogConfig | None = None
    artifacts: list[dict[str, Any]] | None = None
    templates: list[dict[str, Any]] | None = None
    constraints: list[Constraint] | None = None
    affinities: list[Affinity] | None = None
    restart_policy: RestartPolicy | None = None
    lifecycle: TaskLifecycle | None = None
    leader: bool = False
    shutdown_delay: int = 0
    volume_mounts: list[dict[str, Any]] | None = None
    dispatch_payload: dict[str, Any] | None = None
    vault: dict[str, Any] | None = None


class TaskGroup(Struct, frozen=True):
    name: str = ""
    count: int = 1
    constraints: list[Constraint] | None = None
    affinities: list[Affinity] | None = None
    spreads: list[Spread] | None = None
    tasks: list[Task] = msgspec.field(default_factory=list)
    restart_policy: RestartPolicy | None = None
    reschedule_policy: ReschedulePolicy | None = None
    ephemeral_disk: EphemeralDisk | None = None
    update: UpdateStrategy | None = None
    migrate: MigrateStrategy | None = None
    networks: list[NetworkResource] | None = None
    services: list[Service] | None = None
    volumes: dict[str, Any] | None = None
    meta: dict[str, str] | None = None
    shutdown_delay: int | None = None
    max_client_disconnect: int | None = None


class Job(Struct, frozen=True):
    id: str = ""
    name: str = ""
    namespace: str = "default"
    region: str = "global"
    type: str = "service"
    priority: int = 50
    all_at_once: bool = False
    datacenters: list[str] | None = None
    node_pool: str = "default"
    constraints: list[Constraint] | None = None
    affinities: list[Affinity] | None = None
    spreads: list[Spread] | None = None
    task_groups: list[TaskGroup] = msgspec.field(default_factory=list)
    update: UpdateStrategy | None = None
    periodic: PeriodicConfig | None = None
    parameterized_job: ParameterizedJobConfig | None = None
    dispatched: bool = False
    payload: str | None = None
    meta: dict[str, str] | None = None
    stop: bool = False
    parent_id: str = ""
    status: str = ""
    status_description: str = ""
    stable: bool = False
    version: int = 0
    submit_time: int = 0
    create_index: int = 0
    modify_index: int = 0
    job_modify_index: int = 0
    # a dispatched child's `-idempotency-token` (a repeated dispatch returns it)
    dispatch_idempotency_token: str = ""

    def group(self, name: str) -> TaskGroup | None:
        for tg in self.task_groups:
            if tg.name == name:
                return tg
        return None


class TaskGroupSummary(Struct, frozen=True):
    queued: int = 0
    complete: int = 0
    failed: int = 0
    running: int = 0
    starting: int = 0
    lost: int = 0
    unknown: int = 0


class JobChildrenSummary(Struct, frozen=True):
    pending: int = 0
    running: int = 0
    dead: int = 0


class JobSummary(Struct, frozen=True):
    job_id: str = ""
    namespace: str = "default"
    summary: dict[str, TaskGroupSummary] = msgspec.field(default_factory=dict)
    children: JobChildrenSummary = msgspec.field(default_factory=JobChildrenSummary)
    create_index: int = 0
    modify_index: int = 0


class JobListStub(Struct, frozen=True):
    id: str = ""
    parent_id: str = ""
    name: str = ""
    namespace: str = "default"
    datacenters: list[str] | None = None
    node_pool: str = "default"
    type: str = ""
    priority: int = 0
    periodic: bool = False
    parameterized_job: bool = False
    stop: bool = False
    status: str = ""
    status_description: str = ""
    job_summary: JobSummary | None = None
    create_index: int = 0
    modify_index: int = 0
    job_modify_index: int = 0
    submit_time: int = 0
