"""JSON job files and API-shaped dicts: detection, key casing, decoding into `Job`.

Owns the JSON side of parsing: `{"Job": {...}}` or a bare job object (keys
matched case-insensitively like Go's encoding/json), HCL's JSON syntax
(`{"job": [{"x": ...}]}`, handed back for the HCL mapping), and the lenient
decode of an API dict into the frozen structs.
"""

from __future__ import annotations

import json
import types
import typing
from functools import cache
from typing import Any

import msgspec

from controlplane.errors import JobSpecError
from controlplane.structs import Job, from_builtins

from .limits import check_json_depth, nesting_message
from .schema import FREE_FORM_KEYS

# API names inside dict-typed fields (Templates, Artifacts, ...) that the structs
# do not describe; used only to fix the casing of keys in JSON input.
_EXTRA_NAMES = [
    "SourcePath",
    "DestPath",
    "EmbeddedTmpl",
    "ChangeMode",
    "ChangeSignal",
    "ChangeScript",
    "Splay",
    "Perms",
    "Uid",
    "Gid",
    "LeftDelim",
    "RightDelim",
    "Envvars",
    "VaultGrace",
    "Wait",
    "Min",
    "Max",
    "ErrMissingKey",
    "Once",
    "GetterSource",
    "GetterOptions",
    "GetterHeaders",
    "GetterMode",
    "GetterInsecure",
    "RelativeDest",
    "Chown",
    "Volume",
    "Destination",
    "ReadOnly",
    "PropagationMode",
    "SELinuxLabel",
    "Type",
    "Source",
    "PerAlloc",
    "AccessMode",
    "AttachmentMode",
    "MountOptions",
    "FSType",
    "MountFlags",
    "Sticky",
    "Name",
    "File",
    "Policies",
    "Role",
    "Env",
    "Namespace",
    "Cluster",
    "DisableFile",
    "Count",
    "Constraints",
    "Affinities",
    "Enabled",
    "Policy",
    "Target",
    "Strategy",
    "Regions",
    "OnFailure",
    "Datacenters",
    "NodePool",
    "Meta",
    "Identity",
    "Identities",
    "Connect",
    "Scaling",
    "Disconnect",
    "LostAfter",
    "StopOnClientAfter",
    "Replace",
    "Reconcile",
    "Multiregion",
    "Consul",
    "Vault",
    "Lifecycle",
    "Hook",
    "Sidecar",
]


def _struct_of(tp: Any) -> tuple[str, type | None]:
    """('struct'|'list'|'dict'|'other', struct class) for a field annotation."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                return _struct_of(arg)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return "struct", tp
    if origin is list:
        kind, inner = _struct_of(typing.get_args(tp)[0])
        return ("list", inner) if kind == "struct" else ("list-other", None)
    if origin is dict:
        return "dict", None
    return "other", None


@cache
def _fields(cls: type) -> dict[str, tuple[str, Any]]:
    """lower-cased wire name -> (wire name, annotation)."""
    return {f.encode_name.lower(): (f.encode_name, f.type) for f in msgspec.structs.fields(cls)}


# what normalize_keys does with a known field's value
_AS_IS, _STRUCT, _LIST, _LOOSE = range(4)


@cache
def _plan(cls: type) -> dict[str, tuple[str, int, Any]]:
    """lower-cased wire name -> (wire name, action, struct class): `_fields`
    with each annotation classified once rather than for every key seen."""
    plan: dict[str, tuple[str, int, Any]] = {}
    for low, (name, tp) in _fields(cls).items():
        kind, inner = _struct_of(tp)
        if name in FREE_FORM_KEYS:
            action = _AS_IS
        elif kind == "struct" and inner is not None:
            action = _STRUCT
        elif kind == "list" and inner is not None:
            action = _LIST
        elif kind in ("dict", "list-other"):
            action = _LOOSE
        else:
            action = _AS_IS
        plan[low] = (name, action, inner)
    return plan


_EXTRA_BY_LOWER: dict[str, str] = {name.lower(): name for name in _EXTRA_NAMES}

# id(output) -> (output, class it was normalised for, or _LOOSE_TAG): what
# calls sharing a memo already produced. normalize_keys is idempotent (its
# output's keys are their own wire names, its nulls are gone), so such an
# output met again in the same place is returned as it is, not walked again.
Memo = dict[int, tuple[Any, Any]]
_LOOSE_TAG = object()


def _loose_keys(value: Any, memo: Memo | None = None) -> Any:
    """Fix key casing in dicts the structs do not describe (templates, artifacts, ...)."""
    if isinstance(value, list):
        if memo is not None:
            seen = memo.get(id(value))
            if seen is not None and seen[0] is value and seen[1] is _LOOSE_TAG:
                return value
            items = [_loose_keys(v, memo) for v in value]
            memo[id(items)] = (items, _LOOSE_TAG)
            return items
        return [_loose_keys(v) for v in value]
    if not isinstance(value, dict):
        return value
    if memo is not None:
        seen = memo.get(id(value))
        if seen is not None and seen[0] is value and seen[1] is _LOOSE_TAG:
            return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = _EXTRA_BY_LOWER.get(str(key).lower(), str(key))
        out[name] = item if name in FREE_FORM_KEYS else _loose_keys(item, memo)
    if memo is not None:
        memo[id(out)] = (out, _LOOSE_TAG)
    return out


def normalize_keys(data: Any, cls: type = Job, memo: Memo | None = None) -> Any:
    """Rename keys to the structs' wire names, case-insensitively; drop nulls.

    Free-form maps (Config, Env, Meta, ...) keep their keys and nulls.
    Unknown keys are kept as written. Calls sharing a `memo` do not walk
    again what an earlier one produced (normalising twice: see Memo).
    """
    if not isinstance(data, dict):
        return data
    if memo is not None:
        seen = memo.get(id(data))
        if seen is not None and seen[0] is data and seen[1] is cls:
            return data
    plan = _plan(cls)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        text = key if type(key) is str else str(key)
        low = text.lower()
        known = plan.get(low)
        if known is None:
            name = _EXTRA_BY_LOWER.get(low, text)
            out[name] = value if name in FREE_FORM_KEYS else _loose_keys(value, memo)
            continue
        name, action, inner = known
        if action == _AS_IS:
            out[name] = value
        elif action == _STRUCT:
            out[name] = normalize_keys(value, inner, memo)
        elif action == _LIST:
            if isinstance(value, list):
                out[name] = [normalize_keys(v, inner, memo) for v in value if v is not None]
            else:
                out[name] = value
        else:
            out[name] = _loose_keys(value, memo)
    if memo is not None:
        memo[id(out)] = (out, cls)
    return out


def looks_like_json(text: str) -> bool:
    return text.lstrip().startswith("{")


def load_json(text: str, filename: str) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise JobSpecError(
            f"invalid JSON: {err.msg} (column {err.colno})", filename, err.lineno
        ) from None
    except RecursionError:
        raise JobSpecError(nesting_message("job"), filename) from None
    check_json_depth(data, filename)
    return data


def _is_hcl_json(data: dict[str, Any]) -> bool:
    """HCL JSON syntax nests the job under its label: `{"job": {"x": {...}}}` or a list."""
    if set(data) - {"job", "variable", "locals"}:
        return False
    job = data.get("job")
    if isinstance(job, list):
        return True
    if isinstance(job, dict) and len(job) == 1:
        ((label, body),) = job.items()
        return isinstance(body, (dict, list)) and label.lower() not in _fields(Job)
    return False


def split_json(data: Any, filename: str) -> tuple[str, dict[str, Any]]:
    """Classify decoded JSON: ('hcl', body) for HCL JSON syntax, ('api', job dict) otherwise."""
    if not isinstance(data, dict):
        raise JobSpecError("a JSON job file must hold an object", filename, 1)
    if _is_hcl_json(data):
        return "hcl", data
    for key, value in data.items():
        if key.lower() == "job" and isinstance(value, dict):
            return "api", value
    return "api", data


def decode_job(
    api: dict[str, Any], filename: str = "", lines: dict[tuple[str, ...], int] | None = None
) -> Job:
    """API-shaped dict (any key casing) -> Job struct, with a readable error on bad types.

    On a type error the message names the group/task, and `lines` (an HCL
    line index relative to the job) locates the enclosing block.
    """
    return decode_normalized(normalize_keys(api), filename, lines)


def decode_normalized(
    data: dict[str, Any], filename: str = "", lines: dict[tuple[str, ...], int] | None = None
) -> Job:
    """`decode_job` of a dict normalize_keys already produced."""
    try:
        return from_builtins(data, Job)
    except msgspec.ValidationError as err:
        text, block = _describe_path(str(err), data)
        line = None
        if lines:
            while block and block not in lines:
                block = block[:-1]
            line = lines.get(block)
        raise JobSpecError(f"invalid job: {text}", filename, line) from None


def _describe_path(message: str, data: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """Turn `X - at $.TaskGroups[0].Count` into (`group "cache" Count: X`, block path)."""
    if " - at `$." not in message:
        return message, ()
    reason, where = message.split(" - at `$.", 1)
    where = where.rstrip("`")
    parts: list[str] = []
    block: list[str] = []
    node: Any = data
    for seg in where.replace("[", ".[").split("."):
        if not seg:
            continue
        if seg.startswith("[") and isinstance(node, list):
            idx = int(seg.strip("[]"))
            node = node[idx] if idx < len(node) else {}
            name = node.get("Name") if isinstance(node, dict) else None
            if name and parts and parts[-1] in ("TaskGroups", "Tasks"):
                kind = "group" if parts[-1] == "TaskGroups" else "task"
                parts[-1] = f'{kind} "{name}"'
                block.append(f"{kind}:{name}")
            else:
                parts[-1] = f"{parts[-1]}{seg}" if parts else seg
        else:
            parts.append(seg)
            node = node.get(seg) if isinstance(node, dict) else None
    return f"{' '.join(parts)}: {reason}", tuple(block)
