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


_EXTRA_BY_LOWER: dict[str, str] = {name.lower(): name for name in _EXTRA_NAMES}


def _loose_keys(value: Any) -> Any:
    """Fix key casing in dicts the structs do not describe (templates, artifacts, ...)."""
    if isinstance(value, list):
        return [_loose_keys(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = _EXTRA_BY_LOWER.get(str(key).lower(), str(key))
        out[name] = item if name in FREE_FORM_KEYS else _loose_keys(item)
    return out


def normalize_keys(data: Any, cls: type = Job) -> Any:
    """Rename keys to the structs' wire names, case-insensitively; drop nulls.

    Free-form maps (Config, Env, Meta, ...) keep their keys and nulls.
    Unknown keys are kept as written.
    """
    if not isinstance(data, dict):
        return data
    fields = _fields(cls)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            continue
        known = fields.get(str(key).lower())
        if known is None:
            name = _EXTRA_BY_LOWER.get(str(key).lower(), str(key))
            out[name] = value if name in FREE_FORM_KEYS else _loose_keys(value)
            continue
        name, tp = known
        kind, inner = _struct_of(tp)
        if name in FREE_FORM_KEYS:
            out[name] = value
        elif kind == "struct" and inner is not None:
            out[name] = normalize_keys(value, inner)
        elif kind == "list" and inner is not None and isinstance(value, list):
            out[name] = [normalize_keys(v, inner) for v in value if v is not None]
        elif kind in ("dict", "list-other"):
            out[name] = _loose_keys(value)
        else:
            out[name] = value
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
    data = normalize_keys(api)
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
