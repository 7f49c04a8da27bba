"""`service list`, `service info` and `service delete`: the native service catalog.

Output follows Nomad's commands; `info` adds a `Health` column (and verbose
`Health` / `Checks` lines) from our catalog's check status. No writes other
than `delete`, which removes one registration.
"""

from __future__ import annotations

import json
from typing import Any

from . import format as fmt
from .context import CommandError, Context, reporting

NO_CHECKS = "(no checks)"


def _json(ctx: Context, data: Any) -> None:
    ctx.out(json.dumps(data, indent=4))


def _tags(tags: list[str] | None) -> str:
    return f"[{','.join(tags or [])}]"


def _list_rows(ctx: Context, listing: list[dict[str, Any]]) -> list[list[str]]:
    all_ns = getattr(ctx.args, "namespace", None) == "*"
    header = ["Service Name", *(["Namespace"] if all_ns else []), "Tags"]
    rows = [header]
    for entry in sorted(listing, key=lambda e: e.get("Namespace", "")):
        services = entry.get("Services") or []
        for svc in sorted(services, key=lambda s: s.get("ServiceName", "")):
            ns = [entry.get("Namespace", "")] if all_ns else []
            rows.append([svc.get("ServiceName", ""), *ns, _tags(sorted(svc.get("Tags") or []))])
    return rows


def run_service_list(ctx: Context) -> int:
    with reporting("Error listing service registrations"):
        listing: list[dict[str, Any]] = ctx.client.services().data or []
    if not any(e.get("Services") for e in listing):
        ctx.out("No service registrations found")
        return 0
    if ctx.args.json:
        _json(ctx, listing)
        return 0
    ctx.out(fmt.columnize(_list_rows(ctx, listing)))
    return 0


def _resolve(ctx: Context, prefix: str) -> str:
    """The one service name `prefix` starts (an exact name always wins)."""
    with reporting("Error listing service registrations"):
        listing: list[dict[str, Any]] = ctx.client.services().data or []
    names = {
        s.get("ServiceName", "")
        for e in listing
        for s in e.get("Services") or []
        if s.get("ServiceName", "").startswith(prefix)
    }
    if prefix in names or not names:
        # an unknown name still reads as "no registrations", as Nomad's API does
        return prefix
    if len(names) > 1:
        matching = [
            {**e, "Services": [s for s in e.get("Services") or [] if s["ServiceName"] in names]}
            for e in listing
        ]
        table = fmt.columnize(_list_rows(ctx, matching))
        raise CommandError(f"Prefix matched multiple services\n\n{table}")
    return names.pop()


def _address(reg: dict[str, Any]) -> str:
    address, port = reg.get("Address", ""), reg.get("Port", 0)
    if not port:
        return str(address)
    host = f"[{address}]" if ":" in address else address
    return f"{host}:{port}"


def _health(reg: dict[str, Any]) -> str:
    return reg.get("Health") or NO_CHECKS


def run_service_info(ctx: Context) -> int:
    name = _resolve(ctx, ctx.args.service)
    with reporting("Error listing service registrations"):
        regs: list[dict[str, Any]] = ctx.client.service(name).data or []
    if not regs:
        ctx.out("No service registrations found")
        return 0
    if ctx.args.json:
        _json(ctx, regs)
        return 0
    # several jobs may register one name: group by job ID, as Nomad does
    regs = sorted(regs, key=lambda r: r.get("JobID", ""))
    if ctx.verbose:
        for reg in regs:
            ctx.out(fmt.kv(_verbose_pairs(reg)))
            ctx.out()
        return 0
    rows = [["Job ID", "Address", "Tags", "Node ID", "Alloc ID", "Health"]]
    for reg in regs:
        rows.append(
            [
                reg.get("JobID", ""),
                _address(reg),
                _tags(reg.get("Tags")),
                fmt.short_id(reg.get("NodeID", "")),
                fmt.short_id(reg.get("AllocID", "")),
                _health(reg),
            ]
        )
    ctx.out(fmt.columnize(rows))
    return 0


def _verbose_pairs(reg: dict[str, Any]) -> list[tuple[str, object]]:
    checks = reg.get("Checks") or []
    pairs: list[tuple[str, object]] = [
        ("ID", reg.get("ID", "")),
        ("Service Name", reg.get("ServiceName", "")),
        ("Namespace", reg.get("Namespace", "")),
        ("Job ID", reg.get("JobID", "")),
        ("Alloc ID", reg.get("AllocID", "")),
        ("Node ID", reg.get("NodeID", "")),
        ("Datacenter", reg.get("Datacenter", "")),
        ("Address", f"{reg.get('Address', '')}:{reg.get('Port', 0)}"),
        ("Tags", _tags(reg.get("Tags"))),
        ("Health", _health(reg)),
    ]
    if checks:
        pairs.append(
            ("Checks", ", ".join(f"{c.get('Name', '')}: {c.get('Status', '')}" for c in checks))
        )
    return pairs


def run_service_delete(ctx: Context) -> int:
    with reporting("Error deleting service registration"):
        ctx.client.delete_service(ctx.args.service, ctx.args.id)
    ctx.out("Successfully deleted service registration")
    return 0
