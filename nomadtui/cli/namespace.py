"""`namespace apply|list|status|inspect|delete`, with Nomad's wording and output.

`apply NAME` creates or updates one namespace from flags (an existing one
keeps what the flags do not set); `apply FILE` (or `-` for stdin) reads
Nomad's namespace specification in HCL or JSON. `status` adds the attached
quota's limits against current usage. Talks to /v1/namespace(s) and
/v1/quota[/usage]; never to the control plane's internals.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from controlplane.errors import NomadError, NotFound
from nomadtui.client import one_line

from . import format as fmt
from .context import CommandError, Context, reporting
from .quota import status_rows

_HCL_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
_CAPABILITY_KEYS = {
    "enabled_task_drivers": "EnabledTaskDrivers",
    "disabled_task_drivers": "DisabledTaskDrivers",
    "enabled_network_modes": "EnabledNetworkModes",
    "disabled_network_modes": "DisabledNetworkModes",
}


# -- apply -------------------------------------------------------------------
def run_namespace_apply(ctx: Context) -> int:
    target: str = ctx.args.target
    if target == "-" or os.path.isfile(target):
        spec = _read_spec(ctx, target)
        with reporting("Error applying namespace specification"):
            ctx.client.put(f"/v1/namespace/{spec['Name']}", spec)
        ctx.out(f'Successfully applied namespace specification "{spec["Name"]}"!')
        return 0
    ns: dict[str, Any] = {"Name": target}
    try:
        ns = ctx.client.get(f"/v1/namespace/{target}").data or ns
    except NotFound:
        pass
    except NomadError as err:
        raise CommandError(f"Error looking up namespace: {one_line(str(err))}") from err
    if ctx.args.description is not None:
        ns["Description"] = ctx.args.description
    if ctx.args.quota is not None:
        ns["Quota"] = ctx.args.quota
    with reporting("Error applying namespace"):
        ctx.client.put(f"/v1/namespace/{target}", ns)
    ctx.out(f'Successfully applied namespace "{target}"!')
    return 0


def _read_spec(ctx: Context, path: str) -> dict[str, Any]:
    try:
        text = ctx.runtime.stdin.read() if path == "-" else Path(path).read_text("utf-8")
    except OSError as err:
        raise CommandError(f"Error reading file {path!r}: {err}") from err
    try:
        spec = parse_namespace_spec(text)
    except ValueError as err:
        raise CommandError(f"Error parsing namespace specification: {err}") from err
    if not spec.get("Name"):
        raise CommandError("Error parsing namespace specification: namespace name is required")
    return spec


def parse_namespace_spec(text: str) -> dict[str, Any]:
    """Nomad's namespace specification (HCL or JSON) -> the API's Namespace."""
    if text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(str(err)) from None
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        return data
    try:
        body = hcl2.loads(text, serialization_options=_HCL_OPTIONS)
    except Exception as err:  # python-hcl2 raises lark errors of many kinds
        raise ValueError(one_line(str(err))) from None
    known = {"name", "description", "quota", "meta", "capabilities"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ValueError(f"invalid key: {unknown[0]}")
    spec: dict[str, Any] = {
        "Name": _string(body, "name"),
        "Description": _string(body, "description"),
        "Quota": _string(body, "quota"),
    }
    meta = _block(body, "meta")
    if meta:
        spec["Meta"] = {str(k): str(v) for k, v in meta.items()}
    caps = _block(body, "capabilities")
    if caps:
        spec["Capabilities"] = {
            _CAPABILITY_KEYS[k]: [str(v) for v in values]
            for k, values in caps.items()
            if k in _CAPABILITY_KEYS and isinstance(values, list)
        }
    return spec


def _string(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    return value


def _block(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if isinstance(value, list):
        value = value[0] if value else {}
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a block")
    return value


# -- list / status / inspect / delete -----------------------------------------
def run_namespace_list(ctx: Context) -> int:
    with reporting("Error retrieving namespaces"):
        namespaces: list[dict[str, Any]] = ctx.client.get("/v1/namespaces").data or []
    if getattr(ctx.args, "json", False):
        ctx.out(json.dumps(namespaces, indent=4))
        return 0
    if not namespaces:
        ctx.out("No namespaces found")
        return 0
    ctx.out(_namespace_table(namespaces))
    return 0


def _namespace_table(namespaces: list[dict[str, Any]]) -> str:
    rows: list[list[object]] = [["Name", "Description"]]
    rows += [[ns.get("Name", ""), ns.get("Description", "")] for ns in namespaces]
    return fmt.columnize(rows)


def lookup_namespace(ctx: Context, prefix: str) -> dict[str, Any]:
    """The namespace named `prefix`, or the only one it prefixes (Nomad's getNamespace)."""
    with reporting("Error retrieving namespace"):
        found: list[dict[str, Any]] = (
            ctx.client.get("/v1/namespaces", {"prefix": prefix}).data or []
        )
    exact = [ns for ns in found if ns.get("Name") == prefix]
    if exact:
        return exact[0]
    if not found:
        raise CommandError(
            f'Error retrieving namespace: Namespace "{prefix}" matched no namespaces'
        )
    if len(found) > 1:
        raise CommandError(f"Prefix matched multiple namespaces\n\n{_namespace_table(found)}")
    return found[0]


def run_namespace_status(ctx: Context) -> int:
    ns = lookup_namespace(ctx, ctx.args.name)
    caps = ns.get("Capabilities") or {}
    ctx.out(
        fmt.kv(
            [
                ("Name", ns.get("Name", "")),
                ("Description", ns.get("Description", "")),
                ("Quota", ns.get("Quota", "")),
                ("EnabledDrivers", ",".join(caps.get("EnabledTaskDrivers") or []) or "*"),
                ("DisabledDrivers", ",".join(caps.get("DisabledTaskDrivers") or [])),
            ]
        )
    )
    meta: dict[str, str] = ns.get("Meta") or {}
    if meta:
        ctx.out()
        ctx.title("Metadata")
        ctx.out(fmt.kv(sorted(meta.items())))
    quota = ns.get("Quota")
    if quota:
        with reporting("Error retrieving quota"):
            spec: dict[str, Any] = ctx.client.get(f"/v1/quota/{quota}").data or {}
            usage: dict[str, Any] = ctx.client.get(f"/v1/quota/usage/{quota}").data or {}
        ctx.out()
        ctx.title("Quota Limits")
        ctx.out(fmt.columnize(status_rows(spec, usage)))
    return 0


def run_namespace_inspect(ctx: Context) -> int:
    ns = lookup_namespace(ctx, ctx.args.name)
    with reporting("Error retrieving namespace"):
        full = ctx.client.get(f"/v1/namespace/{ns['Name']}").data
    ctx.out(json.dumps(full, indent=4))
    return 0


def run_namespace_delete(ctx: Context) -> int:
    name: str = ctx.args.name
    with reporting("Error deleting namespace"):
        ctx.client.delete(f"/v1/namespace/{name}")
    ctx.out(f'Successfully deleted namespace "{name}"!')
    return 0
