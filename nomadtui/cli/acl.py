"""`acl bootstrap`, `acl policy apply|list|info|delete`, `acl token
create|list|info|self|update|delete` (API.md §2.10).

Output follows Nomad's commands: tokens as `Accessor ID = ...` blocks,
policies and tokens listed as tables, one-line confirmations for writes.
Secrets are printed only where Nomad prints them (a token's own details).
"""

from __future__ import annotations

from typing import Any

from . import format as fmt
from .context import CommandError, Context, reporting
from .parsing import Tree, flag


def _go_list(values: list[str] | None) -> str:
    """A string slice as Go's %v prints it: `[a b]`."""
    return "[" + " ".join(values or []) + "]"


def format_token(token: dict[str, Any]) -> str:
    return fmt.kv(
        [
            ("Accessor ID", token.get("AccessorID", "")),
            ("Secret ID", token.get("SecretID", "")),
            ("Name", token.get("Name", "")),
            ("Type", token.get("Type", "")),
            ("Global", str(bool(token.get("Global"))).lower()),
            ("Create Time", token.get("CreateTime", "")),
            ("Expiry Time", token.get("ExpirationTime") or fmt.EMPTY),
            ("Create Index", token.get("CreateIndex", 0)),
            ("Modify Index", token.get("ModifyIndex", 0)),
            ("Policies", _go_list(token.get("Policies"))),
        ]
    )


# -- bootstrap ----------------------------------------------------------------------


def run_acl_bootstrap(ctx: Context) -> int:
    body: dict[str, Any] = {}
    if ctx.args.file:
        body["BootstrapSecret"] = ctx.read_input(ctx.args.file, "Error reading policy file").strip()
    with reporting("Error bootstrapping"):
        token = ctx.client.put("/v1/acl/bootstrap", body or None).data
    ctx.out(format_token(token))
    return 0


# -- policies -----------------------------------------------------------------------


def run_policy_apply(ctx: Context) -> int:
    name = ctx.args.name
    rules = ctx.read_input(ctx.args.file, "Error reading policy file")
    body = {"Name": name, "Description": ctx.args.description or "", "Rules": rules}
    with reporting("Error writing ACL policy"):
        ctx.client.put(f"/v1/acl/policy/{name}", body)
    ctx.out(f'Successfully wrote "{name}" ACL policy!')
    return 0


def run_policy_list(ctx: Context) -> int:
    with reporting("Error listing ACL policies"):
        policies: list[dict[str, Any]] = ctx.client.get("/v1/acl/policies").data or []
    if not policies:
        ctx.out("No policies found")
        return 0
    rows: list[list[object]] = [["Name", "Description"]]
    rows += [[p.get("Name", ""), p.get("Description", "")] for p in policies]
    ctx.out(fmt.columnize(rows))
    return 0


def run_policy_info(ctx: Context) -> int:
    with reporting("Error reading ACL policy"):
        policy: dict[str, Any] = ctx.client.get(f"/v1/acl/policy/{ctx.args.name}").data
    ctx.out(
        fmt.kv(
            [
                ("Name", policy.get("Name", "")),
                ("Description", policy.get("Description", "")),
                ("CreateIndex", policy.get("CreateIndex", 0)),
                ("ModifyIndex", policy.get("ModifyIndex", 0)),
            ]
        )
    )
    ctx.out("")
    ctx.out("Rules:")
    ctx.out("")
    ctx.out(policy.get("Rules", "").rstrip("\n"))
    return 0


def run_policy_delete(ctx: Context) -> int:
    name = ctx.args.name
    with reporting("Error deleting ACL policy"):
        ctx.client.delete(f"/v1/acl/policy/{name}")
    ctx.out(f'Successfully deleted "{name}" ACL policy!')
    return 0


# -- tokens -------------------------------------------------------------------------


def _token_type(ctx: Context) -> str:
    kind = ctx.args.type or "client"
    if kind not in ("client", "management"):
        raise CommandError(f"Error: token type must be client or management, not {kind!r}")
    return str(kind)


def run_token_create(ctx: Context) -> int:
    body: dict[str, Any] = {
        "Name": ctx.args.name or "",
        "Type": _token_type(ctx),
        "Policies": ctx.args.policy or [],
        "Global": bool(ctx.args.global_),
    }
    if ctx.args.ttl:
        body["ExpirationTTL"] = ctx.args.ttl
    with reporting("Error creating token"):
        token = ctx.client.put("/v1/acl/token", body).data
    ctx.out(format_token(token))
    return 0


def run_token_update(ctx: Context) -> int:
    accessor = ctx.args.accessor
    with reporting("Error fetching token"):
        token: dict[str, Any] = ctx.client.get(f"/v1/acl/token/{accessor}").data
    if ctx.args.name is not None:
        token["Name"] = ctx.args.name
    if ctx.args.type is not None:
        token["Type"] = _token_type(ctx)
    if ctx.args.policy:
        token["Policies"] = ctx.args.policy
    if token.get("Type") == "management":
        token["Policies"] = None
    token.pop("SecretID", None)
    with reporting("Error updating token"):
        updated = ctx.client.put(f"/v1/acl/token/{accessor}", token).data
    ctx.out(format_token(updated))
    return 0


def run_token_list(ctx: Context) -> int:
    with reporting("Error listing tokens"):
        tokens: list[dict[str, Any]] = ctx.client.get("/v1/acl/tokens").data or []
    if not tokens:
        ctx.out("No tokens found")
        return 0
    now = ctx.now()
    rows: list[list[object]] = [["Name", "Type", "Global", "Accessor ID", "Expired"]]
    for t in tokens:
        expiry = fmt.from_rfc3339(t.get("ExpirationTime"))
        expired = expiry is not None and expiry <= now
        rows.append(
            [
                t.get("Name", ""),
                t.get("Type", ""),
                str(bool(t.get("Global"))).lower(),
                t.get("AccessorID", ""),
                str(expired).lower(),
            ]
        )
    ctx.out(fmt.columnize(rows))
    return 0


def run_token_info(ctx: Context) -> int:
    with reporting("Error fetching token"):
        token = ctx.client.get(f"/v1/acl/token/{ctx.args.accessor}").data
    ctx.out(format_token(token))
    return 0


def run_token_self(ctx: Context) -> int:
    with reporting("Error fetching self token"):
        token = ctx.client.get("/v1/acl/token/self").data
    ctx.out(format_token(token))
    return 0


def run_token_delete(ctx: Context) -> int:
    accessor = ctx.args.accessor
    with reporting("Error deleting token"):
        ctx.client.delete(f"/v1/acl/token/{accessor}")
    ctx.out(f"Token {accessor} successfully deleted")
    return 0


# -- command tree ----------------------------------------------------------------------


def register(tree: Tree, subs: Any) -> None:
    """The `acl` command group (called from main.build_parser)."""
    acls = tree.group(subs, "acl", "ACL commands: bootstrap, policy, token")
    p = tree.command(
        acls,
        "bootstrap",
        "create the initial management token",
        run_acl_bootstrap,
        "Create the cluster's first management token (once; a second bootstrap is refused).",
    )
    p.add_argument("file", nargs="?", help="file holding the secret to use (a UUID), '-' stdin")

    policies = tree.group(acls, "policy", "ACL policy commands: apply, list, info, delete")
    p = tree.command(policies, "apply", "create or update a policy", run_policy_apply)
    flag(p, "description", metavar="TEXT", default="", help="the policy's description")
    p.add_argument("name", metavar="NAME", help="policy name")
    p.add_argument("file", metavar="FILE", help="rules file (HCL or JSON), '-' for stdin")
    tree.command(policies, "list", "list policies", run_policy_list)
    for name, summary, handler in (
        ("info", "show one policy and its rules", run_policy_info),
        ("delete", "delete a policy", run_policy_delete),
    ):
        p = tree.command(policies, name, summary, handler)
        p.add_argument("name", metavar="NAME", help="policy name")

    tokens = tree.group(
        acls, "token", "ACL token commands: create, list, info, self, update, delete"
    )
    p = tree.command(tokens, "create", "create a token", run_token_create)
    _token_flags(p, create=True)
    tree.command(tokens, "list", "list tokens (no secrets)", run_token_list)
    tree.command(tokens, "self", "show the token in use", run_token_self)
    p = tree.command(tokens, "update", "change a token's name, type or policies", run_token_update)
    _token_flags(p, create=False)
    p.add_argument("accessor", metavar="ACCESSOR", help="token accessor ID")
    for name, summary, handler in (
        ("info", "show one token", run_token_info),
        ("delete", "delete a token", run_token_delete),
    ):
        p = tree.command(tokens, name, summary, handler)
        p.add_argument("accessor", metavar="ACCESSOR", help="token accessor ID")


def _token_flags(p: Any, create: bool) -> None:
    flag(p, "name", metavar="NAME", default="" if create else None, help="token name")
    flag(
        p,
        "type",
        metavar="client|management",
        default="client" if create else None,
        help="token type (default client)",
    )
    flag(p, "policy", metavar="NAME", action="append", help="policy to attach (repeatable)")
    if create:
        p.add_argument(
            "-global", "--global", dest="global_", action="store_true", help="a global token"
        )
        flag(p, "ttl", metavar="DURATION", default="", help="expire after this long (1h)")
