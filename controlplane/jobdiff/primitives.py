"""Diff building blocks: flat field maps, primitive blocks, sets of blocks and
sets of strings, plus Nomad's deterministic ordering of the results.

Conventions (Nomad's): a value that is the empty string counts as absent, so
`"" -> "x"` is Added and `"x" -> ""` Deleted; unchanged fields appear (as
Type None) only in contextual mode; an unchanged block yields no ObjectDiff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import msgspec

from .flatten import Flat
from .structs import DiffType, FieldDiff, ObjectDiff

_TYPE_RANK = {DiffType.EDITED: 0, DiffType.ADDED: 1, DiffType.DELETED: 2, DiffType.NONE: 3}


def field_diff(old: str, new: str, name: str, contextual: bool) -> FieldDiff | None:
    if old == new:
        return FieldDiff(type=DiffType.NONE, name=name, old=old, new=new) if contextual else None
    if old == "":
        return FieldDiff(type=DiffType.ADDED, name=name, new=new)
    if new == "":
        return FieldDiff(type=DiffType.DELETED, name=name, old=old)
    return FieldDiff(type=DiffType.EDITED, name=name, old=old, new=new)


def field_diffs(old: Flat | None, new: Flat | None, contextual: bool) -> list[FieldDiff]:
    """One FieldDiff per key of either map, sorted by name."""
    old, new = old or {}, new or {}
    diffs = []
    for name in old.keys() | new.keys():
        diff = field_diff(old.get(name, ""), new.get(name, ""), name, contextual)
        if diff is not None:
            diffs.append(diff)
    return sort_fields(diffs)


def sort_fields(fields: Iterable[FieldDiff]) -> list[FieldDiff]:
    return sorted(fields, key=lambda f: (f.name, f.old, f.new))


def _object_key(obj: ObjectDiff) -> tuple[Any, ...]:
    # Nomad orders by name, then Edited < Added < Deleted < None, then sizes,
    # then contents; a total key keeps the order deterministic.
    return (
        obj.name,
        _TYPE_RANK[obj.type],
        len(obj.fields),
        len(obj.objects),
        [(f.name, f.old, f.new) for f in sort_fields(obj.fields)],
        [_object_key(o) for o in obj.objects],
    )


def sort_objects(objects: Iterable[ObjectDiff]) -> list[ObjectDiff]:
    return sorted(objects, key=_object_key)


def type_from_fields(fields: Sequence[FieldDiff]) -> DiffType | None:
    """Edited if any field is edited or fields were both added and deleted;
    None (no diff at all) when nothing changed."""
    kinds = {f.type for f in fields}
    if DiffType.EDITED in kinds or {DiffType.ADDED, DiffType.DELETED} <= kinds:
        return DiffType.EDITED
    if DiffType.ADDED in kinds:
        return DiffType.ADDED
    if DiffType.DELETED in kinds:
        return DiffType.DELETED
    return None


def primitive_object_diff(
    old: Flat | None, new: Flat | None, name: str, contextual: bool
) -> ObjectDiff | None:
    """A block diffed on its primitive fields only; None when unchanged."""
    fields = field_diffs(old, new, contextual)
    kind = type_from_fields(fields)
    if kind is None:
        return None
    return ObjectDiff(type=kind, name=name, fields=fields)


def blocks_diff(
    old: object | None,
    new: object | None,
    name: str,
    contextual: bool,
    flatten: Callable[[Any], Flat],
    children: Callable[[Any, Any], list[ObjectDiff]] | None = None,
) -> ObjectDiff | None:
    """A block with nested blocks: typed by presence (Added/Deleted/Edited),
    None when both sides are equal."""
    if old == new:
        return None
    if old is None:
        kind = DiffType.ADDED
    elif new is None:
        kind = DiffType.DELETED
    else:
        kind = DiffType.EDITED
    fields = field_diffs(
        flatten(old) if old is not None else None,
        flatten(new) if new is not None else None,
        contextual,
    )
    objects = children(old, new) if children is not None else []
    return ObjectDiff(type=kind, name=name, fields=fields, objects=objects)


def _identity(obj: object) -> bytes:
    return msgspec.json.encode(obj)


def primitive_object_set_diff(
    old: Sequence[Any] | None,
    new: Sequence[Any] | None,
    name: str,
    contextual: bool,
    flatten: Callable[[Any], Flat],
) -> list[ObjectDiff]:
    """Blocks compared as a set by whole value: a changed block shows as one
    Deleted plus one Added object (constraints, affinities, artifacts)."""
    old_set = {_identity(o): o for o in old or ()}
    new_set = {_identity(n): n for n in new or ()}
    diffs = []
    for key, obj in old_set.items():
        if key not in new_set:
            diff = primitive_object_diff(flatten(obj), None, name, contextual)
            if diff is not None:
                diffs.append(diff)
    for key, obj in new_set.items():
        if key not in old_set:
            diff = primitive_object_diff(None, flatten(obj), name, contextual)
            if diff is not None:
                diffs.append(diff)
    return sort_objects(diffs)


def string_set_diff(
    old: Iterable[str] | None, new: Iterable[str] | None, name: str, contextual: bool
) -> ObjectDiff | None:
    """A set of strings (datacenters, tags): each member is a field named like
    the set. In contextual mode an unchanged set yields a Type None object."""
    old_set, new_set = set(old or ()), set(new or ())
    if old_set == new_set and not contextual:
        return None
    fields = [FieldDiff(type=DiffType.DELETED, name=name, old=v) for v in old_set - new_set]
    fields += [FieldDiff(type=DiffType.ADDED, name=name, new=v) for v in new_set - old_set]
    if contextual:
        fields += [
            FieldDiff(type=DiffType.NONE, name=name, old=v, new=v) for v in old_set & new_set
        ]
    if not fields:
        return None
    kind = type_from_fields(fields) or DiffType.NONE
    return ObjectDiff(type=kind, name=name, fields=sort_fields(fields))


def keyed_diffs(
    old: Iterable[Any] | None,
    new: Iterable[Any] | None,
    key: Callable[[Any], str],
    diff: Callable[[Any | None, Any | None], ObjectDiff | None],
) -> list[ObjectDiff]:
    """Blocks matched by an identifier (port label, check name, device name)."""
    old_map = {key(o): o for o in old or ()}
    new_map = {key(n): n for n in new or ()}
    diffs = [diff(old_map.get(k), new_map.get(k)) for k in old_map.keys() | new_map.keys()]
    return sort_objects(d for d in diffs if d is not None)
