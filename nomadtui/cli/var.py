"""`var put|get|list|purge`: Nomad Variables from the command line.

As Nomad's: `put PATH k=v ...` replaces the variable's items; a whole
specification comes from `@file` or `-` (stdin; `-in json|hcl`), and an
item value from `k=@file` or `k=-`. A specification's ModifyIndex makes the
put a check-and-set unless `-force`; `-check-index N` sets one explicitly.
A check-and-set conflict is reported with the server's current index.
Talks to /v1/var(s) only, never to the control plane's internals.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from controlplane.errors import Conflict
from nomadtui.client import one_line

from . import format as fmt
from .context import CommandError, Context, reporting

_HCL_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, with_comments=False
)
OUT_FORMATS = ("json", "table", "none")


# -- reading input -------------------------------------------------------------
def _read_text(ctx: Context, ref: str) -> str:
    """`-`: stdin; `@path`: that file."""
    if ref == "-":
        return str(ctx.runtime.stdin.read())
    try:
        return Path(ref[1:]).read_text(encoding="utf-8")
    except OSError as err:
        raise CommandError(f"Error reading file {ref[1:]!r}: {err.strerror or err}") from err


def parse_spec(text: str, fmt_in: str) -> dict[str, Any]:
    """A variable specification (Nomad's JSON or HCL form) as the API's JSON."""
    if fmt_in == "json" or (fmt_in == "" and text.lstrip().startswith("{")):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise CommandError(f"Error parsing variable specification: {err}") from None
        if not isinstance(data, dict):
            raise CommandError("Error parsing variable specification: expected a JSON object")
        return data
    try:
        body = hcl2.loads(text, serialization_options=_HCL_OPTIONS)
    except Exception as err:  # python-hcl2 raises lark errors of many kinds
        raise CommandError(f"Error parsing variable specification: {one_line(str(err))}") from None
    items = body.get("items") or {}
    if isinstance(items, list):  # a block may come back as a list of one
        items = items[0] if items else {}
    spec: dict[str, Any] = {"Items": {str(k): str(v) for k, v in items.items()}}
    for key, wire in (("path", "Path"), ("namespace", "Namespace")):
        if body.get(key):
            spec[wire] = str(body[key])
    return spec


def _is_ref(arg: str) -> bool:
    return arg == "-" or arg.startswith("@")


def _item(ctx: Context, arg: str) -> tuple[str, str]:
    key, sep, value = arg.partition("=")
    if not sep or not key:
        raise CommandError(f"Error parsing item {arg!r}: expected key=value")
    if _is_ref(value):
        value = _read_text(ctx, value)
    return key, value


# -- put -----------------------------------------------------------------------------
def run_var_put(ctx: Context) -> int:
    args: list[str] = list(ctx.args.args)
    if not args:
        raise CommandError("Not enough arguments (expected a path or a specification)")
    spec: dict[str, Any] = {}
    path = ""
    if _is_ref(args[0]):
        spec = parse_spec(_read_text(ctx, args.pop(0)), ctx.args.in_format)
    else:
        path = args.pop(0)
        if args and _is_ref(args[0]):
            spec = parse_spec(_read_text(ctx, args.pop(0)), ctx.args.in_format)
    path = path or str(spec.get("Path") or "")
    if not path:
        raise CommandError("Error: no path given and the specification names none")
    items = {str(k): str(v) for k, v in (spec.get("Items") or {}).items()}
    items.update(_item(ctx, a) for a in args)
    body: dict[str, Any] = {"Path": path, "Items": items}
    params: dict[str, Any] = {}
    if spec.get("Namespace") and not getattr(ctx.args, "namespace", None):
        params["namespace"] = spec["Namespace"]
    check = ctx.args.check_index
    if check is None and not ctx.args.force and spec.get("ModifyIndex"):
        check = int(spec["ModifyIndex"])
    if check is not None and not ctx.args.force:
        params["cas"] = check
    with reporting("Error creating variable"):
        try:
            resp = ctx.client.put(f"/v1/var/{path}", body, params)
        except Conflict as err:
            raise CommandError(_conflict_line(err, check)) from err
    var: dict[str, Any] = resp.data or {}
    verb = "Updated" if var.get("CreateIndex") != var.get("ModifyIndex") else "Created"
    if ctx.args.out == "none":
        ctx.out(f'{verb} variable "{path}" with modify index {var.get("ModifyIndex", 0)}')
        return 0
    ctx.out(f'Successfully {verb.lower()} variable "{path}"!\n')
    _print_var(ctx, var, ctx.args.out)
    return 0


def _conflict_line(err: Conflict, check: int | None) -> str:
    try:
        current = json.loads(err.message)
    except ValueError:
        return f"Error: {one_line(err.message)}"
    have = current.get("ModifyIndex", 0)
    if not have:
        return (
            f"Check-and-Set conflict: your provided check-index ({check}) does not match "
            "the server-side index (the variable does not exist); add -force or -check-index=0"
        )
    when = fmt.format_unix_nano(current.get("ModifyTime"))
    return (
        f"Check-and-Set conflict: your provided check-index ({check}) does not match the "
        f"server-side index ({have}), last updated on {when}; if you are sure, add -force "
        f"or -check-index={have} before the positional arguments"
    )


# -- get -----------------------------------------------------------------------------
def run_var_get(ctx: Context) -> int:
    path: str = ctx.args.path
    with reporting("Error retrieving variable"):
        var: dict[str, Any] = ctx.client.get(f"/v1/var/{path}").data or {}
    if ctx.args.item:
        items = var.get("Items") or {}
        if ctx.args.item not in items:
            raise CommandError(f"Variable does not contain {ctx.args.item!r} item")
        ctx.out(str(items[ctx.args.item]))
        return 0
    _print_var(ctx, var, ctx.args.out)
    return 0


def _print_var(ctx: Context, var: dict[str, Any], out: str) -> None:
    if out == "json":
        ctx.out(json.dumps(var, indent=2))
        return
    ctx.out(
        fmt.kv(
            [
                ("Namespace", var.get("Namespace", "")),
                ("Path", var.get("Path", "")),
                ("Create Time", fmt.format_unix_nano(var.get("CreateTime"))),
                ("Check Index", var.get("ModifyIndex", 0)),
            ]
        )
    )
    ctx.out()
    ctx.title("Items")
    items = var.get("Items") or {}
    ctx.out(fmt.kv(sorted(items.items())) if items else "<none>")


# -- list ----------------------------------------------------------------------------
def run_var_list(ctx: Context) -> int:
    prefix = ctx.args.prefix_arg or ctx.args.prefix or ""
    with reporting("Error retrieving vars"):
        metas: list[dict[str, Any]] = ctx.client.get("/v1/vars", {"prefix": prefix}).data or []
    if ctx.args.out == "json":
        ctx.out(json.dumps(metas, indent=2))
        return 0
    if not metas:
        ctx.out("No matching variables found" if prefix else "No variables found")
        return 0
    rows = [["Namespace", "Path", "Last Updated"]]
    rows += [
        [m.get("Namespace", ""), m.get("Path", ""), fmt.format_unix_nano(m.get("ModifyTime"))]
        for m in metas
    ]
    ctx.out(fmt.columnize(rows))
    return 0


# -- purge ---------------------------------------------------------------------------
def run_var_purge(ctx: Context) -> int:
    path: str = ctx.args.path
    params = {"cas": ctx.args.check_index} if ctx.args.check_index is not None else None
    with reporting("Error purging variable"):
        try:
            ctx.client.delete(f"/v1/var/{path}", params)
        except Conflict as err:
            raise CommandError(_conflict_line(err, ctx.args.check_index)) from err
    ctx.out(f'Successfully purged variable "{path}"!')
    return 0
