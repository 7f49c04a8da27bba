"""Flattening of job blocks into `name -> string` maps, as Nomad's flatmap does.

Two modes. *Primitive* flattening keeps a block's own scalar fields and its
string maps (`Meta[foo]`) and skips nested blocks, lists and optional
(pointer) fields: those are diffed as objects of their own. *Deep*
flattening walks free-form values such as a task's `Config` into
`port_map[0][db]` keys. Values are stringified as Go's `%v` would.
"""

from __future__ import annotations

import math
import types
import typing
from decimal import Decimal
from functools import cache
from typing import Any

import msgspec

from controlplane.structs import Struct

Flat = dict[str, str]

_SCALARS = (bool, int, float, str)


def go_value(value: object) -> str:
    """A scalar as Go's `fmt.Sprintf("%v")` prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def _go_float(value: float) -> str:
    """Shortest digits, as `%v` (strconv 'g', -1): exponent form below 1e-4 and from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exp = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exp  # position of the decimal point within digits
    x = point - 1
    prefix = "-" if sign else ""
    if x < -4 or x >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


# -- primitive flattening -------------------------------------------------------

_SCALAR_FIELD = "scalar"
_STRING_MAP_FIELD = "map"


def _field_kind(tp: Any) -> str | None:
    if tp in _SCALARS:
        return _SCALAR_FIELD
    args = typing.get_args(tp)
    # `X | None` fields are Go pointers: flatmap skips them, like nested blocks.
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        maps = [a for a in args if a is not type(None)]
        if len(maps) == 1 and typing.get_origin(maps[0]) is dict:
            return _field_kind(maps[0])
        return None
    if typing.get_origin(tp) is dict and len(args) == 2 and args[1] in _SCALARS:
        return _STRING_MAP_FIELD
    return None


@cache
def _plan(cls: type[Struct]) -> tuple[tuple[str, str, str], ...]:
    """(attribute, Nomad name, kind) of the fields primitive flattening keeps."""
    plan = []
    for info in msgspec.structs.fields(cls):
        kind = _field_kind(info.type)
        if kind is not None:
            plan.append((info.name, info.encode_name, kind))
    return tuple(plan)


def flatten_struct(obj: Struct | None, skip: frozenset[str] = frozenset()) -> Flat:
    """Primitive fields of a block, keyed by Nomad name; `skip` lists Nomad names."""
    if obj is None:
        return {}
    flat: Flat = {}
    for attr, name, kind in _plan(type(obj)):
        if name in skip:
            continue
        value = getattr(obj, attr)
        if kind == _SCALAR_FIELD:
            flat[name] = go_value(value)
        elif value:
            for key, item in value.items():
                flat[f"{name}[{key}]"] = go_value(item)
    return flat


def flatten_mapping(obj: dict[str, Any] | None, skip: frozenset[str] = frozenset()) -> Flat:
    """Primitive flattening of a block held as API-shaped JSON (artifacts,
    templates, vault, volumes...): scalars and maps of scalars only."""
    if not obj:
        return {}
    flat: Flat = {}
    for name, value in obj.items():
        if name in skip or value is None:
            continue
        if isinstance(value, _SCALARS):
            flat[name] = go_value(value)
        elif isinstance(value, dict) and all(isinstance(v, _SCALARS) for v in value.values()):
            for key, item in value.items():
                flat[f"{name}[{key}]"] = go_value(item)
    return flat


def flatten_block(obj: Struct | dict[str, Any] | None, skip: frozenset[str] = frozenset()) -> Flat:
    if isinstance(obj, dict):
        return flatten_mapping(obj, skip)
    return flatten_struct(obj, skip)


# -- deep flattening ------------------------------------------------------------


def flatten_deep(value: Any) -> Flat:
    """Every leaf of a free-form value: `key`, `key[0]`, `key[0][sub]`."""
    flat: Flat = {}
    _deep("", value, flat)
    return flat


def _deep(prefix: str, value: Any, flat: Flat) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _deep(f"{prefix}[{key}]" if prefix else str(key), item, flat)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _deep(f"{prefix}[{i}]", item, flat)
    elif value is None:
        flat[prefix] = "nil"
    elif isinstance(value, Struct):
        _deep(prefix, msgspec.to_builtins(value), flat)
    else:
        flat[prefix] = go_value(value)
