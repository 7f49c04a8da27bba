"""Annotates a plan's JobDiff with what the scheduler decided: per-group
update counts, count-change hints on `Count`, and per-task hints telling
whether a change forces a destructive or an in-place update.

The task hints are a UI aid only; the scheduler decides with its own rules.
"""

from __future__ import annotations

from collections.abc import Mapping

from controlplane.structs import DesiredUpdates

from .structs import DiffType, FieldDiff, JobDiff, TaskDiff, TaskGroupDiff

FORCES_CREATE = "forces create"
FORCES_DESTROY = "forces destroy"
FORCES_INPLACE = "forces in-place update"
FORCES_DESTRUCTIVE = "forces create/destroy update"

UPDATE_IGNORE = "ignore"
UPDATE_CREATE = "create"
UPDATE_MIGRATE = "migrate"
UPDATE_DESTROY = "destroy"
UPDATE_CANARY = "canary"
UPDATE_INPLACE = "in-place update"
UPDATE_DESTRUCTIVE = "create/destroy update"

# Blocks a running allocation can take without being replaced.
_INPLACE_OBJECTS = frozenset({"Service", "Constraint", "Affinity", "Spread"})
_INPLACE_FIELDS = frozenset({"KillTimeout"})


def update_counts(desired: DesiredUpdates) -> dict[str, int]:
    """The scheduler's counts under their plan names, zero ones left out."""
    counts = {
        UPDATE_IGNORE: desired.ignore,
        UPDATE_CREATE: desired.place,
        UPDATE_MIGRATE: desired.migrate,
        UPDATE_DESTROY: desired.stop,
        UPDATE_CANARY: desired.canary,
        UPDATE_INPLACE: desired.in_place_update,
        UPDATE_DESTRUCTIVE: desired.destructive_update,
    }
    return {kind: n for kind, n in counts.items() if n}


def _count(text: str) -> int:
    try:
        return int(text) if text else 0
    except ValueError:
        return 0


def _annotate_count(field: FieldDiff) -> FieldDiff:
    if field.name != "Count":
        return field
    old, new = _count(field.old), _count(field.new)
    if old == new:
        return field
    note = FORCES_CREATE if new > old else FORCES_DESTROY
    return field.replace(annotations=[*(field.annotations or []), note])


def _is_destructive(task: TaskDiff) -> bool:
    if any(f.type != DiffType.NONE and f.name not in _INPLACE_FIELDS for f in task.fields):
        return True
    for obj in task.objects:
        if obj.type == DiffType.NONE or obj.name in _INPLACE_OBJECTS:
            continue
        if obj.name == "LogConfig":
            # log rotation sizes apply in place; enabling/disabling logging does not
            if any(f.name == "Disabled" and f.type != DiffType.NONE for f in obj.fields):
                return True
            continue
        return True
    return False


def task_annotation(task: TaskDiff, group: TaskGroupDiff) -> str | None:
    if task.type == DiffType.NONE:
        return None
    if group.type == DiffType.ADDED and task.type == DiffType.ADDED:
        return FORCES_CREATE
    if group.type == DiffType.DELETED and task.type == DiffType.DELETED:
        return FORCES_DESTROY
    return FORCES_DESTRUCTIVE if _is_destructive(task) else FORCES_INPLACE


def _annotate_group(group: TaskGroupDiff, desired: DesiredUpdates | None) -> TaskGroupDiff:
    updates = group.updates
    if desired is not None:
        updates = {**(updates or {}), **update_counts(desired)}
    tasks = []
    for task in group.tasks:
        note = task_annotation(task, group)
        if note is not None:
            task = task.replace(annotations=[*(task.annotations or []), note])
        tasks.append(task)
    return group.replace(
        updates=updates,
        fields=[_annotate_count(f) for f in group.fields],
        tasks=tasks,
    )


def annotate(diff: JobDiff, desired: Mapping[str, DesiredUpdates] | None) -> JobDiff:
    """The diff with each group's Updates, Count and task annotations set."""
    desired = desired or {}
    groups = [_annotate_group(g, desired.get(g.name)) for g in diff.task_groups]
    return diff.replace(task_groups=groups)
