"""The JobDiff tree returned by job plan and job versions (Nomad's JSON shape).

Old/New values are strings: numbers and booleans stringified, durations in
nanoseconds. Diffs are frozen; the annotator replaces them, never mutates.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from controlplane.structs import Struct


class DiffType(StrEnum):
    ADDED = "Added"
    DELETED = "Deleted"
    EDITED = "Edited"
    NONE = "None"


class FieldDiff(Struct, frozen=True):
    type: DiffType = DiffType.NONE
    name: str = ""
    old: str = ""
    new: str = ""
    annotations: list[str] | None = None


class ObjectDiff(Struct, frozen=True):
    type: DiffType = DiffType.NONE
    name: str = ""
    fields: list[FieldDiff] = msgspec.field(default_factory=list)
    objects: list[ObjectDiff] = msgspec.field(default_factory=list)


class TaskDiff(Struct, frozen=True):
    type: DiffType = DiffType.NONE
    name: str = ""
    fields: list[FieldDiff] = msgspec.field(default_factory=list)
    objects: list[ObjectDiff] = msgspec.field(default_factory=list)
    annotations: list[str] | None = None


class TaskGroupDiff(Struct, frozen=True):
    type: DiffType = DiffType.NONE
    name: str = ""
    fields: list[FieldDiff] = msgspec.field(default_factory=list)
    objects: list[ObjectDiff] = msgspec.field(default_factory=list)
    tasks: list[TaskDiff] = msgspec.field(default_factory=list)
    # update kind ("create", "in-place update", ...) -> count; set by annotate()
    updates: dict[str, int] | None = None


class JobDiff(Struct, frozen=True):
    type: DiffType = DiffType.NONE
    id: str = ""
    fields: list[FieldDiff] = msgspec.field(default_factory=list)
    objects: list[ObjectDiff] = msgspec.field(default_factory=list)
    task_groups: list[TaskGroupDiff] = msgspec.field(default_factory=list)
