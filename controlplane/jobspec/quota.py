"""Quota specification files (HCL or JSON) and API bodies -> validated QuotaSpec.

Nomad's shape: `name`, `description`, and `limit { region, region_limit {
cpu, cores, memory, memory_max, device "name" { count } }, variables_limit }`
blocks. Every limit gets Nomad's `Hash` (base64 of a blake2b-256 over the
region and the limited amounts), the key of QuotaUsage.Used. Errors name the
file and line. What a limit allows is the scheduler's business, not this
module's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from controlplane.errors import JobSpecError, ValidationError
from controlplane.structs import QuotaLimit, QuotaSpec
from controlplane.structs.job import Resources

from .hcl import LineIndex, block_bodies, line_index, parse_tree, tree_to_body

# Nomad's quota (and namespace) names: letters, digits, `-` and `_`.
_NAME = re.compile(r"^[a-zA-Z0-9-_]{1,128}$")
MAX_DESCRIPTION = 256

_TOP = {"name", "description", "limit"}
_LIMIT = {"region", "region_limit", "variables_limit"}
# HCL attribute -> Resources field
_REGION_LIMIT = {
    "cpu": "cpu",
    "cores": "cores",
    "memory": "memory_mb",
    "memory_max": "memory_max_mb",
}

EXAMPLE_SPEC = """\
name        = "default-quota"
description = "Limit the shared default namespace"

# Create a limit for the global region. Additional limits may
# be specified in-order to limit other regions.
limit {
  region = "global"
  region_limit {
    cores      = 0
    cpu        = 2500
    memory     = 1000
    memory_max = 1000
  }
}
"""


def limit_hash(limit: QuotaLimit) -> str:
    """Nomad's QuotaLimit.Hash: stable over region and limited amounts."""
    rl = limit.region_limit
    h = hashlib.blake2b(digest_size=32)
    h.update(limit.region.encode())
    for value in (rl.cpu, rl.cores, rl.memory_mb, rl.memory_max_mb, limit.variables_limit):
        h.update(int(value).to_bytes(8, "little", signed=True))
    for device in rl.devices or ():
        h.update(json.dumps(device, sort_keys=True).encode())
    return base64.b64encode(h.digest()).decode()


def with_hashes(spec: QuotaSpec) -> QuotaSpec:
    """The spec with every limit's Hash (re)computed."""
    return spec.replace(limits=[lim.replace(hash=limit_hash(lim)) for lim in spec.limits])


def validate_quota(spec: QuotaSpec, filename: str = "", lines: LineIndex | None = None) -> None:
    """Nomad's QuotaSpec.Validate: name, description, one limit per region."""
    lines = lines or {}

    def fail(message: str, *path: str) -> JobSpecError:
        return JobSpecError(message, filename, lines.get(path) if path else None)

    if not _NAME.match(spec.name):
        raise fail(f"invalid name {spec.name!r}", "name")
    if len(spec.description) > MAX_DESCRIPTION:
        raise fail(f"description longer than {MAX_DESCRIPTION}", "description")
    if not spec.limits:
        raise fail("must provide at least one limit")
    seen: set[str] = set()
    for i, lim in enumerate(spec.limits):
        where = f"limit[{i}]"
        if not lim.region:
            raise fail(f"limit {i + 1}: must provide a region", where)
        if lim.region in seen:
            raise fail(f"limit {i + 1}: duplicate limit for region {lim.region!r}", where)
        seen.add(lim.region)


def parse_quota(text: str, filename: str = "<input>") -> QuotaSpec:
    """A quota file (HCL, or JSON as `quota inspect` prints it) -> validated spec."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JobSpecError(f"invalid JSON: {exc.msg}", filename, exc.lineno) from None
        if isinstance(data, dict) and isinstance(data.get("Spec"), dict):
            data = data["Spec"]  # `quota inspect` output
        return quota_from_api(data, filename)
    tree = parse_tree(text, filename)
    body = tree_to_body(tree)
    lines = line_index(tree)
    spec = _from_hcl(body, filename, lines)
    validate_quota(spec, filename, lines)
    return with_hashes(spec)


def _int(value: Any, what: str, filename: str, line: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobSpecError(f"{what} must be an integer, got {value!r}", filename, line)
    return value


def _from_hcl(body: dict[str, Any], filename: str, lines: LineIndex) -> QuotaSpec:
    for key in body:
        if key not in _TOP:
            line = lines.get((key,))
            raise JobSpecError(f'unexpected attribute or block "{key}"', filename, line)
    limits: list[QuotaLimit] = []
    for i, lim in enumerate(block_bodies(body.get("limit"))):
        base = f"limit[{i}]"
        for key in lim:
            if key not in _LIMIT:
                line = lines.get((base, key))
                message = f'unexpected attribute or block "{key}" in limit'
                raise JobSpecError(message, filename, line)
        rl_blocks = block_bodies(lim.get("region_limit"))
        if len(rl_blocks) > 1:
            line = lines.get((base, "region_limit[1]"))
            raise JobSpecError("only one region_limit block is allowed", filename, line)
        resources = Resources()
        if rl_blocks:
            resources = _region_limit(rl_blocks[0], filename, lines, (base, "region_limit[0]"))
        variables = lim.get("variables_limit", 0)
        limits.append(
            QuotaLimit(
                region=str(lim.get("region", "")),
                region_limit=resources,
                variables_limit=_int(
                    variables, "variables_limit", filename, lines.get((base, "variables_limit"))
                ),
            )
        )
    name = body.get("name", "")
    description = body.get("description", "")
    if not isinstance(name, str) or not isinstance(description, str):
        raise JobSpecError("name and description must be strings", filename, lines.get(("name",)))
    return QuotaSpec(name=name, description=description, limits=limits)


def _region_limit(
    body: dict[str, Any], filename: str, lines: LineIndex, path: tuple[str, ...]
) -> Resources:
    fields: dict[str, Any] = {}
    devices: list[dict[str, Any]] = []
    for key, value in body.items():
        line = lines.get((*path, key))
        if key == "device":
            for block in block_bodies(value):
                for label, inner in block.items():
                    count = block_bodies(inner)[0].get("count", 0) if block_bodies(inner) else 0
                    dline = lines.get((*path, f"device:{label}"))
                    devices.append({"Name": label, "Count": _int(count, "count", filename, dline)})
        elif key == "storage":
            # Dynamic host volumes and variables storage are not modelled here.
            continue
        elif key in _REGION_LIMIT:
            fields[_REGION_LIMIT[key]] = _int(value, key, filename, line)
        else:
            raise JobSpecError(
                f'unexpected attribute or block "{key}" in region_limit', filename, line
            )
    return Resources(**fields, devices=devices or None)


# -- API bodies ---------------------------------------------------------------
def _get(data: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """Case-insensitive lookup, as Go's encoding/json matches fields."""
    if key in data:
        return data[key]
    low = key.lower()
    for k, v in data.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return default


def quota_from_api(data: Any, filename: str = "") -> QuotaSpec:
    """A JSON QuotaSpec (Nomad's API shape) -> validated spec with hashes.

    Raises JobSpecError (a ValidationError, 400) naming what is wrong.
    """
    if not isinstance(data, Mapping):
        raise JobSpecError("quota specification must be a JSON object", filename)
    limits_raw = _get(data, "Limits")
    limits_raw = [] if limits_raw is None else limits_raw
    if not isinstance(limits_raw, list):
        raise JobSpecError("Limits must be a list", filename)
    limits: list[QuotaLimit] = []
    for i, raw in enumerate(limits_raw):
        if not isinstance(raw, Mapping):
            raise JobSpecError(f"limit {i + 1}: must be an object", filename)
        rl = _get(raw, "RegionLimit") or {}
        if not isinstance(rl, Mapping):
            raise JobSpecError(f"limit {i + 1}: RegionLimit must be an object", filename)
        fields: dict[str, Any] = {
            field: _int(_get(rl, wire, 0) or 0, f"limit {i + 1}: {wire}", filename, None)
            for wire, field in (
                ("CPU", "cpu"),
                ("Cores", "cores"),
                ("MemoryMB", "memory_mb"),
                ("MemoryMaxMB", "memory_max_mb"),
            )
        }
        devices = _get(rl, "Devices")
        if devices is not None and not (
            isinstance(devices, list) and all(isinstance(d, Mapping) for d in devices)
        ):
            raise JobSpecError(f"limit {i + 1}: Devices must be a list of objects", filename)
        region = _get(raw, "Region", "") or ""
        if not isinstance(region, str):
            raise JobSpecError(f"limit {i + 1}: Region must be a string", filename)
        variables = _get(raw, "VariablesLimit", 0) or 0
        limits.append(
            QuotaLimit(
                region=region,
                region_limit=Resources(**fields, devices=[dict(d) for d in devices or ()] or None),
                variables_limit=_int(variables, f"limit {i + 1}: VariablesLimit", filename, None),
            )
        )
    name = _get(data, "Name", "") or ""
    description = _get(data, "Description", "") or ""
    if not isinstance(name, str) or not isinstance(description, str):
        raise JobSpecError("Name and Description must be strings", filename)
    spec = QuotaSpec(name=name, description=description, limits=limits)
    validate_quota(spec, filename)
    return with_hashes(spec)


def check_name(name: str) -> None:
    """A quota name in a URL path: same rule as the spec's."""
    if not _NAME.match(name):
        raise ValidationError(f"invalid quota name {name!r}")
