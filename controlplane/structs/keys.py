"""Case-insensitive key matching for API request bodies.

Nomad decodes bodies with Go's encoding/json, which matches field names
case-insensitively (`"job"` works like `"Job"`). `normalize_keys` rewrites a
decoded JSON value's keys to the exact wire names of a Struct type,
recursively, so msgspec can then decode it strictly by name. Free-form maps
(`Config`, `Meta`, `Env`) are left untouched.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec.inspect as mi


@lru_cache(maxsize=None)
def _info(typ: Any) -> mi.Type:
    return mi.type_info(typ)


def normalize_keys(data: Any, typ: Any) -> Any:
    return _normalize(data, _info(typ))


_FIELD_MAPS: dict[type, dict[str, tuple[str, mi.Type]]] = {}


def _field_map(info: mi.StructType) -> dict[str, tuple[str, mi.Type]]:
    fields = _FIELD_MAPS.get(info.cls)
    if fields is None:
        fields = {f.encode_name.lower(): (f.encode_name, f.type) for f in info.fields}
        _FIELD_MAPS[info.cls] = fields
    return fields


def _normalize(data: Any, info: mi.Type) -> Any:
    if isinstance(info, mi.UnionType):
        for t in info.types:
            if not isinstance(t, mi.NoneType):
                return _normalize(data, t)
        return data
    if isinstance(info, mi.StructType) and isinstance(data, dict):
        fields = _field_map(info)
        out: dict[str, Any] = {}
        for k, v in data.items():
            match = fields.get(str(k).lower())
            if match is None:
                out[k] = v
            else:
                name, ftype = match
                out[name] = _normalize(v, ftype)
        return out
    if isinstance(info, mi.ListType) and isinstance(data, list):
        return [_normalize(v, info.item_type) for v in data]
    if isinstance(info, mi.DictType) and isinstance(data, dict):
        if isinstance(info.value_type, mi.StructType):
            return {k: _normalize(v, info.value_type) for k, v in data.items()}
    return data
