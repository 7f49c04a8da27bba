"""`quota apply|list|status|inspect|delete|init`: Nomad Enterprise's quota commands.

Spec files are parsed locally (HCL or JSON, like job files) so errors name
the file and line before anything is sent; the server validates again.
Output follows Nomad's: `status` shows each region's usage against its limit
("500 / 2500"; a 0 limit is `inf`, a negative one `0`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from controlplane.errors import JobSpecError

from . import format as fmt
from .context import CommandError, Context, reporting

DEFAULT_INIT_FILE = "spec.hcl"
DEFAULT_INIT_JSON = "spec.json"

# (column, RegionLimit field) in Nomad's `quota status` order
_COLUMNS = (
    ("CPU Usage", "CPU"),
    ("Core Usage", "Cores"),
    ("Memory Usage", "MemoryMB"),
    ("Memory Max Usage", "MemoryMaxMB"),
)


def run_quota_apply(ctx: Context) -> int:
    from controlplane.jobspec.quota import parse_quota  # local parsing, as job files

    path: str = ctx.args.file
    text = ctx.read_input(path, f"Error reading file {path!r}")
    try:
        spec = parse_quota(text, "<stdin>" if path == "-" else path)
    except JobSpecError as err:
        raise CommandError(f"Error parsing quota specification: {err}") from err
    from controlplane.structs import to_builtins

    with reporting("Error applying quota specification"):
        ctx.client.put("/v1/quota", to_builtins(spec))
    ctx.out(f'Successfully applied quota specification "{spec.name}"!')
    return 0


def run_quota_list(ctx: Context) -> int:
    params = {"prefix": ctx.args.prefix} if getattr(ctx.args, "prefix", "") else None
    with reporting("Error retrieving quotas"):
        quotas: list[dict[str, Any]] = ctx.client.get("/v1/quotas", params).data or []
    if ctx.args.json:
        ctx.out(json.dumps(quotas, indent=4))
        return 0
    if not quotas:
        ctx.out("No quotas found")
        return 0
    rows = [["Name", "Description"]]
    rows += [[q.get("Name", ""), q.get("Description", "")] for q in quotas]
    ctx.out(fmt.columnize(rows))
    return 0


def _spec(ctx: Context, name: str) -> dict[str, Any]:
    with reporting("Error retrieving quota"):
        spec: dict[str, Any] = ctx.client.get(f"/v1/quota/{name}").data
    return spec


def _usage(ctx: Context, name: str) -> dict[str, Any]:
    with reporting("Error retrieving quota usage"):
        usage: dict[str, Any] = ctx.client.get(f"/v1/quota/usage/{name}").data
    return usage


def limit_text(value: int) -> str:
    """Nomad's formatting of a limit: 0 is unlimited, negative forbids."""
    if value < 0:
        return "0"
    if value == 0:
        return "inf"
    return str(value)


def status_rows(spec: dict[str, Any], usage: dict[str, Any]) -> list[list[str]]:
    """`Region  CPU Usage ...` rows: used / limit per limited region."""
    used_by_hash = usage.get("Used") or {}
    rows = [["Region", *(c for c, _ in _COLUMNS)]]
    for limit in spec.get("Limits") or []:
        region_limit = limit.get("RegionLimit") or {}
        used = (used_by_hash.get(limit.get("Hash", "")) or {}).get("RegionLimit") or {}
        cells = [
            f"{used.get(field, 0) or 0} / {limit_text(region_limit.get(field, 0) or 0)}"
            for _, field in _COLUMNS
        ]
        rows.append([limit.get("Region", ""), *cells])
    return rows


def run_quota_status(ctx: Context) -> int:
    name: str = ctx.args.name
    spec = _spec(ctx, name)
    usage = _usage(ctx, name)
    if ctx.args.json:
        ctx.out(json.dumps(spec, indent=4))
        return 0
    limits = spec.get("Limits") or []
    ctx.out(
        fmt.kv(
            [
                ("Name", spec.get("Name", "")),
                ("Description", spec.get("Description", "")),
                ("Limits", len(limits)),
            ]
        )
    )
    ctx.out()
    ctx.out("Quota Limits")
    ctx.out(fmt.columnize(status_rows(spec, usage)))
    return 0


def run_quota_inspect(ctx: Context) -> int:
    name: str = ctx.args.name
    spec = _spec(ctx, name)
    usage = _usage(ctx, name)
    used = usage.get("Used") or {}
    # Nomad keys usages by region: the server reports its own region's limit
    usages = {
        lim.get("Region", ""): usage
        for lim in spec.get("Limits") or []
        if lim.get("Hash", "") in used
    }
    ctx.out(json.dumps({"Spec": spec, "UsageLookupErrors": {}, "Usages": usages}, indent=4))
    return 0


def run_quota_delete(ctx: Context) -> int:
    name: str = ctx.args.name
    with reporting("Error deleting quota"):
        ctx.client.delete(f"/v1/quota/{name}")
    ctx.out(f'Successfully deleted quota "{name}"!')
    return 0


def run_quota_init(ctx: Context) -> int:
    from controlplane.jobspec.quota import EXAMPLE_SPEC, parse_quota

    as_json = bool(ctx.args.json)
    path = DEFAULT_INIT_JSON if as_json else DEFAULT_INIT_FILE
    if os.path.exists(path):
        raise CommandError(f"Quota specification '{path}' already exists")
    content = EXAMPLE_SPEC
    if as_json:
        from controlplane.structs import to_builtins

        data = to_builtins(parse_quota(EXAMPLE_SPEC, path))
        for key in ("CreateIndex", "ModifyIndex"):
            data.pop(key, None)
        content = json.dumps(data, indent=4) + "\n"
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(content)
    except OSError as err:
        raise CommandError(f"Failed to write '{path}': {err.strerror or err}") from err
    ctx.out(f"Example quota specification written to {path}")
    return 0
