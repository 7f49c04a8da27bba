"""Structural diff of two job versions (Nomad's `Job.Diff`), for job plan and
`/v1/job/:id/versions?diffs=true`. Pure: never looks at allocations or the
scheduler; `annotate` adds what the scheduler decided.

Groups and tasks are matched by name. Job, group and task fields list only
changes; inside blocks, `contextual` also lists unchanged fields (Type None)
so a changed `Config` shows its other keys for context.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from controlplane.structs import Job, ParameterizedJobConfig, Struct, Task, TaskGroup

from .blocks import (
    artifact_diffs,
    config_diff,
    network_diffs,
    resources_diff,
    service_diffs,
    spread_diffs,
    template_diffs,
    vault_diff,
    volume_diffs,
    volume_mount_diffs,
)
from .flatten import Flat, flatten_mapping, flatten_struct
from .primitives import (
    blocks_diff,
    field_diffs,
    primitive_object_diff,
    primitive_object_set_diff,
    string_set_diff,
)
from .structs import DiffType, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff

# Fields that change on every register (or are secrets) and so never show.
JOB_IGNORED_FIELDS = frozenset(
    {
        "ID",
        "Status",
        "StatusDescription",
        "Version",
        "Stable",
        "CreateIndex",
        "ModifyIndex",
        "JobModifyIndex",
        "Update",
        "SubmitTime",
        "NomadTokenID",
        "VaultToken",
    }
)
_GROUP_SKIP = frozenset({"Name"})
_TASK_SKIP = frozenset({"Name", "Config"})
_UPDATE_SKIP = frozenset({"Stagger"})
# A missing side diffs as an empty one: its blocks all come out Added/Deleted.
_EMPTY_JOB = Job()
_EMPTY_GROUP = TaskGroup()
_EMPTY_TASK = Task()


def _presence(old: object | None, new: object | None) -> DiffType:
    if old is None:
        return DiffType.ADDED
    if new is None:
        return DiffType.DELETED
    return DiffType.EDITED if old != new else DiffType.NONE


def _add(objects: list[ObjectDiff], diff: ObjectDiff | None) -> None:
    if diff is not None:
        objects.append(diff)


def _placement_objects(
    old: Job | TaskGroup | Task, new: Job | TaskGroup | Task, contextual: bool
) -> list[ObjectDiff]:
    """Constraint and Affinity sets, common to jobs, groups and tasks."""
    objects = primitive_object_set_diff(
        old.constraints, new.constraints, "Constraint", contextual, flatten_struct
    )
    objects += primitive_object_set_diff(
        old.affinities, new.affinities, "Affinity", contextual, flatten_struct
    )
    return objects


def _struct_block(
    old: Struct | None,
    new: Struct | None,
    name: str,
    contextual: bool,
    skip: frozenset[str] = frozenset(),
) -> ObjectDiff | None:
    """A block without nested blocks; None when unchanged."""
    return primitive_object_diff(
        flatten_struct(old, skip) if old is not None else None,
        flatten_struct(new, skip) if new is not None else None,
        name,
        contextual,
    )


# -- tasks ------------------------------------------------------------------------


def task_diff(old: Task | None, new: Task | None, contextual: bool) -> TaskDiff:
    kind = _presence(old, new)
    fields = field_diffs(flatten_struct(old, _TASK_SKIP), flatten_struct(new, _TASK_SKIP), False)
    o, n = old or _EMPTY_TASK, new or _EMPTY_TASK
    objects = _placement_objects(o, n, contextual)
    _add(objects, config_diff(o.config, n.config, contextual))
    _add(objects, resources_diff(o.resources, n.resources, contextual))
    _add(objects, _struct_block(o.log_config, n.log_config, "LogConfig", contextual))
    _add(
        objects,
        primitive_object_diff(
            flatten_mapping(o.dispatch_payload),
            flatten_mapping(n.dispatch_payload),
            "DispatchPayload",
            contextual,
        ),
    )
    objects += artifact_diffs(o.artifacts, n.artifacts, contextual)
    objects += service_diffs(o.services, n.services, contextual)
    _add(objects, vault_diff(o.vault, n.vault, contextual))
    objects += template_diffs(o.templates, n.templates, contextual)
    objects += volume_mount_diffs(o.volume_mounts, n.volume_mounts, contextual)
    return TaskDiff(type=kind, name=n.name or o.name, fields=fields, objects=objects)


def task_diffs(old: Sequence[Task], new: Sequence[Task], contextual: bool) -> list[TaskDiff]:
    old_map = {t.name: t for t in old}
    new_map = {t.name: t for t in new}
    names = sorted(old_map.keys() | new_map.keys())
    return [task_diff(old_map.get(n), new_map.get(n), contextual) for n in names]


# -- groups -----------------------------------------------------------------------


def _pointer_fields(group: TaskGroup) -> Flat:
    # Optional durations are pointers in Nomad, which flattening skips; the
    # group diff lists them explicitly ("" when unset).
    def text(value: int | None) -> str:
        return "" if value is None else str(value)

    return {
        "ShutdownDelay": text(group.shutdown_delay),
        "MaxClientDisconnect": text(group.max_client_disconnect),
    }


def group_diff(old: TaskGroup | None, new: TaskGroup | None, contextual: bool) -> TaskGroupDiff:
    kind = _presence(old, new)
    old_flat, new_flat = flatten_struct(old, _GROUP_SKIP), flatten_struct(new, _GROUP_SKIP)
    if old is not None and new is not None:
        old_flat |= _pointer_fields(old)
        new_flat |= _pointer_fields(new)
    fields = field_diffs(old_flat, new_flat, False)

    o, n = old or _EMPTY_GROUP, new or _EMPTY_GROUP
    objects = _placement_objects(o, n, contextual)
    objects += spread_diffs(o.spreads, n.spreads, contextual)
    _add(objects, _struct_block(o.restart_policy, n.restart_policy, "RestartPolicy", contextual))
    _add(
        objects,
        _struct_block(o.reschedule_policy, n.reschedule_policy, "ReschedulePolicy", contextual),
    )
    _add(objects, _struct_block(o.ephemeral_disk, n.ephemeral_disk, "EphemeralDisk", contextual))
    _add(objects, _struct_block(o.update, n.update, "Update", contextual, _UPDATE_SKIP))
    _add(objects, _struct_block(o.migrate, n.migrate, "Migrate", contextual))
    objects += network_diffs(o.networks, n.networks, contextual)
    objects += service_diffs(o.services, n.services, contextual)
    objects += volume_diffs(o.volumes, n.volumes, contextual)

    tasks = task_diffs(o.tasks, n.tasks, contextual)
    return TaskGroupDiff(
        type=kind, name=n.name or o.name, fields=fields, objects=objects, tasks=tasks
    )


def group_diffs(
    old: Sequence[TaskGroup], new: Sequence[TaskGroup], contextual: bool
) -> list[TaskGroupDiff]:
    old_map = {g.name: g for g in old}
    new_map = {g.name: g for g in new}
    names = sorted(old_map.keys() | new_map.keys())
    return [group_diff(old_map.get(n), new_map.get(n), contextual) for n in names]


# -- jobs -------------------------------------------------------------------------


def _meta_sets(
    old: ParameterizedJobConfig | None, new: ParameterizedJobConfig | None, contextual: bool
) -> list[ObjectDiff]:
    objects: list[ObjectDiff] = []
    for label, attr in (("MetaOptional", "meta_optional"), ("MetaRequired", "meta_required")):
        _add(
            objects,
            string_set_diff(getattr(old, attr, None), getattr(new, attr, None), label, contextual),
        )
    return objects


def _job_objects(old: Job, new: Job, contextual: bool) -> list[ObjectDiff]:
    objects: list[ObjectDiff] = []
    datacenters = string_set_diff(old.datacenters, new.datacenters, "Datacenters", contextual)
    if datacenters is not None and datacenters.type != DiffType.NONE:
        objects.append(datacenters)
    objects += _placement_objects(old, new, contextual)
    objects += spread_diffs(old.spreads, new.spreads, contextual)
    _add(objects, _struct_block(old.periodic, new.periodic, "Periodic", contextual))
    _add(
        objects,
        blocks_diff(
            old.parameterized_job,
            new.parameterized_job,
            "ParameterizedJob",
            contextual,
            flatten_struct,
            lambda o, n: _meta_sets(o, n, contextual),
        ),
    )
    return objects


def job_diff(old: Job | None, new: Job, contextual: bool = False) -> JobDiff:
    """What registering `new` over `old` (None: a new job) changes."""
    if old is not None and old.id != new.id:
        raise ValueError(f'can not diff jobs with different IDs: "{old.id}" and "{new.id}"')
    fields = field_diffs(
        flatten_struct(old, JOB_IGNORED_FIELDS), flatten_struct(new, JOB_IGNORED_FIELDS), False
    )
    objects = _job_objects(old or _EMPTY_JOB, new, contextual)
    groups = group_diffs(old.task_groups if old else (), new.task_groups, contextual)
    if old is None:
        kind = DiffType.ADDED
    elif (
        any(f.type != DiffType.NONE for f in fields)
        or any(o.type != DiffType.NONE for o in objects)
        or any(g.type != DiffType.NONE for g in groups)
    ):
        kind = DiffType.EDITED
    else:
        kind = DiffType.NONE
    return JobDiff(type=kind, id=new.id, fields=fields, objects=objects, task_groups=groups)


def diff_versions(versions: Sequence[Job]) -> list[JobDiff]:
    """Each version against the one before it, newest first (contextual, as
    `/v1/job/:id/versions?diffs=true`): n versions give n-1 diffs."""
    ordered = sorted(versions, key=lambda j: j.version, reverse=True)
    return [
        job_diff(previous, current, contextual=True)
        for current, previous in itertools.pairwise(ordered)
    ]
