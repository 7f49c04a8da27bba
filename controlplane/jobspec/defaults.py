"""Nomad's job defaults (API.md §3.1-3.8): `canonicalize(Job)` and the dict-level merge.

Two layers, because the frozen structs cannot tell "unset" from zero:
`fill_block_defaults` works on the API dict (where a missing key is known to
be unset) and completes partially written restart/reschedule/update/migrate
blocks; `canonicalize` works on the struct, fills whole missing blocks and
empty scalars, and is idempotent. Neither validates.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from controlplane.structs import (
    EphemeralDisk,
    Job,
    LogConfig,
    MigrateStrategy,
    ReschedulePolicy,
    Resources,
    RestartPolicy,
    Service,
    ServiceCheck,
    Task,
    TaskGroup,
    UpdateStrategy,
    to_builtins,
)

SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

DEFAULT_CPU = 100
DEFAULT_MEMORY_MB = 300
DEFAULT_DISK_MB = 300
DEFAULT_KILL_TIMEOUT = 5 * SECOND
DEFAULT_STAGGER = 30 * SECOND

_RESTART = {
    "service": RestartPolicy(attempts=2, interval=30 * MINUTE, delay=15 * SECOND, mode="fail"),
    "batch": RestartPolicy(attempts=3, interval=24 * HOUR, delay=15 * SECOND, mode="fail"),
}
_RESCHEDULE = {
    "service": ReschedulePolicy(
        attempts=0,
        interval=0,
        delay=30 * SECOND,
        delay_function="exponential",
        max_delay=HOUR,
        unlimited=True,
    ),
    "batch": ReschedulePolicy(
        attempts=1,
        interval=24 * HOUR,
        delay=5 * SECOND,
        delay_function="constant",
        max_delay=0,
        unlimited=False,
    ),
}
DEFAULT_UPDATE = UpdateStrategy(
    stagger=DEFAULT_STAGGER,
    max_parallel=1,
    health_check="checks",
    min_healthy_time=10 * SECOND,
    healthy_deadline=5 * MINUTE,
    progress_deadline=10 * MINUTE,
)
DEFAULT_MIGRATE = MigrateStrategy(
    max_parallel=1,
    health_check="checks",
    min_healthy_time=10 * SECOND,
    healthy_deadline=5 * MINUTE,
)
DEFAULT_LOGS = LogConfig(max_files=10, max_file_size_mb=10)


def _kind(job_type: str) -> str:
    """Which default family a job type uses ("" is a service job until canonicalised)."""
    return "batch" if job_type in ("batch", "sysbatch") else "service"


def default_restart(job_type: str) -> RestartPolicy:
    return _RESTART[_kind(job_type)]


def default_reschedule(job_type: str) -> ReschedulePolicy | None:
    if job_type in ("system", "sysbatch"):
        return None
    return _RESCHEDULE[_kind(job_type)]


def _has_update(job_type: str) -> bool:
    return job_type in ("service", "system", "")


# ---------------------------------------------------------------------------
# dict layer: partially written blocks


@cache
def _wire(struct: Any) -> dict[str, Any]:
    """A default block in its wire form; shared (the defaults are constants),
    so only ever read: `_merge` copies."""
    return dict(to_builtins(struct))


def _merge(*layers: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layer in layers:
        if isinstance(layer, dict):
            out.update({k: v for k, v in layer.items() if v is not None})
    return out


def fill_block_defaults(job: dict[str, Any]) -> dict[str, Any]:
    """Complete partially written policy blocks in an API dict (Nomad's field names).

    Job-level update/migrate/reschedule are merged into every group, group
    values winning; a task's restart block overrides its group's.
    """
    job = dict(job)
    job_type = str(job.get("Type") or "service")
    groups = []
    for tg in job.get("TaskGroups") or []:
        if not isinstance(tg, dict):
            groups.append(tg)
            continue
        tg = dict(tg)
        if isinstance(tg.get("RestartPolicy"), dict):
            tg["RestartPolicy"] = _merge(_wire(default_restart(job_type)), tg["RestartPolicy"])
        reschedule = default_reschedule(job_type)
        if reschedule is not None and (job.get("ReschedulePolicy") or tg.get("ReschedulePolicy")):
            tg["ReschedulePolicy"] = _merge(
                _wire(reschedule), job.get("ReschedulePolicy"), tg.get("ReschedulePolicy")
            )
        if _has_update(job_type) and (job.get("Update") or tg.get("Update")):
            tg["Update"] = _merge(_wire(DEFAULT_UPDATE), job.get("Update"), tg.get("Update"))
        if job_type == "service" and (job.get("Migrate") or tg.get("Migrate")):
            tg["Migrate"] = _merge(_wire(DEFAULT_MIGRATE), job.get("Migrate"), tg.get("Migrate"))
        if isinstance(tg.get("EphemeralDisk"), dict):
            tg["EphemeralDisk"] = _merge({"SizeMB": DEFAULT_DISK_MB}, tg["EphemeralDisk"])
        group_restart = tg.get("RestartPolicy") or _wire(default_restart(job_type))
        tasks = []
        for task in tg.get("Tasks") or []:
            if isinstance(task, dict):
                task = dict(task)
                if isinstance(task.get("RestartPolicy"), dict):
                    task["RestartPolicy"] = _merge(group_restart, task["RestartPolicy"])
                if isinstance(task.get("LogConfig"), dict):
                    task["LogConfig"] = _merge(_wire(DEFAULT_LOGS), task["LogConfig"])
            tasks.append(task)
        if "Tasks" in tg:
            tg["Tasks"] = tasks
        groups.append(tg)
    if "TaskGroups" in job:
        job["TaskGroups"] = groups
    return job


# ---------------------------------------------------------------------------
# struct layer: canonicalize


def _go_quote(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _canonical_check(check: ServiceCheck, service_name: str) -> ServiceCheck:
    if check.name:
        return check
    return check.replace(name=f"service: {_go_quote(service_name)} check")


def _canonical_service(svc: Service, default_name: str) -> Service:
    name = svc.name or default_name
    return svc.replace(
        name=name,
        provider=svc.provider or "consul",
        address_mode=svc.address_mode or "auto",
        checks=[_canonical_check(c, name) for c in svc.checks] if svc.checks else svc.checks,
    )


def _canonical_resources(res: Resources | None) -> Resources:
    if res is None:
        return Resources(cpu=DEFAULT_CPU, memory_mb=DEFAULT_MEMORY_MB)
    cpu = res.cpu or (0 if res.cores else DEFAULT_CPU)
    return res.replace(cpu=cpu, memory_mb=res.memory_mb or DEFAULT_MEMORY_MB)


def _inherit_restart(task_policy: RestartPolicy | None, group: RestartPolicy) -> RestartPolicy:
    if task_policy is None:
        return group
    return task_policy.replace(
        interval=task_policy.interval or group.interval,
        delay=task_policy.delay or group.delay,
        mode=task_policy.mode or group.mode,
    )


_TEMPLATE_DEFAULTS = {
    "ChangeMode": "restart",
    "Splay": 5 * SECOND,
    "Perms": "0644",
    "LeftDelim": "{{",
    "RightDelim": "}}",
}


def _canonical_task(task: Task, group: TaskGroup, job_name: str) -> Task:
    assert group.restart_policy is not None
    logs = task.log_config or DEFAULT_LOGS
    logs = logs.replace(
        max_files=logs.max_files or DEFAULT_LOGS.max_files,
        max_file_size_mb=logs.max_file_size_mb or DEFAULT_LOGS.max_file_size_mb,
    )
    default_name = f"{job_name}-{group.name}-{task.name}"
    return task.replace(
        resources=_canonical_resources(task.resources),
        kill_timeout=task.kill_timeout or DEFAULT_KILL_TIMEOUT,
        log_config=logs,
        restart_policy=_inherit_restart(task.restart_policy, group.restart_policy),
        services=[_canonical_service(s, default_name) for s in task.services]
        if task.services
        else task.services,
        templates=[{**_TEMPLATE_DEFAULTS, **t} for t in task.templates]
        if task.templates
        else task.templates,
        artifacts=[{"GetterMode": "any", **a} for a in task.artifacts]
        if task.artifacts
        else task.artifacts,
    )


def _group_update(group: TaskGroup, job: Job) -> UpdateStrategy | None:
    if job.type not in ("service", "system"):
        return None
    if group.update is not None:
        return group.update.replace(health_check=group.update.health_check or "checks")
    merged = DEFAULT_UPDATE
    if job.update is not None:
        # Only fields the job actually set (non-zero) override the defaults.
        overrides = {
            f: getattr(job.update, f)
            for f in job.update.__struct_fields__
            if getattr(job.update, f)
        }
        merged = merged.replace(**overrides)
    return merged


def _canonical_group(group: TaskGroup, job: Job) -> TaskGroup:
    restart = group.restart_policy or default_restart(job.type)
    restart = restart.replace(mode=restart.mode or "fail")
    reschedule = group.reschedule_policy or default_reschedule(job.type)
    if job.type in ("system", "sysbatch"):
        reschedule = None
    elif reschedule is not None and not reschedule.delay_function:
        base = default_reschedule(job.type)
        assert base is not None
        reschedule = reschedule.replace(delay_function=base.delay_function)
    migrate = None
    if job.type == "service":
        migrate = group.migrate or DEFAULT_MIGRATE
        migrate = migrate.replace(health_check=migrate.health_check or "checks")
    disk = group.ephemeral_disk or EphemeralDisk(size_mb=DEFAULT_DISK_MB)
    disk = disk.replace(size_mb=disk.size_mb or DEFAULT_DISK_MB)
    group = group.replace(
        restart_policy=restart,
        reschedule_policy=reschedule,
        ephemeral_disk=disk,
        update=_group_update(group, job),
        migrate=migrate,
        networks=[n.replace(mode=n.mode or "host") for n in group.networks]
        if group.networks
        else group.networks,
        services=[_canonical_service(s, f"{job.name}-{group.name}") for s in group.services]
        if group.services
        else group.services,
    )
    return group.replace(tasks=[_canonical_task(t, group, job.name) for t in group.tasks])


# Jobs canonicalize returned lately, by id (each held, so its id is not
# reused): a job is canonicalised where it is decoded and again where it is
# registered, and canonicalize(canonicalize(j)) == canonicalize(j), so such a
# job is its own answer. Jobs are frozen; nothing here is ever stale.
_CANONICAL: dict[int, Job] = {}
_CANONICAL_MAX = 32


def _remember(job: Job) -> None:
    if len(_CANONICAL) >= _CANONICAL_MAX:
        _CANONICAL.clear()
    _CANONICAL[id(job)] = job


def with_namespace(job: Job, namespace: str) -> Job:
    """`job` in `namespace` (not empty), still known canonical if `job` was:
    canonicalize reads the namespace only to default an empty one."""
    out = job.replace(namespace=namespace)
    if namespace and _CANONICAL.get(id(job)) is job:
        _remember(out)
    return out


def canonicalize(job: Job) -> Job:
    """Fill Nomad's defaults into a job; canonicalize(canonicalize(j)) == canonicalize(j)."""
    if _CANONICAL.get(id(job)) is job:
        return job
    out = _canonicalize(job)
    _remember(out)
    return out


def _canonicalize(job: Job) -> Job:
    job = job.replace(
        name=job.name or job.id,
        namespace=job.namespace or "default",
        region=job.region or "global",
        type=job.type or "service",
        priority=job.priority or 50,
        datacenters=job.datacenters or ["*"],
        node_pool=job.node_pool or "default",
    )
    if job.periodic is not None:
        job = job.replace(
            periodic=job.periodic.replace(
                spec_type=job.periodic.spec_type or "cron",
                time_zone=job.periodic.time_zone or "UTC",
            )
        )
    if job.parameterized_job is not None and not job.parameterized_job.payload:
        job = job.replace(parameterized_job=job.parameterized_job.replace(payload="optional"))
    groups = [_canonical_group(g, job) for g in job.task_groups]
    update = job.update
    if update is not None:
        # The server keeps only Stagger and MaxParallel at job level (API.md §3.1).
        update = UpdateStrategy(
            stagger=update.stagger or DEFAULT_STAGGER, max_parallel=update.max_parallel
        )
    return job.replace(task_groups=groups, update=update)
