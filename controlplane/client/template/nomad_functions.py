"""The functions that read the task's world: `env` (the task's environment
only, as Nomad masks the client's), `nomadService(s)` (the native service
catalog) and `nomadVar*` (Nomad variables), plus the table of consul-template
functions nomadtui refuses, each with the reason shown to the job author.

Each takes the RenderContext first and records what it read in `ctx.deps`;
a variable that does not exist yet is recorded in `ctx.missing` and reads as
an empty map (the caller holds the first render back, as Nomad does).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .functions import text_arg
from .sources import RenderContext
from .values import NomadService, NomadServicesSnippet, NomadVarItems, NomadVarMeta

# consul-template's "<tag>.<name>?ns=<namespace>@<region>" service query
_SERVICE_QUERY = re.compile(
    r"\A(?:(?P<tag>[\w=:.\-]+)\.)?(?P<name>[\w\-]+)(?:\?ns=(?P<ns>[\w\-]+))?(?:@(?P<region>[\w.\-]+))?\Z"
)
# nomadVar "<path>@<namespace>.<region>"
_VAR_QUERY = re.compile(r"\A(?P<path>[^@]+)(?:@(?P<ns>[^.]+)(?:\.(?P<region>.+))?)?\Z")

_KV = "Consul KV is not available in nomadtui"
_CONSUL = "Consul is not available in nomadtui; use nomadService for the native service catalog"
_VAULT = "Vault is not available in nomadtui; use nomadVar for secrets"
_NOT_HERE = "not available in nomadtui"

UNSUPPORTED: dict[str, str] = {
    **dict.fromkeys(
        ("key", "keyExists", "keyOrDefault", "ls", "safeLs", "tree", "safeTree", "byKey"), _KV
    ),
    **dict.fromkeys(("explode", "explodeMap"), _KV),
    **dict.fromkeys(
        (
            "service",
            "services",
            "connect",
            "node",
            "nodes",
            "datacenters",
            "caLeaf",
            "caRoots",
            "caRoot",
            "partitions",
            "peerings",
            "exportedServices",
            "importedServices",
        ),
        _CONSUL,
    ),
    **dict.fromkeys(("secret", "secrets", "pkiCert", "vault"), _VAULT),
    "sockaddr": "go-sockaddr interface queries are " + _NOT_HERE,
    "file": "reading client files from templates is " + _NOT_HERE,
    "writeToFile": "writing files from templates is " + _NOT_HERE,
    "plugin": "template plugins are " + _NOT_HERE,
    "executeTemplate": _NOT_HERE + "; use {{ template }}",
    "scratch": "the scratch pad is " + _NOT_HERE,
    "parseYAML": "YAML functions are " + _NOT_HERE,
    "toYAML": "YAML functions are " + _NOT_HERE,
    "toTOML": "TOML functions are " + _NOT_HERE,
    "spew_dump": "debugging functions are " + _NOT_HERE,
    "spew_printf": "debugging functions are " + _NOT_HERE,
    "call": "function values do not exist in nomadtui templates",
    "nomadVarListSafe": _NOT_HERE + "; use nomadVarList",
}


def is_unsupported(name: str) -> str | None:
    """The refusal reason for `name`, or None (Sprig's functions included)."""
    if name.startswith("sprig_"):
        return "Sprig functions are " + _NOT_HERE
    return UNSUPPORTED.get(name)


# ---- environment ---------------------------------------------------------


def env(ctx: RenderContext, name: Any) -> str:
    return ctx.env.get(text_arg(name), "")


def must_env(ctx: RenderContext, name: Any) -> str:
    key = text_arg(name)
    if key not in ctx.env:
        raise ValueError(f"mustEnv: environment variable not set: {key}")
    return ctx.env[key]


def env_or_default(ctx: RenderContext, name: Any, default: Any) -> str:
    value = ctx.env.get(text_arg(name), "")
    return value if value != "" else text_arg(default)


# ---- services ------------------------------------------------------------


def _service(reg: dict[str, Any]) -> NomadService:
    return NomadService(
        ID=reg.get("ID", ""),
        Name=reg.get("ServiceName", ""),
        Node=reg.get("NodeID", ""),
        Address=reg.get("Address", ""),
        Port=int(reg.get("Port", 0) or 0),
        Datacenter=reg.get("Datacenter", ""),
        Tags=sorted(reg.get("Tags") or []),
        JobID=reg.get("JobID", ""),
        AllocID=reg.get("AllocID", ""),
    )


def nomad_service(ctx: RenderContext, *args: Any) -> list[NomadService]:
    """`nomadService "[tag.]name[?ns=x][@region]"` or, load-balanced over a
    subset, `nomadService COUNT "hash-key" "name"`."""
    choose = ""
    if len(args) == 3:
        count, key = args[0], text_arg(args[1])
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("nomadService: count must be a positive integer")
        choose = f"{count}|{key}"
        query = text_arg(args[2])
    elif len(args) == 1:
        query = text_arg(args[0])
    else:
        raise ValueError(f"nomadService: expected 1 or 3 arguments, got {len(args)}")
    m = _SERVICE_QUERY.match(query)
    if m is None:
        raise ValueError(f"nomad.service: invalid format: {query!r}")
    ns = m["ns"] or ctx.namespace
    ctx.deps.add(f"nomad.service({query}{':' + choose if choose else ''})")
    regs = ctx.require_source("nomadService").list_services(ns, m["name"], choose)
    tag = m["tag"]
    services = [_service(r) for r in regs if not tag or tag in (r.get("Tags") or [])]
    # consul-template sorts stably by name only: keep the catalog's order otherwise
    return sorted(services, key=lambda s: str(s.Name))


def nomad_services(ctx: RenderContext, *args: Any) -> list[NomadServicesSnippet]:
    ns = ctx.namespace
    if args:
        query = text_arg(args[0])
        ns = query.removeprefix("?ns=").split("@", 1)[0] or ns
    ctx.deps.add(f"nomad.services({ns})")
    names = ctx.require_source("nomadServices").service_names(ns)
    return [
        NomadServicesSnippet(Name=n.get("ServiceName", ""), Tags=sorted(n.get("Tags") or []))
        for n in sorted(names, key=lambda n: str(n.get("ServiceName", "")))
    ]


# ---- variables -----------------------------------------------------------


def _meta(var: dict[str, Any]) -> NomadVarMeta:
    return NomadVarMeta(
        Namespace=var.get("Namespace", ""),
        Path=var.get("Path", ""),
        CreateIndex=var.get("CreateIndex", 0),
        ModifyIndex=var.get("ModifyIndex", 0),
        CreateTime=var.get("CreateTime", 0),
        ModifyTime=var.get("ModifyTime", 0),
    )


def _var_query(ctx: RenderContext, query: str) -> tuple[str, str, str]:
    m = _VAR_QUERY.match(query)
    if m is None:
        raise ValueError(f"nomad.var: invalid format: {query!r}")
    return m["path"], m["ns"] or ctx.namespace, m["region"] or ctx.region


def nomad_var(ctx: RenderContext, query: Any) -> NomadVarItems:
    path, ns, region = _var_query(ctx, text_arg(query))
    dep = f"nomad.var.block({path}@{ns}.{region})"
    ctx.deps.add(dep)
    var = ctx.require_source("nomadVar").get_variable(ns, path)
    if var is None:
        ctx.missing.append(dep)
        return NomadVarItems({})
    return NomadVarItems(var.get("Items") or {}, _meta(var))


def nomad_var_exists(ctx: RenderContext, query: Any) -> bool:
    path, ns, region = _var_query(ctx, text_arg(query))
    ctx.deps.add(f"nomad.var.get({path}@{ns}.{region})")
    return ctx.require_source("nomadVarExists").get_variable(ns, path) is not None


def nomad_var_list(ctx: RenderContext, *args: Any) -> list[NomadVarMeta]:
    prefix, ns = "", ctx.namespace
    if args:
        m = _VAR_QUERY.match(text_arg(args[0]) or "/")
        if m is None:
            raise ValueError(f"nomad.var.list: invalid format: {args[0]!r}")
        prefix = "" if m["path"] == "/" else m["path"]
        ns = m["ns"] or ns
    ctx.deps.add(f"nomad.var.list({prefix}@{ns})")
    metas = ctx.require_source("nomadVarList").list_variables(ns, prefix)
    return [_meta(v) for v in sorted(metas, key=lambda v: str(v.get("Path", "")))]


CONTEXT_FUNCS: dict[str, Callable[..., Any]] = {
    "env": env,
    "envOrDefault": env_or_default,
    "mustEnv": must_env,
    "nomadService": nomad_service,
    "nomadServices": nomad_services,
    "nomadVar": nomad_var,
    "nomadVarExists": nomad_var_exists,
    "nomadVarList": nomad_var_list,
}
