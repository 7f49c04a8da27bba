"""Update classification: does a job change need new allocations?

`tasks_updated` mirrors Nomad's tasksUpdated: anything that changes what runs
(driver, config, env, resources, ports, artifacts, templates, meta...) is
destructive; scheduling-only changes (count, constraints, services, update or
restart strategies, kill_timeout, log rotation) are applied in place.
"""

from __future__ import annotations

from typing import Any

from controlplane.structs import Job, Task, TaskGroup, to_builtins


def _same(a: Any, b: Any) -> bool:
    # Compare plain data so None, empty containers and structs compare by value.
    return bool(to_builtins(a) == to_builtins(b)) if (a or b) else True


def _combined_meta(job: Job, tg: TaskGroup, task: Task) -> dict[str, str]:
    # Meta cascades into the task's environment (NOMAD_META_*), so any level counts.
    return {**(job.meta or {}), **(tg.meta or {}), **(task.meta or {})}


def _resources_changed(old: Task, new: Task) -> bool:
    a, b = old.resources, new.resources
    if a is None or b is None:
        return (a is None) != (b is None)
    return (
        a.cpu != b.cpu
        or a.cores != b.cores
        or a.memory_mb != b.memory_mb
        or a.memory_max_mb != b.memory_max_mb
        or not _same(a.networks, b.networks)
        or not _same(a.devices, b.devices)
    )


def _task_changed(
    old_job: Job, old_tg: TaskGroup, old: Task, job: Job, tg: TaskGroup, new: Task
) -> bool:
    if (
        old.driver != new.driver
        or old.user != new.user
        or not _same(old.config, new.config)
        or not _same(old.env, new.env)
        or not _same(old.artifacts, new.artifacts)
        or not _same(old.templates, new.templates)
        or not _same(old.vault, new.vault)
        or not _same(old.volume_mounts, new.volume_mounts)
        or not _same(old.dispatch_payload, new.dispatch_payload)
        or not _same(old.lifecycle, new.lifecycle)
    ):
        return True
    if _combined_meta(old_job, old_tg, old) != _combined_meta(job, tg, new):
        return True
    old_logs_off = old.log_config.disabled if old.log_config else False
    new_logs_off = new.log_config.disabled if new.log_config else False
    return old_logs_off != new_logs_off or _resources_changed(old, new)


def tasks_updated(old_job: Job, old_tg: TaskGroup, job: Job, tg: TaskGroup) -> bool:
    """True when allocs of `old_tg` must be replaced to run `tg` (destructive)."""
    if len(old_tg.tasks) != len(tg.tasks):
        return True
    if not _same(old_tg.ephemeral_disk, tg.ephemeral_disk):
        return True
    if not _same(old_tg.networks, tg.networks) or not _same(old_tg.volumes, tg.volumes):
        return True
    old_render = old_tg.restart_policy.render_templates if old_tg.restart_policy else False
    new_render = tg.restart_policy.render_templates if tg.restart_policy else False
    if old_render != new_render:
        return True
    old_tasks = {t.name: t for t in old_tg.tasks}
    for task in tg.tasks:
        old = old_tasks.get(task.name)
        if old is None or _task_changed(old_job, old_tg, old, job, tg, task):
            return True
    return False
